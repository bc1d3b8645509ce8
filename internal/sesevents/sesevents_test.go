package sesevents

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/Phenom-earth/phenom-mailer/internal/delivery"
	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// fixtureNames are the SES developer guide's examples of event publishing
// records (testdata/sesevents), one per event type the mailer records and
// both bounce types, plus an Open event, which it does not record.
var fixtureNames = []string{"send", "delivery", "bounce-permanent", "bounce-transient", "bounce-suppressed",
	"complaint", "reject", "rendering-failure", "delivery-delay"}

func fixture(t testing.TB, name string) string {
	t.Helper()
	p, err := standin.RepoFile(filepath.Join("testdata", "sesevents", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// snsBody wraps an SES event the way SNS does for an SQS subscriber with
// raw message delivery off.
func snsBody(t testing.TB, message string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]string{
		"Type":             "Notification",
		"MessageId":        "8f1f6a7e-5cd7-5e0b-9a39-0d6d9f0c1a11",
		"TopicArn":         "arn:aws:sns:us-east-1:123456789012:phenom-mailer-staging-ses-events",
		"Message":          message,
		"Timestamp":        "2017-08-05T00:41:03.001Z",
		"SignatureVersion": "1",
		"Signature":        "EXAMPLEpH+..",
		"SigningCertURL":   "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
		"UnsubscribeURL":   "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:123456789012:phenom-mailer-staging-ses-events:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseEveryExample(t *testing.T) {
	const mid = "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"
	check := map[string]func(delivery.Event) bool{
		"send": func(e delivery.Event) bool {
			return e.Type == "Send" && e.Time.Equal(time.Date(2016, 10, 14, 5, 2, 16, 645e6, time.UTC))
		},
		"delivery": func(e delivery.Event) bool {
			return e.SMTPResponse == "250 2.6.0 Message received" && e.ReportingMTA == "mta.example.com" && e.ProcessingTimeMS == 11893
		},
		"bounce-permanent": func(e delivery.Event) bool {
			return e.BounceType == "Permanent" && e.BounceSubType == "General" && e.Status == "5.1.1" && e.DiagnosticCode == "smtp; 550 5.1.1 user unknown"
		},
		"bounce-transient":  func(e delivery.Event) bool { return e.BounceType == "Transient" && e.BounceSubType == "MailboxFull" },
		"bounce-suppressed": func(e delivery.Event) bool { return e.BounceSubType == "OnAccountSuppressionList" },
		"complaint":         func(e delivery.Event) bool { return e.Type == "Complaint" && e.ComplaintType == "abuse" },
		"reject":            func(e delivery.Event) bool { return e.RejectReason == "Bad content" },
		"rendering-failure": func(e delivery.Event) bool { return e.Type == "Rendering Failure" && e.TemplateName == "MyTemplate" },
		"delivery-delay": func(e delivery.Event) bool {
			return e.DelayType == "TransientCommunicationFailure" && e.ExpirationTime.Equal(time.Date(2020, 6, 16, 0, 25, 40, 914e6, time.UTC)) && e.Status == "4.4.1"
		},
	}
	digests := map[string]bool{}
	for _, name := range fixtureNames {
		evs, err := Parse(snsBody(t, fixture(t, name)))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(evs) != 1 || evs[0].MessageID != mid || evs[0].Recipient != "recipient@example.com" || evs[0].Time.IsZero() {
			t.Errorf("%s: %+v", name, evs)
			continue
		}
		if !check[name](evs[0]) {
			t.Errorf("%s: fields not read: %+v", name, evs[0])
		}
		if digests[evs[0].Digest] {
			t.Errorf("%s: digest shared with another notification", name)
		}
		digests[evs[0].Digest] = true
	}
}

func TestParseIgnores(t *testing.T) {
	for name, body := range map[string][]byte{
		"not json":             []byte("{"),
		"subscription confirm": []byte(`{"Type":"SubscriptionConfirmation","Message":"You have chosen to subscribe"}`),
		"message not json":     snsBody(t, "hello"),
		"open event":           snsBody(t, fixture(t, "open")),
		"feedback":             snsBody(t, `{"notificationType":"Bounce","mail":{"messageId":"x"}}`),
		"no message id":        snsBody(t, `{"eventType":"Send","mail":{"timestamp":"2020-01-01T00:00:00Z"},"send":{}}`),
		"bad time":             snsBody(t, `{"eventType":"Send","mail":{"messageId":"m","timestamp":"yesterday"},"send":{}}`),
		"bounce no recipients": snsBody(t, `{"eventType":"Bounce","mail":{"messageId":"m"},"bounce":{"bounceType":"Permanent"}}`),
	} {
		evs, err := Parse(body)
		var ig *IgnoredError
		if !errors.As(err, &ig) || evs != nil || ig.Reason == "" {
			t.Errorf("%s: %v, %v; want an IgnoredError", name, evs, err)
		}
	}
}

func TestIsSQSEvent(t *testing.T) {
	for in, want := range map[string]bool{
		`{"Records":[{"eventSource":"aws:sqs","body":"{}"}]}`: true,
		`{"Records":[]}`: false,
		`{"Records":[{"eventSource":"aws:sqs"},{"eventSource":"aws:s3"}]}`:   false,
		`{"triggerSource":"CustomEmailSender_ForgotPassword","Records":"x"}`: false,
		`not json`: false,
	} {
		if got := IsSQSEvent([]byte(in)); got != want {
			t.Errorf("IsSQSEvent(%s) = %v", in, got)
		}
	}
}

// TestHandlerThroughMoto plays SES: it publishes every example to a real
// (moto) SNS topic, receives the SQS messages the subscription produced,
// and runs the handler on them into moto's DynamoDB.
func TestHandlerThroughMoto(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test (-short)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m := standin.MotoForTest(t)
	if err := m.CreateDeliveryTable(ctx, "deliveries"); err != nil {
		t.Fatal(err)
	}
	pipe, err := m.StartEventPipeline(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range append(fixtureNames, "open") {
		if err := pipe.Publish(ctx, fixture(t, name)); err != nil {
			t.Fatal(err)
		}
	}
	// SES delivers at least once: the same delivery notification again.
	if err := pipe.Publish(ctx, fixture(t, "delivery")); err != nil {
		t.Fatal(err)
	}
	if err := pipe.Publish(ctx, "{not an SES event"); err != nil {
		t.Fatal(err)
	}
	batches, err := pipe.Receive(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	// Each SQS body is SNS's envelope (raw delivery off), the SES event a string in it.
	var first struct {
		Records []struct{ Body, EventSource string } `json:"Records"`
	}
	if err := json.Unmarshal(batches[0], &first); err != nil || len(first.Records) == 0 {
		t.Fatalf("batch: %v", err)
	}
	var env map[string]any
	if err := json.Unmarshal([]byte(first.Records[0].Body), &env); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"Type", "MessageId", "TopicArn", "Message", "Timestamp", "SignatureVersion", "Signature", "SigningCertURL", "UnsubscribeURL"} {
		if _, ok := env[k]; !ok {
			t.Errorf("the SNS envelope has no %s: %v", k, env)
		}
	}
	if _, ok := env["Message"].(string); !ok || env["Type"] != "Notification" || first.Records[0].EventSource != "aws:sqs" {
		t.Errorf("not an SNS notification in an SQS record: %v", env)
	}
	var logs bytes.Buffer
	store := &delivery.Store{Client: m.DynamoClient(), Table: "deliveries"}
	h := &Handler{Recorder: store, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
	var total Summary
	for _, b := range batches {
		s, err := h.HandleJSON(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		total.Received += s.Received
		total.Recorded += s.Recorded
		total.Duplicates += s.Duplicates
		total.Ignored += s.Ignored
		total.Failed += s.Failed
		if len(s.BatchItemFailures) != 0 {
			t.Errorf("batch item failures: %+v", s.BatchItemFailures)
		}
	}
	want := Summary{Received: 12, Recorded: 9, Duplicates: 1, Ignored: 2}
	if total.Received != want.Received || total.Recorded != want.Recorded || total.Duplicates != want.Duplicates || total.Ignored != want.Ignored || total.Failed != 0 {
		t.Fatalf("summary %+v, want %+v\n%s", total, want, logs.String())
	}
	mails, err := store.ByMessageID(ctx, "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000")
	if err != nil {
		t.Fatal(err)
	}
	if len(mails) != 1 || len(mails[0].Events) != 9 {
		t.Fatalf("recorded: %+v", mails)
	}
	seen := map[string]int{}
	for _, e := range mails[0].Events {
		seen[e.Type]++
	}
	for typ, n := range map[string]int{"Send": 1, "Delivery": 1, "Bounce": 3, "Complaint": 1, "Reject": 1, "Rendering Failure": 1, "DeliveryDelay": 1} {
		if seen[typ] != n {
			t.Errorf("%d %s events recorded, want %d", seen[typ], typ, n)
		}
	}
	// By the recipient's hash, through the index.
	if mails, err := store.ByRecipient(ctx, "Recipient@Example.com", time.Time{}); err != nil || len(mails) != 1 || len(mails[0].Events) != 9 {
		t.Fatalf("by recipient: %+v %v", mails, err)
	}
	// The same batch delivered again records nothing new.
	s, err := h.HandleJSON(ctx, batches[0])
	if err != nil || s.Recorded != 0 || s.Failed != 0 {
		t.Fatalf("redelivery: %+v %v", s, err)
	}
	if strings.Contains(logs.String(), "recipient@example.com") {
		t.Error("an address appears in clear in the logs")
	}

	// A write that fails (no such table) is a batch item failure, and only
	// that record is.
	failing := &Handler{Recorder: &delivery.Store{Client: m.DynamoClient(), Table: "missing"}}
	s, err = failing.HandleJSON(ctx, batches[0])
	if err != nil || s.Failed == 0 || len(s.BatchItemFailures) != s.Failed || s.Failed+s.Ignored != s.Received {
		t.Fatalf("failing table: %+v %v", s, err)
	}
	if _, err := m.DynamoClient().DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: strPtr("missing")}); err == nil {
		t.Fatal("the missing table exists")
	}
}

func strPtr(s string) *string { return &s }
