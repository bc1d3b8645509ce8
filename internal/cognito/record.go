package cognito

import (
	"context"
	"log/slog"

	"github.com/Phenom-earth/phenom-mailer/internal/delivery"
	"github.com/Phenom-earth/phenom-mailer/internal/pipeline"
)

// Recorder keeps the delivery record of each invocation (see package
// delivery).
type Recorder = pipeline.Recorder

// RecordTimeout bounds the delivery-record write (pipeline.Record). It runs
// after the outcome is known (the mail is sent or not by then), so it never
// delays or fails a send; it may run up to RecordTimeout past the context's
// own deadline, which is why the Lambda wiring keeps more than that back
// from Lambda's.
const RecordTimeout = pipeline.RecordTimeout

// Values of Result.DeliveryRecord.
const (
	RecordWritten = "written"
	RecordFailed  = "failed"
)

// WithRequestID returns ctx carrying the id of this request (Lambda's
// request id; outside Lambda one from NewRequestID).
func WithRequestID(ctx context.Context, id string) context.Context {
	return pipeline.WithRequestID(ctx, id)
}

// RequestIDFrom returns the request id ctx carries, or "".
func RequestIDFrom(ctx context.Context) string { return pipeline.RequestIDFrom(ctx) }

// NewRequestID returns a random request id shaped like Lambda's (a UUID v4).
func NewRequestID() string { return pipeline.NewRequestID() }

// record writes the attempt res describes, when a Recorder is set, and
// notes in res whether it was written. A failed write is logged (the error
// names no address: the recipient is hashed before it leaves this process).
func (h *Handler) record(ctx context.Context, res *Result, email string) {
	if h.Recorder == nil {
		return
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
	if err := pipeline.Record(ctx, h.Recorder, a); err != nil {
		res.DeliveryRecord = RecordFailed
		if h.Logger != nil {
			h.Logger.LogAttrs(ctx, slog.LevelWarn, "delivery record: the attempt could not be written; the mail's outcome is unchanged",
				slog.String("request_id", res.RequestID), slog.String("error", err.Error()))
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
