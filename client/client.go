// Package client sends a mail through phenom-mailer from another Phenom Go
// service: over the service queue (SQS, the default: Lambda takes the
// messages in batches, paced to SES, and retries what failed for a reason
// that passes) or over the service function's URL (AWS_IAM auth, SigV4),
// for a caller that wants SES's message id back at once.
//
// Both take the same Request, the JSON every entry point of the mailer
// reads:
//
//	{"template": "notice", "to": "ada@example.com", "locale": "es",
//	 "data": {...}, "idempotency_key": "order-42-export", "tags": {"service": "hasura"}}
//
// The caller's IAM identity needs the policy the Terraform module prints as
// send_caller_policy_json (sqs:SendMessage on the queue; for the URL
// lambda:InvokeFunctionUrl and lambda:InvokeFunction on the function).
//
// Errors are typed: a *RefusedError is a request the mailer will never send
// (fix it; do not retry), a *RetryableError one to send again after its
// RetryAfter; use errors.As. The package imports nothing of the mailer's
// internal packages, so it is the one part of this module other services
// link.
package client

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// MaxRequestSize is the largest request body the mailer takes (the
// service's MaxRequestSize, 64 KiB); a larger request is refused locally,
// before anything is sent.
const MaxRequestSize = 64 << 10

// Request is one mail to send: the JSON shape every entry point of the
// mailer reads (the queue's message body, the URL's request body, `mailer
// send`'s flags).
type Request struct {
	// Template names a service template: "notice", "welcome", ...
	Template string `json:"template"`
	// To is the one recipient address.
	To string `json:"to"`
	// Locale picks the catalogue's language ("es"); empty means the
	// default.
	Locale string `json:"locale,omitempty"`
	// Data is the template's data, checked against its schema: a map or
	// a struct with json tags. Nil is sent as {}.
	Data any `json:"data"`
	// IdempotencyKey makes a retried request send at most one mail: the
	// same key with the same request within 24 hours is a duplicate,
	// with a different request a refusal (idempotency_conflict). Keys are
	// scoped per caller. Over SQS without a key the message id is the key.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// Tags become SES email tags (ASCII letters, digits, _ - . @, at most
	// 256 characters). "service" names the calling service; over the URL
	// it defaults to the caller's IAM user or role name. "template" and
	// "environment" are the mailer's own.
	Tags map[string]string `json:"tags,omitempty"`
}

// Encode checks the request's basic shape (a template, a recipient, at most
// MaxRequestSize bytes of JSON) and returns its JSON. A request that fails
// is a *RefusedError with reason request_invalid and StatusCode 0: the
// mailer checks everything else (the template's schema, the address).
func (r Request) Encode() ([]byte, error) {
	var problems []string
	if strings.TrimSpace(r.Template) == "" {
		problems = append(problems, "template: required")
	}
	if strings.TrimSpace(r.To) == "" {
		problems = append(problems, "to: required")
	}
	if len(problems) > 0 {
		return nil, localRefusal(problems)
	}
	data, err := json.Marshal(r.Data)
	if err != nil {
		return nil, localRefusal([]string{"data: " + err.Error()})
	}
	if string(data) == "null" {
		data = []byte("{}")
	}
	// The same fields in the same order, data already encoded.
	type wire Request
	body, err := json.Marshal(struct {
		wire
		Data json.RawMessage `json:"data"`
	}{wire(r), data})
	if err != nil {
		return nil, localRefusal([]string{"request: " + err.Error()})
	}
	if len(body) > MaxRequestSize {
		return nil, localRefusal([]string{fmt.Sprintf("request: over %d bytes", MaxRequestSize)})
	}
	return body, nil
}

func localRefusal(problems []string) error {
	return &RefusedError{Response: Response{Outcome: "refused", Reason: "request_invalid", Errors: problems}}
}

// Response is the mailer's answer over the function URL.
type Response struct {
	// StatusCode is the HTTP status (0 for a request refused before it
	// was sent).
	StatusCode int
	// MessageID is SES's message id: of this mail when sent, of the first
	// one for a duplicate (already_sent).
	MessageID string
	// Outcome is sent, duplicate, refused, failed or suppressed.
	Outcome string
	// Reason says why, for everything but sent (already_sent,
	// in_progress, request_invalid, unknown_template, email_invalid,
	// idempotency_conflict, suppressed_bounce, ses_throttled, ...).
	Reason string
	// Errors are the request's problems, each with its field path
	// ("data.button.url: must be an absolute https URL").
	Errors []string
	// RetryAfter is the Retry-After header: how long to wait before
	// sending again (429: 1 s, 503: 5 or 60 s); zero when absent.
	RetryAfter time.Duration
	// RequestID is the mailer's request id (for `mailer trace
	// --request-id`), when the body carries one.
	RequestID string
	// Error is the body's message for an answer that is no outcome: a
	// wrong path or method, or AWS's own refusal (403 Forbidden for a
	// signature or IAM policy that does not allow the call).
	Error string
}

// RefusedError is a request the mailer refused for good (400 or 422, or
// refused locally before sending): sending it again gives the same answer.
type RefusedError struct{ Response }

func (e *RefusedError) Error() string {
	return describe("refused", e.Response)
}

// RetryableError is a request to send again later, after RetryAfter: the
// same idempotency key still in flight (409), SES throttling (429), SES or
// the From identity not ready, or another passing failure (503), or
// Lambda's own 5xx (a function error is 502).
type RetryableError struct{ Response }

func (e *RetryableError) Error() string {
	return describe("retryable", e.Response)
}

// StatusError is any other answer: 403 (AWS refused the signature or the
// caller's IAM policy), 404 or 405 (wrong URL or method), or a status the
// mailer does not answer with. It points at the caller's set-up, not at
// the request.
type StatusError struct{ Response }

func (e *StatusError) Error() string {
	return describe("unexpected answer", e.Response)
}

func describe(kind string, r Response) string {
	var b strings.Builder
	b.WriteString("client: ")
	b.WriteString(kind)
	if r.StatusCode != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", r.StatusCode)
	}
	if r.Reason != "" {
		b.WriteString(": ")
		b.WriteString(r.Reason)
	}
	if len(r.Errors) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(r.Errors, "; "))
	}
	if r.Error != "" {
		b.WriteString(": ")
		b.WriteString(r.Error)
	}
	if r.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", r.RetryAfter)
	}
	return b.String()
}
