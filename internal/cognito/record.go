package cognito

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/delivery"
)

// Recorder keeps the delivery record of each invocation (see package
// delivery).
type Recorder interface {
	RecordAttempt(ctx context.Context, a delivery.Attempt) error
}

// RecordTimeout bounds the delivery-record write. It runs after the outcome
// is known (the mail is sent or not by then), so it never delays or fails a
// send; it may run up to RecordTimeout past the context's own deadline,
// which is why the Lambda wiring keeps more than that back from Lambda's.
const RecordTimeout = time.Second

// Values of Result.DeliveryRecord.
const (
	RecordWritten = "written"
	RecordFailed  = "failed"
)

type requestIDKey struct{}

// WithRequestID returns ctx carrying the id of this request (Lambda's
// request id; outside Lambda one from NewRequestID).
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the request id ctx carries, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// NewRequestID returns a random request id shaped like Lambda's (a UUID v4).
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// record writes the attempt res describes, when a Recorder is set, and
// notes in res whether it was written. A failed write is logged (the error
// names no address: the recipient is hashed before it leaves this process).
func (h *Handler) record(ctx context.Context, res *Result, email string) {
	if h.Recorder == nil {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), RecordTimeout)
	defer cancel()
	if dl, ok := ctx.Deadline(); ok {
		var c2 context.CancelFunc
		rctx, c2 = context.WithDeadline(rctx, dl.Add(RecordTimeout))
		defer c2()
	}
	a := delivery.Attempt{
		Source:    delivery.SourceCognito,
		Trigger:   res.Trigger,
		Pool:      res.Pool,
		ClientID:  res.ClientID,
		Outcome:   res.Outcome,
		Reason:    res.Reason,
		MessageID: res.MessageID,
		RequestID: res.RequestID,
		Time:      h.now(),
		Recipient: email,
	}
	addSuppression(&a, res)
	if err := h.Recorder.RecordAttempt(rctx, a); err != nil {
		res.DeliveryRecord = RecordFailed
		if h.Logger != nil {
			h.Logger.LogAttrs(ctx, slog.LevelWarn, "delivery record: the attempt could not be written; the mail's outcome is unchanged",
				slog.String("request_id", res.RequestID), slog.String("error", scrub(err.Error(), email, "")))
		}
		return
	}
	res.DeliveryRecord = RecordWritten
}

// addSuppression copies the suppression-list entry the handler found into
// the attempt.
func addSuppression(a *delivery.Attempt, res *Result) {
	if res.Suppression != nil {
		a.SuppressionReason, a.SuppressionSince = res.Suppression.Reason, res.Suppression.LastUpdate
	}
}
