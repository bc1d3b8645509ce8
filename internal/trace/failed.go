package trace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/redact"
	"github.com/Phenom-earth/phenom-mailer/internal/sqspeek"
)

// The failed-events queue: the Cognito-facing function's on-failure
// destination. For each event that failed every attempt, Lambda puts an
// invocation record there (the Lambda developer guide, "Capturing records of
// Lambda asynchronous invocations"):
//
//	{"version": "1.0", "timestamp": "…",
//	 "requestContext": {"requestId", "functionArn", "condition", "approximateInvokeCount"},
//	 "requestPayload": <the Cognito event, its code still encrypted>,
//	 "responseContext": {"statusCode", "executedVersion", "functionError"},
//	 "responsePayload": {"errorMessage", "errorType", …}}
//
// Trace reads the request id, the condition, the attempts, the error, and
// from the Cognito event only its trigger, pool, client and recipient (to
// match --to and to show masked). The code, the ciphertext and the rest of
// the payload are never decoded into anything trace keeps.

// FailedEvent is what trace shows of one on-failure record.
type FailedEvent struct {
	RequestID       string    `json:"request_id"`
	Condition       string    `json:"condition,omitempty"` // RetriesExhausted, EventAgeExceeded
	Attempts        int       `json:"attempts,omitempty"`  // approximateInvokeCount
	FailedAt        time.Time `json:"failed_at,omitzero"`  // the record's timestamp
	QueuedSince     time.Time `json:"queued_since,omitzero"`
	FunctionARN     string    `json:"function_arn,omitempty"`
	ExecutedVersion string    `json:"executed_version,omitempty"`
	FunctionError   string    `json:"function_error,omitempty"` // Unhandled, Handled
	ErrorType       string    `json:"error_type,omitempty"`
	// ErrorMessage is the function's error, with addresses masked and the
	// event's ciphertext removed.
	ErrorMessage string `json:"error_message,omitempty"`
	Trigger      string `json:"trigger,omitempty"`
	Pool         string `json:"pool,omitempty"`
	ClientID     string `json:"client_id,omitempty"`
	Recipient    string `json:"recipient,omitempty"` // masked

	recipient string // lower-cased, for --to only; never printed
}

// maxErrorMessage bounds the error message shown.
const maxErrorMessage = 300

// lambdaRecord is the part of an on-failure record trace reads. The
// Cognito event's request.code is deliberately absent.
type lambdaRecord struct {
	Version        string `json:"version"`
	Timestamp      string `json:"timestamp"`
	RequestContext *struct {
		RequestID              string `json:"requestId"`
		FunctionARN            string `json:"functionArn"`
		Condition              string `json:"condition"`
		ApproximateInvokeCount int    `json:"approximateInvokeCount"`
	} `json:"requestContext"`
	RequestPayload  json.RawMessage `json:"requestPayload"`
	ResponseContext struct {
		StatusCode      int    `json:"statusCode"`
		ExecutedVersion string `json:"executedVersion"`
		FunctionError   string `json:"functionError"`
	} `json:"responseContext"`
	ResponsePayload json.RawMessage `json:"responsePayload"`
}

type cognitoPart struct {
	TriggerSource string `json:"triggerSource"`
	UserPoolID    string `json:"userPoolId"`
	CallerContext struct {
		ClientID string `json:"clientId"`
	} `json:"callerContext"`
	Request struct {
		// Code is read only to remove it from the error message.
		Code           string `json:"code"`
		UserAttributes struct {
			Email string `json:"email"`
		} `json:"userAttributes"`
	} `json:"request"`
}

type errorPart struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

// ErrNotOnFailureRecord is returned by ParseFailedRecord for a body that is
// not a Lambda asynchronous invocation record with a request id.
var ErrNotOnFailureRecord = errors.New("not a Lambda on-failure record")

// ParseFailedRecord reads one message body of the failed-events queue.
func ParseFailedRecord(body []byte) (FailedEvent, error) {
	var r lambdaRecord
	if err := json.Unmarshal(body, &r); err != nil {
		return FailedEvent{}, fmt.Errorf("%w: %s", ErrNotOnFailureRecord, jsonProblem(err))
	}
	if r.RequestContext == nil || strings.TrimSpace(r.RequestContext.RequestID) == "" {
		return FailedEvent{}, fmt.Errorf("%w: no requestContext.requestId", ErrNotOnFailureRecord)
	}
	rc := r.RequestContext
	f := FailedEvent{
		RequestID:       oneLine(rc.RequestID, 128),
		Condition:       oneLine(rc.Condition, 64),
		Attempts:        rc.ApproximateInvokeCount,
		FunctionARN:     oneLine(rc.FunctionARN, 256),
		ExecutedVersion: oneLine(r.ResponseContext.ExecutedVersion, 64),
		FunctionError:   oneLine(r.ResponseContext.FunctionError, 64),
	}
	if f.Attempts < 0 {
		f.Attempts = 0
	}
	if t, err := time.Parse(time.RFC3339Nano, r.Timestamp); err == nil {
		f.FailedAt = t.UTC()
	}
	// The Cognito event: a payload that is not one leaves these empty.
	var c cognitoPart
	if len(r.RequestPayload) > 0 && json.Unmarshal(r.RequestPayload, &c) == nil {
		f.Trigger = oneLine(strings.TrimPrefix(c.TriggerSource, "CustomEmailSender_"), 64)
		f.Pool = oneLine(c.UserPoolID, 64)
		f.ClientID = oneLine(c.CallerContext.ClientID, 128)
		if e := strings.TrimSpace(c.Request.UserAttributes.Email); e != "" {
			f.recipient = strings.ToLower(e)
			f.Recipient = redact.Email(e)
		}
	}
	// The error: a string payload (a function that returned one) or Lambda's
	// {"errorMessage","errorType"}.
	var e errorPart
	if len(r.ResponsePayload) > 0 && json.Unmarshal(r.ResponsePayload, &e) != nil {
		var s string
		if json.Unmarshal(r.ResponsePayload, &s) == nil {
			e.ErrorMessage = s
		}
	}
	f.ErrorType = scrubError(e.ErrorType, c.Request.UserAttributes.Email, c.Request.Code, 64)
	f.ErrorMessage = scrubError(e.ErrorMessage, c.Request.UserAttributes.Email, c.Request.Code, maxErrorMessage)
	return f, nil
}

// scrubError applies the sender's scrubbing to an error text: the event's
// recipient masked in any case, any other address masked, the event's
// ciphertext (which the mailer never puts in an error, but a runtime's
// might) removed, then the text bounded to one line of n bytes.
func scrubError(msg, email, code string, n int) string {
	if msg == "" {
		return ""
	}
	if len(code) >= 4 {
		msg = strings.ReplaceAll(msg, code, "[redacted]")
	}
	if email = strings.TrimSpace(email); email != "" {
		msg = regexp.MustCompile("(?i)"+regexp.QuoteMeta(email)).ReplaceAllLiteralString(msg, redact.Email(email))
	}
	msg = redact.Emails(msg)
	msg = longBase64.ReplaceAllString(msg, "[redacted]")
	return oneLine(msg, n)
}

// longBase64 is a run that looks like ciphertext (an Encryption SDK message
// is hundreds of base64 characters); no error text the mailer writes holds
// one.
var longBase64 = regexp.MustCompile(`[A-Za-z0-9+/]{64,}={0,2}`)

// oneLine drops control characters and bounds s to n bytes (on a rune
// boundary).
func oneLine(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return "unexpected JSON type for " + te.Field
	}
	return "invalid JSON"
}

// QueuedRecord is one message of the failed-events queue.
type QueuedRecord struct {
	Body   string
	SentAt time.Time
}

// FailedQueue peeks at the failed-events queue without taking anything out.
type FailedQueue interface {
	Peek(ctx context.Context) ([]QueuedRecord, error)
}

// DefaultReceives bounds a peek of the failed-events queue: 10 receives of
// up to 10 messages.
const DefaultReceives = 10

// SQSFailedQueue peeks at the failed-events queue through SQS (sqspeek:
// VisibilityTimeout 0, never deleting).
type SQSFailedQueue struct {
	Client   sqspeek.ReceiveAPI
	URL      string
	Receives int // 0 means DefaultReceives
}

// Peek implements FailedQueue.
func (q SQSFailedQueue) Peek(ctx context.Context) ([]QueuedRecord, error) {
	n := q.Receives
	if n <= 0 {
		n = DefaultReceives
	}
	msgs, err := sqspeek.Peek(ctx, q.Client, q.URL, n, true)
	out := make([]QueuedRecord, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, QueuedRecord{Body: m.Body, SentAt: m.SentAt})
	}
	return out, err
}

// findFailed peeks at the queue and returns the records that match q.
func findFailed(ctx context.Context, fq FailedQueue, q Query) ([]FailedEvent, string) {
	recs, err := fq.Peek(ctx)
	var found []FailedEvent
	bad := 0
	for _, rec := range recs {
		f, perr := ParseFailedRecord([]byte(rec.Body))
		if perr != nil {
			bad++
			continue
		}
		f.QueuedSince = rec.SentAt
		switch {
		case q.RequestID != "":
			if f.RequestID != q.RequestID {
				continue
			}
		case q.To != "":
			if f.recipient == "" || f.recipient != q.To {
				continue
			}
			if at := f.when(); !q.Since.IsZero() && !at.IsZero() && at.Before(q.Since) {
				continue
			}
		default:
			continue
		}
		found = append(found, f)
	}
	var notes []string
	if err != nil {
		notes = append(notes, "could not read the failed-events queue: "+clip(redact.Emails(err.Error()), 300))
	}
	if bad > 0 {
		notes = append(notes, fmt.Sprintf("%d message(s) in the failed-events queue are not Lambda on-failure records", bad))
	}
	return found, strings.Join(notes, "; ")
}

func (f FailedEvent) when() time.Time {
	if !f.FailedAt.IsZero() {
		return f.FailedAt
	}
	return f.QueuedSince
}

// FailedVerdict sums a failed event up.
func FailedVerdict(f FailedEvent) string {
	return "not sent: the event failed every attempt (" + orUnknown(f.Condition) + "); it waits in the failed-events queue"
}

// failedLines are the story's lines about a failed event.
func failedLines(f FailedEvent) []string {
	var b strings.Builder
	switch f.Condition {
	case "EventAgeExceeded":
		b.WriteString("Lambda gave up: the event grew older than the function's maximum event age (EventAgeExceeded)")
	default:
		fmt.Fprintf(&b, "Lambda gave up: the event failed every attempt (%s)", orUnknown(f.Condition))
	}
	if f.Attempts > 0 {
		fmt.Fprintf(&b, " after %d attempt(s)", f.Attempts)
	}
	fmt.Fprintf(&b, ", request %s", f.RequestID)
	if f.FunctionError != "" || f.ErrorType != "" || f.ErrorMessage != "" {
		b.WriteString("; last error")
		if f.FunctionError != "" {
			fmt.Fprintf(&b, " (%s)", f.FunctionError)
		}
		if f.ErrorType != "" {
			fmt.Fprintf(&b, " %s", f.ErrorType)
		}
		if f.ErrorMessage != "" {
			fmt.Fprintf(&b, ": %q", f.ErrorMessage)
		}
	}
	lines := []string{stampOr(f.FailedAt) + "  " + b.String()}
	q := "it waits in the failed-events queue"
	if !f.QueuedSince.IsZero() {
		q += " since " + stamp(f.QueuedSince)
	}
	lines = append(lines, stampOr(f.QueuedSince)+"  "+q+" (kept 14 days); no mail was sent for it")
	return lines
}

func stampOr(t time.Time) string {
	if t.IsZero() {
		return strings.Repeat(" ", len("2006-01-02 15:04:05.000 UTC"))
	}
	return stamp(t)
}

// FailedAdvice is what to do about a failed event.
const FailedAdvice = "A code is valid for one hour and Cognito does not resend it: once the cause is fixed, tell the user to ask again " +
	"(ForgotPassword again; for an invitation, admin-create-user --message-action RESEND) rather than redrive the event, " +
	"then delete the handled messages (docs/operations.md#failed-events-and-dead-letters)."
