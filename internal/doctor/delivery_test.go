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
	c := alarms(context.Background(), fakeCW{as}, "phenom-mailer-staging-")
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
