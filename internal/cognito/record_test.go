package cognito

import (
	"context"
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/delivery"
	"github.com/Phenom-earth/phenom-mailer/internal/send"
)

func TestAddSuppression(t *testing.T) {
	var a delivery.Attempt
	since := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	addSuppression(&a, &Result{Outcome: OutcomeSuppressed, Suppression: &send.Suppression{Reason: "BOUNCE", LastUpdate: since}})
	if a.SuppressionReason != "BOUNCE" || !a.SuppressionSince.Equal(since) {
		t.Errorf("got %q %v", a.SuppressionReason, a.SuppressionSince)
	}
	var b delivery.Attempt
	addSuppression(&b, &Result{Outcome: OutcomeSent})
	if b.SuppressionReason != "" || !b.SuppressionSince.IsZero() {
		t.Errorf("no suppression: got %q %v", b.SuppressionReason, b.SuppressionSince)
	}
}

func TestNewRequestID(t *testing.T) {
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a, b := NewRequestID(), NewRequestID()
	if !uuid.MatchString(a) || a == b {
		t.Errorf("request ids %q %q", a, b)
	}
	ctx := WithRequestID(context.Background(), "r-1")
	if RequestIDFrom(ctx) != "r-1" || RequestIDFrom(context.Background()) != "" {
		t.Error("request id not carried by the context")
	}
}

type recorderFunc func(context.Context, delivery.Attempt) error

func (f recorderFunc) RecordAttempt(ctx context.Context, a delivery.Attempt) error { return f(ctx, a) }

// The record is written with the request id and the recipient, after the
// outcome; a failure only marks the result. (The write into moto's
// DynamoDB is tested in cmd/mailer.)
func TestRecordAfterOutcome(t *testing.T) {
	var got delivery.Attempt
	var deadline time.Time
	h := &Handler{Recorder: recorderFunc(func(ctx context.Context, a delivery.Attempt) error {
		got = a
		deadline, _ = ctx.Deadline()
		return nil
	})}
	ctx, cancel := context.WithCancel(WithRequestID(context.Background(), "r-9"))
	cancel() // the invocation's context may be done by then
	res := h.HandleJSON(ctx, []byte(`{"version":"1","triggerSource":"CustomEmailSender_ForgotPassword","userPoolId":"p","request":{"userAttributes":{"email":"QA@thephenom.app"}}}`))
	if res.RequestID != "r-9" || res.DeliveryRecord != RecordWritten {
		t.Fatalf("result %+v", res)
	}
	if got.RequestID != "r-9" || got.Recipient != "QA@thephenom.app" || got.Outcome != res.Outcome || got.Reason != res.Reason || got.Source != delivery.SourceCognito {
		t.Errorf("attempt %+v for result %+v", got, res)
	}
	if deadline.IsZero() || time.Until(deadline) > RecordTimeout {
		t.Errorf("the write is not bounded by RecordTimeout")
	}
	h.Recorder = recorderFunc(func(context.Context, delivery.Attempt) error { return errors.New("throttled") })
	res = h.HandleJSON(context.Background(), []byte(`{}`))
	if res.DeliveryRecord != RecordFailed || res.Outcome != OutcomeRefused || res.RequestID == "" {
		t.Errorf("failed write: %+v", res)
	}
}
