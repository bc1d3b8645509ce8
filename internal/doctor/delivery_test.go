package doctor

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

// Unit tests of the delivery checks' edge cases with fakes; cmd/mailer's
// doctor tests run them against moto.

type fakeEvents struct{ dests []sestypes.EventDestination }

func (f fakeEvents) GetConfigurationSetEventDestinations(context.Context, *sesv2.GetConfigurationSetEventDestinationsInput, ...func(*sesv2.Options)) (*sesv2.GetConfigurationSetEventDestinationsOutput, error) {
	return &sesv2.GetConfigurationSetEventDestinationsOutput{EventDestinations: f.dests}, nil
}

func TestEventDestination(t *testing.T) {
	tests := []struct {
		name   string
		dests  []sestypes.EventDestination
		status string
		detail string
	}{
		{"eventbridge with all types", []sestypes.EventDestination{{Name: aws.String("eb"), Enabled: true, MatchingEventTypes: EventTypes,
			EventBridgeDestination: &sestypes.EventBridgeDestination{EventBusArn: aws.String("arn:aws:events:us-east-1:1:event-bus/default")}}}, OK, "EventBridge"},
		{"disabled", []sestypes.EventDestination{{Name: aws.String("sns"), Enabled: false, MatchingEventTypes: EventTypes,
			SnsDestination: &sestypes.SnsDestination{TopicArn: aws.String("arn:aws:sns:us-east-1:1:t")}}}, Fail, "no enabled SNS or EventBridge"},
		{"cloudwatch only", []sestypes.EventDestination{{Name: aws.String("cw"), Enabled: true, MatchingEventTypes: EventTypes,
			CloudWatchDestination: &sestypes.CloudWatchDestination{}}}, Fail, "no enabled SNS or EventBridge"},
		{"the closer of two is named", []sestypes.EventDestination{
			{Name: aws.String("few"), Enabled: true, MatchingEventTypes: EventTypes[:1], SnsDestination: &sestypes.SnsDestination{TopicArn: aws.String("a")}},
			{Name: aws.String("most"), Enabled: true, MatchingEventTypes: EventTypes[:6], SnsDestination: &sestypes.SnsDestination{TopicArn: aws.String("b")}},
		}, Fail, "most does not publish RENDERING_FAILURE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := eventDestination(context.Background(), fakeEvents{tt.dests}, "phenom-mail")
			if c.Status != tt.status || !strings.Contains(c.Detail, tt.detail) {
				t.Errorf("%s: %s, want %s with %q", c.Status, c.Detail, tt.status, tt.detail)
			}
		})
	}
}

type fakeCW struct{ alarms []cwtypes.MetricAlarm }

func (f fakeCW) DescribeAlarms(context.Context, *cloudwatch.DescribeAlarmsInput, ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error) {
	return &cloudwatch.DescribeAlarmsOutput{MetricAlarms: f.alarms}, nil
}

func TestAlarmsInAlarmAreAWarning(t *testing.T) {
	var as []cwtypes.MetricAlarm
	for _, s := range AlarmSuffixes {
		st := cwtypes.StateValueOk
		if s == "bounce-rate" {
			st = cwtypes.StateValueAlarm
		}
		as = append(as, cwtypes.MetricAlarm{AlarmName: aws.String("phenom-mailer-staging-" + s), StateValue: st})
	}
	c := alarms(context.Background(), fakeCW{as}, "phenom-mailer-staging-", AlarmSuffixes)
	if c.Status != Warn || !strings.Contains(c.Detail, "in ALARM: phenom-mailer-staging-bounce-rate") {
		t.Errorf("%+v", c)
	}
}

type fakeSQS struct {
	attrs map[string]string
	err   error
	sent  []time.Time
	// released counts the messages made visible again.
	released *int
}

func (f fakeSQS) GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	return &sqs.GetQueueAttributesOutput{Attributes: f.attrs}, f.err
}

func (f fakeSQS) ReceiveMessage(_ context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	var ms []sqstypes.Message
	for i, s := range f.sent {
		ms = append(ms, sqstypes.Message{ReceiptHandle: aws.String(strconv.Itoa(i)), Attributes: map[string]string{"SentTimestamp": strconv.FormatInt(s.UnixMilli(), 10)}})
	}
	return &sqs.ReceiveMessageOutput{Messages: ms}, nil
}

// ChangeMessageVisibilityBatch: the doctor must make what it sampled
// visible again at once.
func (f fakeSQS) ChangeMessageVisibilityBatch(_ context.Context, in *sqs.ChangeMessageVisibilityBatchInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	for _, e := range in.Entries {
		if e.VisibilityTimeout != 0 {
			panic("the doctor must make the messages it samples visible again")
		}
	}
	if f.released != nil {
		*f.released += len(in.Entries)
	}
	return &sqs.ChangeMessageVisibilityBatchOutput{}, nil
}

func TestQueue(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	url := "https://sqs.us-east-1.amazonaws.com/123456789012/phenom-mailer-staging-failed-events"
	d := DeliveryConfig{Now: func() time.Time { return now }}

	released := 0
	d.SQS = fakeSQS{attrs: map[string]string{"ApproximateNumberOfMessages": "3", "ApproximateNumberOfMessagesNotVisible": "0"},
		sent: []time.Time{now.Add(-90 * time.Minute), now.Add(-3 * time.Hour), now.Add(-time.Minute)}, released: &released}
	c := queue(context.Background(), d, "failed events", "MAILER_FAILED_EVENTS_QUEUE_URL", url, "look")
	if c.Status != Warn || c.Detail != "phenom-mailer-staging-failed-events holds 3 message(s), the oldest sent 3h0m0s ago" {
		t.Errorf("%+v", c)
	}
	if released != 3 {
		t.Errorf("%d sampled message(s) made visible again, want 3", released)
	}

	d.SQS = fakeSQS{err: &smithy.GenericAPIError{Code: "AWS.SimpleQueueService.NonExistentQueue", Message: "no"}}
	c = queue(context.Background(), d, "failed events", "MAILER_FAILED_EVENTS_QUEUE_URL", url, "look")
	if c.Status != Fail || !strings.Contains(c.Fix, "correct MAILER_FAILED_EVENTS_QUEUE_URL") {
		t.Errorf("missing queue: %+v", c)
	}

	c = queue(context.Background(), d, "failed events", "MAILER_FAILED_EVENTS_QUEUE_URL", "", "look")
	if c.Status != Warn {
		t.Errorf("absent setting: %+v", c)
	}
}

// TestSendService: with MAILER_SEND_DLQ_URL the send service's dead-letter
// queue is checked like the events one and its two alarms are required;
// without it the report says the send service is not checked and the
// alarms check asks for today's seven alone.
func TestSendService(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	const prefix = "phenom-mailer-staging-"
	url := "https://sqs.us-east-1.amazonaws.com/123456789012/" + prefix + "send-dlq"
	alarmsOf := func(suffixes []string, firing string) fakeCW {
		var as []cwtypes.MetricAlarm
		for _, s := range suffixes {
			st := cwtypes.StateValueOk
			if s == firing {
				st = cwtypes.StateValueAlarm
			}
			as = append(as, cwtypes.MetricAlarm{AlarmName: aws.String(prefix + s), StateValue: st})
		}
		return fakeCW{as}
	}
	all := append(append([]string{}, AlarmSuffixes...), "send-dlq", "send-errors")
	empty := map[string]string{"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
	two := map[string]string{"ApproximateNumberOfMessages": "1", "ApproximateNumberOfMessagesNotVisible": "1"}

	tests := []struct {
		name         string
		url          string
		sqs          fakeSQS
		cw           fakeCW
		send         Check // Fix compared by substring
		alarms       Check // Detail and Fix compared by substring
		wantReleased int
	}{
		{name: "not set", cw: alarmsOf(AlarmSuffixes, ""),
			send:   Check{Status: Warn, Detail: "MAILER_SEND_DLQ_URL is not set: the send service is not checked (its dead-letter queue, and the alarms send-dlq and send-errors)", Fix: "set MAILER_SEND_DLQ_URL"},
			alarms: Check{Status: OK, Detail: "all 7 alarms exist, none in ALARM"}},
		{name: "not set, the send alarms are not looked at", cw: alarmsOf(all, "send-errors"),
			send:   Check{Status: Warn, Detail: "MAILER_SEND_DLQ_URL is not set", Fix: "set MAILER_SEND_DLQ_URL"},
			alarms: Check{Status: OK, Detail: "all 7 alarms exist, none in ALARM"}},
		{name: "empty", url: url, sqs: fakeSQS{attrs: empty}, cw: alarmsOf(all, ""),
			send:   Check{Status: OK, Detail: prefix + "send-dlq is empty"},
			alarms: Check{Status: OK, Detail: "all 9 alarms exist, none in ALARM"}},
		{name: "messages waiting", url: url, sqs: fakeSQS{attrs: two, sent: []time.Time{now.Add(-10 * time.Minute), now.Add(-2 * time.Hour)}}, cw: alarmsOf(all, "send-dlq"),
			send:   Check{Status: Warn, Detail: prefix + "send-dlq holds 2 message(s), the oldest sent 2h0m0s ago", Fix: "redrive them to the send queue (docs/operations.md, Send dead letters)"},
			alarms: Check{Status: Warn, Detail: "all 9 alarms exist; in ALARM: " + prefix + "send-dlq"}, wantReleased: 2},
		{name: "send alarms missing", url: url, sqs: fakeSQS{attrs: empty}, cw: alarmsOf(AlarmSuffixes, ""),
			send:   Check{Status: OK, Detail: prefix + "send-dlq is empty"},
			alarms: Check{Status: Fail, Detail: "2 of 9 alarms missing: " + prefix + "send-dlq, " + prefix + "send-errors", Fix: "unset MAILER_SEND_DLQ_URL"}},
		{name: "queue missing", url: url, sqs: fakeSQS{err: &smithy.GenericAPIError{Code: "AWS.SimpleQueueService.NonExistentQueue", Message: "no"}}, cw: alarmsOf(all, ""),
			send:   Check{Status: Fail, Detail: prefix + "send-dlq: ", Fix: "correct MAILER_SEND_DLQ_URL"},
			alarms: Check{Status: OK, Detail: "all 9 alarms exist"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			released := 0
			tt.sqs.released = &released
			checks := delivery(context.Background(), Config{SES: fakeSES{}, Delivery: DeliveryConfig{
				SendDLQURL: tt.url, AlarmPrefix: prefix, SQS: tt.sqs, CloudWatch: tt.cw,
				Now: func() time.Time { return now },
			}})
			got := map[string]Check{}
			for _, c := range checks {
				got[c.Name] = c
			}
			s, ok := got["send dlq"]
			if !ok {
				t.Fatalf("no send dlq check in %+v", checks)
			}
			if s.Status != tt.send.Status || !strings.Contains(s.Detail, tt.send.Detail) || !strings.Contains(s.Fix, tt.send.Fix) {
				t.Errorf("send dlq: %+v\nwant %s with detail %q and fix containing %q", s, tt.send.Status, tt.send.Detail, tt.send.Fix)
			}
			if s.Status != OK && s.Fix == "" {
				t.Errorf("send dlq %s without a fix", s.Status)
			}
			if a := got["alarms"]; a.Status != tt.alarms.Status || !strings.Contains(a.Detail, tt.alarms.Detail) || !strings.Contains(a.Fix, tt.alarms.Fix) {
				t.Errorf("alarms: %+v\nwant %s with %q and fix containing %q", a, tt.alarms.Status, tt.alarms.Detail, tt.alarms.Fix)
			}
			// The sampled messages are made visible again, every one.
			if released != tt.wantReleased {
				t.Errorf("%d sampled message(s) made visible again, want %d", released, tt.wantReleased)
			}
		})
	}
}
