//go:build !lambda

package main

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dynamotypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/Phenom-earth/phenom-mailer/internal/doctor"
	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// The doctor's delivery checks against moto (DynamoDB, SQS, CloudWatch, and
// SES behind the stand-in's proxy, which emulates what moto lacks: the
// suppression attributes (suppression.go) and the configuration set's event
// destinations (eventdest.go)).

// eventDestinations gives configuration set set the SNS event destinations
// dests, through the SDK and the SES stand-in, and returns the stand-in's
// URL (the mailer's SES endpoint).
func eventDestinations(t *testing.T, set string, dests []*sestypes.EventDestinationDefinition) string {
	t.Helper()
	for i, d := range dests {
		if _, err := motoStandin.SESClient().CreateConfigurationSetEventDestination(context.Background(), &sesv2.CreateConfigurationSetEventDestinationInput{
			ConfigurationSetName: aws.String(set),
			EventDestinationName: aws.String(fmt.Sprintf("phenom-events-%d", i)),
			EventDestination:     d,
		}); err != nil {
			t.Fatal(err)
		}
	}
	return motoStandin.URL
}

func snsDestination(types ...string) *sestypes.EventDestinationDefinition {
	d := &sestypes.EventDestinationDefinition{
		Enabled:        true,
		SnsDestination: &sestypes.SnsDestination{TopicArn: aws.String("arn:aws:sns:us-east-1:123456789012:phenom-dev-ses-events")},
	}
	for _, ty := range types {
		d.MatchingEventTypes = append(d.MatchingEventTypes, sestypes.EventType(ty))
	}
	return d
}

var allEventTypes = []string{"SEND", "DELIVERY", "BOUNCE", "COMPLAINT", "REJECT", "DELIVERY_DELAY", "RENDERING_FAILURE"}

func testCfg() aws.Config {
	return aws.Config{
		Region:       standin.Region,
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(motoStandin.URL),
	}
}

// createDeliveryTable creates the contract's delivery table on moto; with
// good false, the index has the wrong sort key and TTL is off.
func createDeliveryTable(t *testing.T, name string, good bool) {
	t.Helper()
	ctx := context.Background()
	db := dynamodb.NewFromConfig(testCfg())
	idxSort := "sk"
	if !good {
		idxSort = "at"
	}
	s := func(n string) dynamotypes.AttributeDefinition {
		return dynamotypes.AttributeDefinition{AttributeName: aws.String(n), AttributeType: dynamotypes.ScalarAttributeTypeS}
	}
	defs := []dynamotypes.AttributeDefinition{s("pk"), s("sk"), s("recipient")}
	if !good {
		defs = append(defs, s("at"))
	}
	key := func(h, r string) []dynamotypes.KeySchemaElement {
		return []dynamotypes.KeySchemaElement{{AttributeName: aws.String(h), KeyType: dynamotypes.KeyTypeHash}, {AttributeName: aws.String(r), KeyType: dynamotypes.KeyTypeRange}}
	}
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: defs,
		KeySchema:            key("pk", "sk"),
		BillingMode:          dynamotypes.BillingModePayPerRequest,
		GlobalSecondaryIndexes: []dynamotypes.GlobalSecondaryIndex{{
			IndexName: aws.String("by-recipient"), KeySchema: key("recipient", idxSort),
			Projection: &dynamotypes.Projection{ProjectionType: dynamotypes.ProjectionTypeAll},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if good {
		if _, err := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(name),
			TimeToLiveSpecification: &dynamotypes.TimeToLiveSpecification{AttributeName: aws.String("expires_at"), Enabled: aws.Bool(true)}}); err != nil {
			t.Fatal(err)
		}
	}
}

// createQueue creates a queue holding messages failed Cognito events.
func createQueue(t *testing.T, name string, messages int) string {
	t.Helper()
	// Shaped like a failed Cognito event: the body must never be read out.
	return createQueueWith(t, name, `{"requestPayload":{"request":{"userAttributes":{"email":"qa+reset@thephenom.app"}}}}`, messages)
}

// sendRequestBody is a send request as it waits in the send dead-letter
// queue: the doctor must never read it out.
const sendRequestBody = `{"template":"notice","to":"qa+send@thephenom.app","data":{"subject":"Export ready","heading":"Export ready","paragraphs":["Your dossier export finished."]},"tags":{"service":"ops"}}`

// createQueueWith creates a queue holding messages copies of body.
func createQueueWith(t *testing.T, name, body string, messages int) string {
	t.Helper()
	ctx := context.Background()
	q := sqs.NewFromConfig(testCfg())
	out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < messages; i++ {
		if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: out.QueueUrl, MessageBody: aws.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	return *out.QueueUrl
}

// queueCounts are the messages in the queue: visible, and received but not
// yet visible again.
func queueCounts(t *testing.T, url string) (visible, inflight int) {
	t.Helper()
	out, err := sqs.NewFromConfig(testCfg()).GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl:       &url,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible},
	})
	if err != nil {
		t.Fatal(err)
	}
	visible, _ = strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
	inflight, _ = strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	return visible, inflight
}

func putAlarms(t *testing.T, prefix string, suffixes []string) {
	t.Helper()
	cw := newCloudWatch(testCfg())
	for _, s := range suffixes {
		_, err := cw.PutMetricAlarm(context.Background(), &cloudwatch.PutMetricAlarmInput{
			AlarmName: aws.String(prefix + s), Namespace: aws.String("Phenom/Mailer"), MetricName: aws.String("Invocations"),
			Dimensions:         []cwtypes.Dimension{{Name: aws.String("Outcome"), Value: aws.String(s)}},
			Statistic:          cwtypes.StatisticSum,
			Period:             aws.Int32(300),
			EvaluationPeriods:  aws.Int32(1),
			Threshold:          aws.Float64(1),
			ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold,
		})
		if err != nil {
			t.Fatalf("PutMetricAlarm %s: %v", s, err)
		}
	}
}

var doctorSeq int

// deliveryEnv sets up moto for the delivery checks and returns the
// mailer's extra environment. With send, the deployment has the send
// service (issue 12): its dead-letter queue (MAILER_SEND_DLQ_URL) and its
// two alarms; healthy false puts two requests in that queue and leaves out
// its send-errors alarm.
func deliveryEnv(t *testing.T, healthy, send bool) map[string]string {
	t.Helper()
	fs := newFaultStack(t, true, nil)
	doctorSeq++
	n := doctorSeq
	ctx := context.Background()
	if _, err := motoStandin.SESClient().CreateConfigurationSet(ctx, &sesv2.CreateConfigurationSetInput{ConfigurationSetName: aws.String("phenom-mail")}); err != nil {
		t.Fatal(err)
	}
	table := fmt.Sprintf("phenom-test%d-deliveries", n)
	createDeliveryTable(t, table, healthy)
	prefix := fmt.Sprintf("phenom-test%d-", n)
	types := allEventTypes
	msgs := 0
	alarms := doctor.AlarmSuffixes
	sendAlarms := doctor.SendAlarmSuffixes
	if !healthy {
		types = []string{"SEND", "DELIVERY", "BOUNCE"}
		msgs = 2
		alarms = alarms[:4]
		sendAlarms = []string{"send-dlq"}
		if _, err := motoStandin.SESClient().PutAccountSuppressionAttributes(ctx, &sesv2.PutAccountSuppressionAttributesInput{
			SuppressedReasons: []sestypes.SuppressionListReason{sestypes.SuppressionListReasonBounce},
		}); err != nil {
			t.Fatal(err)
		}
	}
	sendDLQ := ""
	if send {
		alarms = slices.Concat(alarms, sendAlarms)
		sendDLQ = createQueueWith(t, fmt.Sprintf("phenom-test%d-send-dlq", n), sendRequestBody, msgs)
	}
	putAlarms(t, prefix, alarms)
	return map[string]string{
		"AWS_ENDPOINT_URL_DYNAMODB":      motoStandin.URL,
		"AWS_ENDPOINT_URL_SQS":           motoStandin.URL,
		"AWS_ENDPOINT_URL_CLOUDWATCH":    motoStandin.URL,
		"AWS_ENDPOINT_URL_SESV2":         eventDestinations(t, "phenom-mail", []*sestypes.EventDestinationDefinition{snsDestination(types...)}),
		"MAILER_IDEMPOTENCY_TABLE":       fs.table,
		"MAILER_CONFIGURATION_SET":       "phenom-mail",
		"MAILER_DELIVERY_TABLE":          table,
		"MAILER_EVENTS_DLQ_URL":          createQueue(t, fmt.Sprintf("phenom-test%d-ses-events-dlq", n), 0),
		"MAILER_FAILED_EVENTS_QUEUE_URL": createQueue(t, fmt.Sprintf("phenom-test%d-failed-events", n), msgs),
		"MAILER_SEND_DLQ_URL":            sendDLQ,
		"MAILER_ALARM_PREFIX":            prefix,
	}
}

func checkOf(rep doctor.Report, name string) doctor.Check {
	for _, c := range rep.Checks {
		if c.Name == name {
			return c
		}
	}
	return doctor.Check{Status: "missing"}
}

var deliveryChecks = []string{"ses event destination", "ses suppression list", "delivery table", "delivery ttl", "events dlq", "failed events", "send dlq", "alarms"}

func TestDoctorDeliveryHealthy(t *testing.T) {
	mailerEnv(t, deliveryEnv(t, true, true))
	rep, _, code := runDoctorTest(t, "--json")
	for _, name := range deliveryChecks {
		if c := checkOf(rep, name); c.Status != doctor.OK {
			t.Errorf("%s: %s (%s)", name, c.Status, c.Detail)
		}
	}
	if code != 0 || !rep.OK {
		t.Fatalf("exit %d, report %s", code, mustJSON(t, rep))
	}
	_, table, _ := runDoctorTest(t)
	for _, want := range []string{"ses event destination", "publishes the 7 event types to SNS", "all 9 alarms exist", "-failed-events is empty", "-send-dlq is empty"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

// TestDoctorDeliveryWithoutSendService: a deployment without the send
// service (enable_send_service = false: no send queues, no send alarms, no
// MAILER_SEND_DLQ_URL) passes; the report says the send service is not
// checked, and the alarms check asks for the seven alone.
func TestDoctorDeliveryWithoutSendService(t *testing.T) {
	mailerEnv(t, deliveryEnv(t, true, false))
	rep, _, code := runDoctorTest(t, "--json")
	if code != 0 || !rep.OK {
		t.Fatalf("exit %d, report %s", code, mustJSON(t, rep))
	}
	if c := checkOf(rep, "send dlq"); c.Status != doctor.Warn || !strings.Contains(c.Detail, "the send service is not checked") || c.Fix == "" {
		t.Errorf("send dlq: %+v, want a warning that the send service is not checked", c)
	}
	if c := checkOf(rep, "alarms"); c.Status != doctor.OK || c.Detail != "all 7 alarms exist, none in ALARM" {
		t.Errorf("alarms: %+v, want the seven alone", c)
	}
}

func TestDoctorDeliveryBroken(t *testing.T) {
	env := deliveryEnv(t, false, true)
	mailerEnv(t, env)
	rep, _, code := runDoctorTest(t, "--json")
	if code != exitSetup || rep.OK {
		t.Fatalf("exit %d for a broken delivery set-up", code)
	}
	want := map[string]string{
		"ses event destination": doctor.Fail, // three of seven types
		"ses suppression list":  doctor.Fail, // BOUNCE only
		"delivery table":        doctor.Fail, // index sort key
		"delivery ttl":          doctor.Fail, // off
		"events dlq":            doctor.OK,
		"failed events":         doctor.Warn, // two waiting
		"send dlq":              doctor.Warn, // two waiting
		"alarms":                doctor.Fail, // three of the seven and send-errors missing
	}
	for name, st := range want {
		c := checkOf(rep, name)
		if c.Status != st {
			t.Errorf("%s: %s (%s), want %s", name, c.Status, c.Detail, st)
		}
		if c.Status != doctor.OK && c.Fix == "" {
			t.Errorf("%s: no fix given", name)
		}
	}
	if d := checkOf(rep, "ses event destination").Detail; !strings.Contains(d, "COMPLAINT, REJECT, DELIVERY_DELAY, RENDERING_FAILURE") {
		t.Errorf("event destination detail does not name the missing types: %s", d)
	}
	if d := checkOf(rep, "ses suppression list").Detail; !strings.Contains(d, "COMPLAINT") {
		t.Errorf("suppression detail: %s", d)
	}
	if d := checkOf(rep, "failed events").Detail; !regexp.MustCompile(`holds 2 message\(s\), the oldest sent \d+s ago`).MatchString(d) {
		t.Errorf("failed events detail: %s", d)
	}
	if d := checkOf(rep, "send dlq").Detail; !regexp.MustCompile(`^phenom-test\d+-send-dlq holds 2 message\(s\), the oldest sent \d+s ago$`).MatchString(d) {
		t.Errorf("send dlq detail: %s", d)
	}
	if f := checkOf(rep, "send dlq").Fix; !strings.Contains(f, "docs/operations.md, Send dead letters") {
		t.Errorf("send dlq fix does not point at the playbook: %s", f)
	}
	if d := checkOf(rep, "alarms").Detail; !strings.Contains(d, "4 of 9 alarms missing") || !strings.Contains(d, "-complaint-rate") ||
		!strings.Contains(d, "-send-errors") || strings.Contains(d, "-send-dlq") {
		t.Errorf("alarms detail: %s", d)
	}
	_, table, _ := runDoctorTest(t)
	if !strings.Contains(table, "FAIL") || !strings.Contains(table, "put-account-suppression-attributes") {
		t.Errorf("table:\n%s", table)
	}
	assertNoSecrets(t, "doctor output", table+mustJSON(t, rep), "qa+reset@thephenom.app", "qa+send@thephenom.app")
	// The sampled messages stay in the queue, visible: the doctor peeks,
	// it neither deletes nor hides.
	if v, inflight := queueCounts(t, env["MAILER_SEND_DLQ_URL"]); v != 2 || inflight != 0 {
		t.Errorf("after the doctor the send dlq has %d visible and %d in flight, want 2 and 0", v, inflight)
	}
	rep, _, _ = runDoctorTest(t, "--json")
	for _, name := range []string{"failed events", "send dlq"} {
		if d := checkOf(rep, name).Detail; !strings.Contains(d, "holds 2 message(s)") {
			t.Errorf("%s after a second run: %s", name, d)
		}
	}
}

func TestDoctorDeliveryNotConfigured(t *testing.T) {
	fs := newFaultStack(t, true, nil)
	mailerEnv(t, map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": motoStandin.URL, "MAILER_IDEMPOTENCY_TABLE": fs.table, "MAILER_DELIVERY_TABLE": "", "MAILER_SEND_DLQ_URL": ""})
	rep, _, code := runDoctorTest(t, "--json")
	for _, name := range []string{"ses event destination", "delivery table", "events dlq", "failed events", "send dlq", "alarms"} {
		if c := checkOf(rep, name); c.Status != doctor.Warn {
			t.Errorf("%s: %s, want warn for an absent setting", name, c.Status)
		}
	}
	if c := checkOf(rep, "ses suppression list"); c.Status != doctor.OK {
		t.Errorf("suppression list: %s (%s)", c.Status, c.Detail)
	}
	if code != 0 || !rep.OK {
		t.Fatalf("an environment without the delivery features must pass: exit %d\n%s", code, mustJSON(t, rep))
	}
}
