// Package sesevents records what SES reports about the mails the mailer
// sent. SES's configuration set publishes its events (event publishing) to
// an SNS topic; an SQS queue subscribed to it with raw message delivery off
// holds each one as SNS's JSON envelope, whose Message is the SES event as
// a string; Lambda hands the function a batch of those SQS messages. This
// package parses that chain and writes each event into the delivery record.
//
// A record whose write failed is reported as a batch item failure, for SQS
// to deliver again (and, after the queue's maxReceiveCount, to move to its
// dead-letter queue). A record that is not an SES event this package
// handles (malformed, an SNS subscription confirmation, an Open or Click
// event, an identity feedback notification) is ignored with a reason and
// never retried: retrying cannot make it readable.
//
// It must not know the sender's handler, Lambda's SDK types or the
// environment: it reads JSON and writes through the delivery store it is
// given.
package sesevents

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/delivery"
	"github.com/Phenom-earth/phenom-mailer/internal/redact"
)

// MaxBatchBytes bounds the SQS event JSON accepted: Lambda's limit on a
// synchronous invocation's payload (6 MB).
const MaxBatchBytes = 6 << 20

// SQSEvent is Lambda's SQS event (the fields this package reads).
type SQSEvent struct {
	Records []SQSMessage `json:"Records"`
}

// SQSMessage is one record of an SQSEvent.
type SQSMessage struct {
	MessageID   string `json:"messageId"`
	Body        string `json:"body"`
	EventSource string `json:"eventSource"`
}

// ItemFailure names a record SQS should deliver again.
type ItemFailure struct {
	ItemIdentifier string `json:"itemIdentifier"`
}

// Summary is the outcome of one batch; BatchItemFailures is the function's
// answer to Lambda (ReportBatchItemFailures).
type Summary struct {
	Received          int            `json:"received"`
	Recorded          int            `json:"recorded"`
	Duplicates        int            `json:"duplicates"`
	Ignored           int            `json:"ignored"`
	Failed            int            `json:"failed"`
	BatchItemFailures []ItemFailure  `json:"batchItemFailures"`
	ByType            map[string]int `json:"-"` // recorded events by SES eventType
}

// IsSQSEvent reports whether data is shaped like Lambda's SQS event: a
// Records array whose every record has eventSource "aws:sqs".
func IsSQSEvent(data []byte) bool {
	var probe struct {
		Records []struct {
			EventSource string `json:"eventSource"`
		} `json:"Records"`
	}
	if json.Unmarshal(data, &probe) != nil || len(probe.Records) == 0 {
		return false
	}
	for _, r := range probe.Records {
		if r.EventSource != "aws:sqs" {
			return false
		}
	}
	return true
}

// Recorder writes one event; delivery.ErrDuplicate means it was recorded
// before.
type Recorder interface {
	RecordEvent(ctx context.Context, e delivery.Event) error
}

// Handler records the SES events of SQS batches.
type Handler struct {
	Recorder Recorder
	Logger   *slog.Logger
}

// HandleJSON decodes an SQS event and handles it. An error means the batch
// itself is unreadable (then nothing was recorded).
func (h *Handler) HandleJSON(ctx context.Context, data []byte) (Summary, error) {
	if len(data) > MaxBatchBytes {
		return Summary{}, fmt.Errorf("sesevents: event is %d bytes, over the %d-byte limit", len(data), MaxBatchBytes)
	}
	var ev SQSEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		return Summary{}, fmt.Errorf("sesevents: event is not an SQS event: %w", err)
	}
	return h.Handle(ctx, ev), nil
}

// Handle records every SES event in the batch and reports the records to
// deliver again.
func (h *Handler) Handle(ctx context.Context, ev SQSEvent) Summary {
	s := Summary{BatchItemFailures: []ItemFailure{}, ByType: map[string]int{}}
	for _, rec := range ev.Records {
		s.Received++
		if rec.EventSource != "aws:sqs" {
			s.Ignored++
			h.log(ctx, slog.LevelWarn, "ses event ignored", slog.String("sqs_message_id", rec.MessageID), slog.String("reason", "not_sqs"))
			continue
		}
		events, err := Parse([]byte(rec.Body))
		var ig *IgnoredError
		if errors.As(err, &ig) {
			s.Ignored++
			h.log(ctx, slog.LevelWarn, "ses event ignored", slog.String("sqs_message_id", rec.MessageID),
				slog.String("reason", ig.Reason), slog.String("detail", ig.Detail))
			continue
		}
		failed := false
		for _, e := range events {
			err := h.Recorder.RecordEvent(ctx, e)
			switch {
			case err == nil:
				s.Recorded++
				s.ByType[e.Type]++
				h.log(ctx, slog.LevelInfo, "ses event recorded", slog.String("sqs_message_id", rec.MessageID),
					slog.String("event_type", e.Type), slog.String("message_id", e.MessageID),
					slog.String("recipient", redact.Email(e.Recipient)))
			case errors.Is(err, delivery.ErrDuplicate):
				s.Duplicates++
				h.log(ctx, slog.LevelInfo, "ses event already recorded", slog.String("sqs_message_id", rec.MessageID),
					slog.String("event_type", e.Type), slog.String("message_id", e.MessageID))
			default:
				failed = true
				h.log(ctx, slog.LevelError, "ses event not recorded; SQS will deliver it again", slog.String("sqs_message_id", rec.MessageID),
					slog.String("event_type", e.Type), slog.String("message_id", e.MessageID),
					slog.String("error", clip(redact.Emails(err.Error()), 512)))
			}
		}
		if failed {
			s.Failed++
			s.BatchItemFailures = append(s.BatchItemFailures, ItemFailure{ItemIdentifier: rec.MessageID})
		}
	}
	h.log(ctx, slog.LevelInfo, "ses events", slog.Int("received", s.Received), slog.Int("recorded", s.Recorded),
		slog.Int("duplicates", s.Duplicates), slog.Int("ignored", s.Ignored), slog.Int("failed", s.Failed))
	return s
}

func (h *Handler) log(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	if h.Logger != nil {
		h.Logger.LogAttrs(ctx, level, msg, attrs...)
	}
}

// IgnoredError means a record carries nothing this package records.
type IgnoredError struct {
	Reason string // a short code: not_sns_notification, not_ses_event, unhandled_event_type, ...
	Detail string // what was wrong, with no content of the record
}

func (e *IgnoredError) Error() string { return "ignored: " + e.Reason + ": " + e.Detail }

func ignored(reason, format string, args ...any) error {
	return &IgnoredError{Reason: reason, Detail: clip(redact.Emails(fmt.Sprintf(format, args...)), 200)}
}

// snsEnvelope is SNS's JSON message as SQS holds it with raw delivery off.
type snsEnvelope struct {
	Type      string `json:"Type"`
	MessageID string `json:"MessageId"`
	TopicArn  string `json:"TopicArn"`
	Message   string `json:"Message"`
	Timestamp string `json:"Timestamp"`
}

type recipientDSN struct {
	EmailAddress   string `json:"emailAddress"`
	Action         string `json:"action"`
	Status         string `json:"status"`
	DiagnosticCode string `json:"diagnosticCode"`
}

// sesEvent is an SES event publishing record: the fields recorded.
type sesEvent struct {
	EventType        string `json:"eventType"`
	NotificationType string `json:"notificationType"`
	Mail             struct {
		Timestamp   string   `json:"timestamp"`
		MessageID   string   `json:"messageId"`
		Destination []string `json:"destination"`
	} `json:"mail"`
	Bounce *struct {
		BounceType        string         `json:"bounceType"`
		BounceSubType     string         `json:"bounceSubType"`
		BouncedRecipients []recipientDSN `json:"bouncedRecipients"`
		Timestamp         string         `json:"timestamp"`
		ReportingMTA      string         `json:"reportingMTA"`
	} `json:"bounce"`
	Complaint *struct {
		ComplainedRecipients  []recipientDSN `json:"complainedRecipients"`
		Timestamp             string         `json:"timestamp"`
		ComplaintFeedbackType string         `json:"complaintFeedbackType"`
		ComplaintSubType      *string        `json:"complaintSubType"`
	} `json:"complaint"`
	Delivery *struct {
		Timestamp            string   `json:"timestamp"`
		ProcessingTimeMillis int64    `json:"processingTimeMillis"`
		Recipients           []string `json:"recipients"`
		SMTPResponse         string   `json:"smtpResponse"`
		ReportingMTA         string   `json:"reportingMTA"`
		RemoteMTAIP          string   `json:"remoteMtaIp"`
	} `json:"delivery"`
	Reject *struct {
		Reason string `json:"reason"`
	} `json:"reject"`
	Failure *struct {
		ErrorMessage string `json:"errorMessage"`
		TemplateName string `json:"templateName"`
	} `json:"failure"`
	DeliveryDelay *struct {
		Timestamp         string         `json:"timestamp"`
		DelayType         string         `json:"delayType"`
		ExpirationTime    string         `json:"expirationTime"`
		ReportingMTA      string         `json:"reportingMTA"`
		DelayedRecipients []recipientDSN `json:"delayedRecipients"`
	} `json:"deliveryDelay"`
}

// The event types recorded (SES's eventType values).
const (
	TypeSend             = "Send"
	TypeDelivery         = "Delivery"
	TypeBounce           = "Bounce"
	TypeComplaint        = "Complaint"
	TypeReject           = "Reject"
	TypeDeliveryDelay    = "DeliveryDelay"
	TypeRenderingFailure = "Rendering Failure"
)

// Parse reads one SQS message body, an SNS envelope around an SES event, and
// returns the delivery-record events it reports: one per recipient the
// event is about. An *IgnoredError means there is nothing to record.
func Parse(body []byte) ([]delivery.Event, error) {
	var env snsEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, ignored("not_sns_notification", "the body is not JSON: %v", err)
	}
	if env.Type != "Notification" {
		return nil, ignored("not_sns_notification", "SNS message type %q", clip(env.Type, 40))
	}
	if env.Message == "" {
		return nil, ignored("not_sns_notification", "the SNS notification has no Message")
	}
	var ev sesEvent
	dec := json.NewDecoder(strings.NewReader(env.Message))
	if err := dec.Decode(&ev); err != nil {
		return nil, ignored("not_ses_event", "the SNS Message is not an SES event: %v", err)
	}
	if ev.EventType == "" {
		if ev.NotificationType != "" {
			return nil, ignored("not_event_publishing", "an identity feedback notification (%q), not a configuration set event", clip(ev.NotificationType, 40))
		}
		return nil, ignored("not_ses_event", "the SNS Message has no eventType")
	}
	if ev.Mail.MessageID == "" || len(ev.Mail.MessageID) > 256 {
		return nil, ignored("not_ses_event", "the %s event has no usable mail.messageId", clip(ev.EventType, 40))
	}
	sum := sha256.Sum256(bytes.TrimSpace([]byte(env.Message)))
	base := delivery.Event{MessageID: ev.Mail.MessageID, Type: ev.EventType}

	var out []delivery.Event
	add := func(ts string, recipient string, fill func(*delivery.Event)) error {
		t, err := parseTime(ts)
		if err != nil {
			return ignored("not_ses_event", "the %s event's timestamp %q: %v", ev.EventType, clip(ts, 40), err)
		}
		e := base
		e.Time = t
		e.Recipient = recipient
		d := sha256.Sum256(append(sum[:], strings.ToLower(strings.TrimSpace(recipient))...))
		e.Digest = hex.EncodeToString(d[:8])
		if fill != nil {
			fill(&e)
		}
		out = append(out, e)
		return nil
	}
	perDestination := func(ts string, fill func(*delivery.Event)) error {
		if len(ev.Mail.Destination) == 0 {
			return add(ts, "", fill)
		}
		for _, r := range ev.Mail.Destination {
			if err := add(ts, r, fill); err != nil {
				return err
			}
		}
		return nil
	}
	var err error
	switch ev.EventType {
	case TypeSend:
		err = perDestination(ev.Mail.Timestamp, nil)
	case TypeReject:
		if ev.Reject == nil {
			return nil, ignored("not_ses_event", "a Reject event without its reject object")
		}
		err = perDestination(ev.Mail.Timestamp, func(e *delivery.Event) { e.RejectReason = clip(ev.Reject.Reason, 512) })
	case TypeRenderingFailure:
		if ev.Failure == nil {
			return nil, ignored("not_ses_event", "a Rendering Failure event without its failure object")
		}
		err = perDestination(ev.Mail.Timestamp, func(e *delivery.Event) {
			e.ErrorMessage, e.TemplateName = clip(ev.Failure.ErrorMessage, 1024), clip(ev.Failure.TemplateName, 256)
		})
	case TypeDelivery:
		d := ev.Delivery
		if d == nil || len(d.Recipients) == 0 {
			return nil, ignored("not_ses_event", "a Delivery event without its delivery recipients")
		}
		for _, r := range d.Recipients {
			if err = add(d.Timestamp, r, func(e *delivery.Event) {
				e.SMTPResponse, e.ReportingMTA, e.RemoteMTAIP = clip(d.SMTPResponse, 1024), clip(d.ReportingMTA, 256), clip(d.RemoteMTAIP, 64)
				e.ProcessingTimeMS = d.ProcessingTimeMillis
			}); err != nil {
				break
			}
		}
	case TypeBounce:
		b := ev.Bounce
		if b == nil || len(b.BouncedRecipients) == 0 {
			return nil, ignored("not_ses_event", "a Bounce event without its bounced recipients")
		}
		for _, r := range b.BouncedRecipients {
			if err = add(b.Timestamp, r.EmailAddress, func(e *delivery.Event) {
				e.BounceType, e.BounceSubType = clip(b.BounceType, 64), clip(b.BounceSubType, 64)
				e.Action, e.Status, e.DiagnosticCode = clip(r.Action, 64), clip(r.Status, 64), clip(r.DiagnosticCode, 1024)
				e.ReportingMTA = clip(b.ReportingMTA, 256)
			}); err != nil {
				break
			}
		}
	case TypeComplaint:
		c := ev.Complaint
		if c == nil || len(c.ComplainedRecipients) == 0 {
			return nil, ignored("not_ses_event", "a Complaint event without its complained recipients")
		}
		for _, r := range c.ComplainedRecipients {
			if err = add(c.Timestamp, r.EmailAddress, func(e *delivery.Event) {
				e.ComplaintType = clip(c.ComplaintFeedbackType, 64)
				if c.ComplaintSubType != nil {
					e.ComplaintSubType = clip(*c.ComplaintSubType, 64)
				}
			}); err != nil {
				break
			}
		}
	case TypeDeliveryDelay:
		d := ev.DeliveryDelay
		if d == nil || len(d.DelayedRecipients) == 0 {
			return nil, ignored("not_ses_event", "a DeliveryDelay event without its delayed recipients")
		}
		exp, _ := parseTime(d.ExpirationTime)
		for _, r := range d.DelayedRecipients {
			if err = add(d.Timestamp, r.EmailAddress, func(e *delivery.Event) {
				e.DelayType, e.ExpirationTime = clip(d.DelayType, 64), exp
				e.Status, e.DiagnosticCode, e.ReportingMTA = clip(r.Status, 64), clip(r.DiagnosticCode, 1024), clip(d.ReportingMTA, 256)
			}); err != nil {
				break
			}
		}
	default:
		return nil, ignored("unhandled_event_type", "eventType %q is not recorded", clip(ev.EventType, 40))
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// parseTime reads SES's ISO 8601 timestamps ("2017-08-05T00:41:02.669Z").
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("missing")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errors.New("not an ISO 8601 time")
	}
	return t.UTC(), nil
}

func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && cut < len(s) && (s[cut]&0xC0) == 0x80 {
		cut--
	}
	return s[:cut] + "..."
}
