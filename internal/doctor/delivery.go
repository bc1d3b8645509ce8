package doctor

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dynamotypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/Phenom-earth/phenom-mailer/internal/sqspeek"
)

// The delivery checks (issue 11): SES events reach the mailer, the
// account's suppression list is on, the delivery table is right, nothing
// waits in the dead-letter queues, and the alarms exist; and, when its
// dead-letter queue is named, the send service (issue 12). A check whose
// setting is absent is a warning, so an environment without the feature
// still passes.

// EventTypes are the SES event types the configuration set must publish.
var EventTypes = []sestypes.EventType{
	sestypes.EventTypeSend, sestypes.EventTypeDelivery, sestypes.EventTypeBounce, sestypes.EventTypeComplaint,
	sestypes.EventTypeReject, sestypes.EventTypeDeliveryDelay, sestypes.EventTypeRenderingFailure,
}

// AlarmSuffixes name the alarms deploy/terraform creates, after
// MAILER_ALARM_PREFIX.
var AlarmSuffixes = []string{"failed", "suppressed", "events-dlq", "failed-events", "events-errors", "bounce-rate", "complaint-rate"}

// SendAlarmSuffixes name the send service's alarms (issue 12), which
// deploy/terraform creates only with enable_send_service: the alarms check
// requires them when the send dead-letter queue is named (SendDLQURL).
var SendAlarmSuffixes = []string{"send-dlq", "send-errors"}

// SESEventsAPI is what the doctor asks SES about event destinations.
type SESEventsAPI interface {
	GetConfigurationSetEventDestinations(ctx context.Context, in *sesv2.GetConfigurationSetEventDestinationsInput, optFns ...func(*sesv2.Options)) (*sesv2.GetConfigurationSetEventDestinationsOutput, error)
}

// SQSAPI is what the doctor asks SQS about the dead-letter queues.
type SQSAPI interface {
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
}

// CloudWatchAPI is what the doctor asks CloudWatch about the alarms.
type CloudWatchAPI interface {
	DescribeAlarms(ctx context.Context, in *cloudwatch.DescribeAlarmsInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
}

// DeliveryConfig is what the delivery checks look at; empty names are
// settings that are absent.
type DeliveryConfig struct {
	DeliveryTable        string // MAILER_DELIVERY_TABLE
	EventsDLQURL         string // MAILER_EVENTS_DLQ_URL
	FailedEventsQueueURL string // MAILER_FAILED_EVENTS_QUEUE_URL
	// SendDLQURL names the send service's dead-letter queue; set, the send
	// service is checked (the queue, and SendAlarmSuffixes among the alarms).
	SendDLQURL  string // MAILER_SEND_DLQ_URL
	AlarmPrefix string // MAILER_ALARM_PREFIX
	SESEvents   SESEventsAPI
	SQS         SQSAPI
	CloudWatch  CloudWatchAPI
	// Now is the clock for message ages (time.Now when nil).
	Now func() time.Time
}

func delivery(ctx context.Context, c Config) []Check {
	d := c.Delivery
	var checks []Check
	checks = append(checks, eventDestination(ctx, d.SESEvents, c.ConfigurationSet))
	checks = append(checks, suppressionList(ctx, c.SES))
	checks = append(checks, deliveryTable(ctx, c.Dynamo, d.DeliveryTable)...)
	checks = append(checks, queue(ctx, d, "events dlq", "MAILER_EVENTS_DLQ_URL", d.EventsDLQURL,
		"SES events the events function could not record after 5 receives: read them, fix the cause, then redrive them to the events queue (docs/operations.md)"))
	checks = append(checks, queue(ctx, d, "failed events", "MAILER_FAILED_EVENTS_QUEUE_URL", d.FailedEventsQueueURL,
		"Cognito events that failed every attempt: those users got no mail; a code lives one hour, so tell them to ask again, then purge (docs/operations.md)"))
	checks = append(checks, sendDLQ(ctx, d))
	suffixes := AlarmSuffixes
	if d.SendDLQURL != "" {
		suffixes = slices.Concat(AlarmSuffixes, SendAlarmSuffixes)
	}
	checks = append(checks, alarms(ctx, d.CloudWatch, d.AlarmPrefix, suffixes))
	return checks
}

// sendDLQ checks the send service (issue 12) through its dead-letter queue,
// as the events dead-letter queue is checked. Without MAILER_SEND_DLQ_URL
// (a deployment without the send service has no such queue) it says the
// send service is not checked, a warning like every absent setting.
func sendDLQ(ctx context.Context, d DeliveryConfig) Check {
	const name, env = "send dlq", "MAILER_SEND_DLQ_URL"
	if d.SendDLQURL == "" {
		return Check{name, Warn, env + " is not set: the send service is not checked (its dead-letter queue, and the alarms " + strings.Join(SendAlarmSuffixes, " and ") + ")",
			"with the send service deployed, set " + env + " (deploy/terraform sets it on the function; output send_dlq_url); without it, nothing to do"}
	}
	return queue(ctx, d, name, env, d.SendDLQURL,
		"send requests of other services the send function failed on 5 times: no mail went out for them; read the send function's log for the reason, fix it, then redrive them to the send queue (docs/operations.md, Send dead letters)")
}

func eventDestination(ctx context.Context, ses SESEventsAPI, set string) Check {
	const name = "ses event destination"
	if set == "" {
		return Check{name, Warn, "MAILER_CONFIGURATION_SET is not set: SES events (bounces, complaints, deliveries) are not published", "create the configuration set with its event destination (deploy/terraform) and set MAILER_CONFIGURATION_SET"}
	}
	if ses == nil {
		return Check{name, Fail, "no SES client for event destinations", ""}
	}
	out, err := ses.GetConfigurationSetEventDestinations(ctx, &sesv2.GetConfigurationSetEventDestinationsInput{ConfigurationSetName: &set})
	if err != nil {
		fix := "check ses:GetConfigurationSetEventDestinations permission"
		if isCode(err, "NotFoundException") {
			fix = "create the configuration set (deploy/terraform) or correct MAILER_CONFIGURATION_SET"
		}
		return Check{name, Fail, set + ": GetConfigurationSetEventDestinations: " + short(err), fix}
	}
	best, bestMissing := "", EventTypes
	for _, d := range out.EventDestinations {
		if !d.Enabled || (d.SnsDestination == nil && d.EventBridgeDestination == nil) {
			continue
		}
		var missing []sestypes.EventType
		for _, want := range EventTypes {
			if !slices.Contains(d.MatchingEventTypes, want) {
				missing = append(missing, want)
			}
		}
		if len(missing) == 0 {
			kind := "SNS"
			if d.SnsDestination == nil {
				kind = "EventBridge"
			}
			return Check{Name: name, Status: OK, Detail: fmt.Sprintf("%s publishes the %d event types to %s (%s)", set, len(EventTypes), kind, deref(d.Name))}
		}
		if best == "" || len(missing) < len(bestMissing) {
			best, bestMissing = deref(d.Name), missing
		}
	}
	detail := set + " has no enabled SNS or EventBridge event destination"
	if best != "" {
		detail = fmt.Sprintf("%s: event destination %s does not publish %s", set, best, joinTypes(bestMissing))
	}
	return Check{name, Fail, detail, "publish " + joinTypes(EventTypes) + " to the events topic (deploy/terraform does); until then no bounce or complaint is recorded"}
}

func suppressionList(ctx context.Context, ses SESAPI) Check {
	const name = "ses suppression list"
	out, err := ses.GetAccount(ctx, &sesv2.GetAccountInput{})
	if err != nil {
		return Check{name, Fail, "GetAccount: " + short(err), "check ses:GetAccount permission"}
	}
	var have []sestypes.SuppressionListReason
	if out.SuppressionAttributes != nil {
		have = out.SuppressionAttributes.SuppressedReasons
	}
	var missing []string
	for _, want := range []sestypes.SuppressionListReason{sestypes.SuppressionListReasonBounce, sestypes.SuppressionListReasonComplaint} {
		if !slices.Contains(have, want) {
			missing = append(missing, string(want))
		}
	}
	if len(missing) > 0 {
		return Check{name, Fail, "the account-level suppression list does not cover " + strings.Join(missing, " and "),
			"aws sesv2 put-account-suppression-attributes --suppressed-reasons BOUNCE COMPLAINT (repeated sends to bad addresses raise the bounce and complaint rates SES judges the account by)"}
	}
	return Check{Name: name, Status: OK, Detail: "the account-level suppression list covers BOUNCE and COMPLAINT"}
}

func deliveryTable(ctx context.Context, db DynamoAPI, name string) []Check {
	if name == "" {
		return []Check{{"delivery table", Warn, "MAILER_DELIVERY_TABLE is not set: no delivery records, `mailer trace` has nothing to read", "create the table (deploy/terraform) and set MAILER_DELIVERY_TABLE"}}
	}
	if db == nil {
		return []Check{{"delivery table", Fail, "no DynamoDB client", ""}}
	}
	out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
	if err != nil {
		fix := "check dynamodb:DescribeTable permission and the region"
		if isCode(err, "ResourceNotFoundException") {
			fix = "create the table (deploy/terraform) or correct MAILER_DELIVERY_TABLE"
		}
		return []Check{{"delivery table", Fail, name + ": " + short(err), fix}}
	}
	t := out.Table
	var problems []string
	attr := map[string]dynamotypes.ScalarAttributeType{}
	for _, a := range t.AttributeDefinitions {
		attr[deref(a.AttributeName)] = a.AttributeType
	}
	keyProblems := func(what string, ks []dynamotypes.KeySchemaElement, hash, rangeKey string) {
		var h, r string
		for _, k := range ks {
			switch k.KeyType {
			case dynamotypes.KeyTypeHash:
				h = deref(k.AttributeName)
			case dynamotypes.KeyTypeRange:
				r = deref(k.AttributeName)
			}
		}
		if h != hash || r != rangeKey || attr[hash] != dynamotypes.ScalarAttributeTypeS || attr[rangeKey] != dynamotypes.ScalarAttributeTypeS {
			problems = append(problems, fmt.Sprintf("%s keys are %q/%q, want %s (S) and %s (S)", what, h, r, hash, rangeKey))
		}
	}
	keyProblems("table", t.KeySchema, "pk", "sk")
	var gsi *dynamotypes.GlobalSecondaryIndexDescription
	for i := range t.GlobalSecondaryIndexes {
		if deref(t.GlobalSecondaryIndexes[i].IndexName) == "by-recipient" {
			gsi = &t.GlobalSecondaryIndexes[i]
		}
	}
	if gsi == nil {
		problems = append(problems, "no global secondary index by-recipient")
	} else {
		keyProblems("index by-recipient", gsi.KeySchema, "recipient", "sk")
		if gsi.Projection == nil || gsi.Projection.ProjectionType != dynamotypes.ProjectionTypeAll {
			problems = append(problems, "index by-recipient does not project ALL")
		}
	}
	var checks []Check
	switch {
	case len(problems) > 0:
		checks = append(checks, Check{"delivery table", Fail, name + ": " + strings.Join(problems, "; "), "recreate it with the schema in the README (deploy/terraform creates it)"})
	case t.TableStatus != dynamotypes.TableStatusActive:
		checks = append(checks, Check{"delivery table", Fail, fmt.Sprintf("%s is %s", name, t.TableStatus), "wait for ACTIVE"})
	default:
		checks = append(checks, Check{Name: "delivery table", Status: OK, Detail: name + " is ACTIVE with pk/sk and index by-recipient"})
	}
	ttl, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: &name})
	switch {
	case err != nil:
		checks = append(checks, Check{"delivery ttl", Warn, "DescribeTimeToLive: " + short(err), "check dynamodb:DescribeTimeToLive permission"})
	case ttl.TimeToLiveDescription == nil || ttl.TimeToLiveDescription.TimeToLiveStatus != dynamotypes.TimeToLiveStatusEnabled ||
		deref(ttl.TimeToLiveDescription.AttributeName) != "expires_at":
		checks = append(checks, Check{"delivery ttl", Fail, "TTL on expires_at is not enabled: records (masked addresses, SES answers) are kept forever",
			"aws dynamodb update-time-to-live --table-name " + name + " --time-to-live-specification Enabled=true,AttributeName=expires_at"})
	default:
		checks = append(checks, Check{Name: "delivery ttl", Status: OK, Detail: "TTL on expires_at"})
	}
	return checks
}

// queue reports how many messages wait in a dead-letter queue and how old
// the oldest is. SQS has no attribute for the age (CloudWatch's
// ApproximateAgeOfOldestMessage is a metric, minutes late): the doctor
// peeks at up to 10 messages (sqspeek.Peek, shared with `mailer trace`:
// received, then made visible again at once) and reads their
// SentTimestamp. That is a sample, and it adds one to each sampled
// message's receive count; bodies are dropped unread.
func queue(ctx context.Context, d DeliveryConfig, name, env, url, meaning string) Check {
	if url == "" {
		return Check{name, Warn, env + " is not set: the queue is not watched", "set " + env + " (deploy/terraform outputs it)"}
	}
	if d.SQS == nil {
		return Check{name, Fail, "no SQS client", ""}
	}
	qname := url[strings.LastIndexByte(url, '/')+1:]
	out, err := d.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       &url,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible},
	})
	if err != nil {
		fix := "check sqs:GetQueueAttributes permission and the region"
		if isCode(err, "AWS.SimpleQueueService.NonExistentQueue") || isCode(err, "QueueDoesNotExist") {
			fix = "create the queue (deploy/terraform) or correct " + env
		}
		return Check{name, Fail, qname + ": " + short(err), fix}
	}
	visible, _ := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
	inflight, _ := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	if visible+inflight == 0 {
		return Check{Name: name, Status: OK, Detail: qname + " is empty"}
	}
	detail := fmt.Sprintf("%s holds %d message(s)", qname, visible+inflight)
	if age, ok := oldest(ctx, d, url); ok {
		detail += ", the oldest sent " + age + " ago"
	}
	return Check{name, Warn, detail, meaning}
}

func oldest(ctx context.Context, d DeliveryConfig, url string) (string, bool) {
	// One receive of up to 10 messages, bodies dropped (sqspeek).
	msgs, _ := sqspeek.Peek(ctx, d.SQS, url, 1, false) // an error leaves what was seen
	first, ok := sqspeek.Oldest(msgs)
	if !ok {
		return "", false
	}
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	age := now().Sub(first)
	if age < 0 {
		age = 0
	}
	return age.Round(time.Second).String(), true
}

// alarms checks that the alarms prefix+suffix exist, and names those in
// ALARM.
func alarms(ctx context.Context, cw CloudWatchAPI, prefix string, suffixes []string) Check {
	const name = "alarms"
	if prefix == "" {
		return Check{name, Warn, "MAILER_ALARM_PREFIX is not set: the alarms are not checked", "set MAILER_ALARM_PREFIX (deploy/terraform outputs it)"}
	}
	if cw == nil {
		return Check{name, Fail, "no CloudWatch client", ""}
	}
	found := map[string]cwtypes.StateValue{}
	in := &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: &prefix, AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm}}
	p := cloudwatch.NewDescribeAlarmsPaginator(cw, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return Check{name, Fail, "DescribeAlarms: " + short(err), "check cloudwatch:DescribeAlarms permission"}
		}
		for _, a := range page.MetricAlarms {
			found[deref(a.AlarmName)] = a.StateValue
		}
	}
	var missing, firing []string
	fix := "apply deploy/terraform, or correct MAILER_ALARM_PREFIX"
	for _, s := range suffixes {
		state, ok := found[prefix+s]
		switch {
		case !ok:
			missing = append(missing, prefix+s)
			if slices.Contains(SendAlarmSuffixes, s) {
				fix = "apply deploy/terraform, or correct MAILER_ALARM_PREFIX; the send service's alarms exist only with enable_send_service: without the service, unset MAILER_SEND_DLQ_URL"
			}
		case state == cwtypes.StateValueAlarm:
			firing = append(firing, prefix+s)
		}
	}
	switch {
	case len(missing) > 0:
		return Check{name, Fail, fmt.Sprintf("%d of %d alarms missing: %s", len(missing), len(suffixes), strings.Join(missing, ", ")), fix}
	case len(firing) > 0:
		return Check{name, Warn, fmt.Sprintf("all %d alarms exist; in ALARM: %s", len(suffixes), strings.Join(firing, ", ")), "see docs/operations.md for what each alarm means"}
	}
	return Check{Name: name, Status: OK, Detail: fmt.Sprintf("all %d alarms exist, none in ALARM", len(suffixes))}
}

func joinTypes(ts []sestypes.EventType) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
