// Package service sends the mail other Phenom services ask for: one
// request shape (Request) from every entry point (the send queue, the
// function URL, `mailer send`), validated against the template registry,
// then the same stages as a Cognito mail: validate → claim → render →
// build → deliver → record.
//
// It must not know Lambda, SQS or HTTP types, nor the environment: the
// entry points in cmd/mailer turn their events into a Source and a body,
// and the Result into what their caller expects (Result.HTTP for the
// function URL, Retryable for an SQS batch item failure).
package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/failure"
	"github.com/Phenom-earth/phenom-mailer/internal/redact"
	"github.com/Phenom-earth/phenom-mailer/internal/render"
	"github.com/Phenom-earth/phenom-mailer/internal/send"
	"github.com/Phenom-earth/phenom-mailer/internal/timing"
)

var (
	reasonRequestInvalid  = string(failure.ReasonRequestInvalid)
	reasonUnknownTemplate = string(failure.ReasonUnknownTemplate)
	reasonEmailInvalid    = string(failure.ReasonEmailInvalid)
)

// Renderer renders one template's mail.
type Renderer interface {
	Render(d render.Data) (render.Message, error)
}

// Sender builds (and signs) the raw MIME of a mail and delivers it.
type Sender interface {
	Build(m send.Message) ([]byte, error)
	Deliver(ctx context.Context, raw []byte, m send.Message) (string, error)
}

// ReadySender is a Sender that can say, before sending, whether it can
// send (SES: the From identity's DKIM, the account's sending).
type ReadySender interface {
	Sender
	Ready(ctx context.Context) error
}

// Deduper holds idempotency keys: ClaimRequest fails with an error
// matching failure.ErrDuplicate when the key is sent or in flight with the
// same fingerprint, and with a permanent idempotency_conflict when it was
// used with another.
type Deduper interface {
	ClaimRequest(ctx context.Context, key, fingerprint string) error
	Sent(ctx context.Context, key, messageID string) error
	Release(ctx context.Context, key string) error
}

// SuppressionChecker looks the recipient up on SES's suppression list.
type SuppressionChecker interface {
	Suppressed(ctx context.Context, addr string) (*send.Suppression, error)
}

// Pacer holds a send until the rate allows it (or ctx ends).
type Pacer interface {
	Wait(ctx context.Context) error
}

// Entry points of a request.
const (
	SourceSQS = "sqs"
	SourceURL = "url"
	SourceCLI = "cli"
)

// Source is where a request came from and who sent it.
type Source struct {
	Kind string // SourceSQS, SourceURL or SourceCLI
	// CallerARN is the caller's IAM identity (the function URL's
	// requestContext.authorizer.iam.userArn); "" when unknown.
	CallerARN string
	// MessageID is the SQS message id: the idempotency key of a request
	// that gives none.
	MessageID string
}

// The outcomes, as on the Cognito path.
const (
	OutcomeSent       = "sent"
	OutcomeDuplicate  = "duplicate"
	OutcomeRefused    = "refused"
	OutcomeFailed     = "failed"
	OutcomeSuppressed = "suppressed"
)

// Result is what became of one request. It never holds the data, a
// rendered body or an unmasked address.
type Result struct {
	Outcome        string   `json:"outcome"`
	Reason         string   `json:"reason,omitempty"`
	Template       string   `json:"template,omitempty"`
	Service        string   `json:"service,omitempty"`
	Caller         string   `json:"caller,omitempty"`
	Source         string   `json:"source,omitempty"`
	Recipient      string   `json:"recipient,omitempty"`
	MessageID      string   `json:"message_id,omitempty"`
	Errors         []string `json:"errors,omitempty"`
	Error          string   `json:"error,omitempty"`
	IdempotencyKey string   `json:"idempotency_key,omitempty"`
	RequestID      string   `json:"request_id,omitempty"`
	DurationMS     float64  `json:"duration_ms"`
	Stages         Stages   `json:"stages"`
}

// Stages are the milliseconds spent in each stage.
type Stages struct {
	Claim  float64 `json:"claim_ms,omitempty"`
	Ready  float64 `json:"ready_ms,omitempty"`
	Pace   float64 `json:"pace_ms,omitempty"`
	Render float64 `json:"render_ms,omitempty"`
	MIME   float64 `json:"mime_ms,omitempty"`
	Send   float64 `json:"send_ms,omitempty"`
}

// Retryable reports whether a later attempt may succeed: the SQS message
// goes back to the queue.
func (r Result) Retryable() bool { return r.Outcome == OutcomeFailed }

// Handler sends the mail of one request.
type Handler struct {
	Renderer Renderer
	Sender   Sender
	// Deduper, when set, holds idempotency keys.
	Deduper Deduper
	// Suppression, when set, is asked before sending.
	Suppression SuppressionChecker
	// Pacer, when set, holds each send to the instance's rate.
	Pacer       Pacer
	Environment string // the "environment" email tag
	Logger      *slog.Logger
	Now         func() time.Time
}

// Handle decodes, validates and sends one request's mail, logs one line
// and returns the outcome.
func (h *Handler) Handle(ctx context.Context, body []byte, src Source) Result {
	start := h.now()
	res := Result{Source: src.Kind, Caller: src.CallerARN}
	req, err := Decode(body)
	if err == nil {
		res.Template, res.Recipient = truncate(req.Template, 64), redact.Email(req.To)
		res.Service = serviceOf(req, src)
		res.IdempotencyKey = truncate(req.IdempotencyKey, MaxIdempotencyKey)
		var msgID string
		msgID, err = h.handle(ctx, req, src, &res)
		res.MessageID = msgID
	}
	to := ""
	if req != nil {
		to = req.To
	}
	return h.finish(ctx, start, res, err, to)
}

// handle is the pipeline of one request, each stage a function below.
func (h *Handler) handle(ctx context.Context, req *Request, src Source, res *Result) (msgID string, err error) {
	st := &res.Stages
	if err := Validate(req); err != nil {
		return "", err
	}
	settle, err := h.claim(ctx, req, src, res.Service, st)
	if err != nil {
		return "", err
	}
	defer func() { settle(err, msgID) }()
	out, err := h.render(req, res.Service, st)
	if err != nil {
		return "", err
	}
	raw, err := h.build(out, st)
	if err != nil {
		return "", err
	}
	if err := h.check(ctx, req.To, st); err != nil {
		return "", err
	}
	return h.deliver(ctx, raw, out, st)
}

// claim takes the request's idempotency key, when there is a Deduper and
// a key (the request's, scoped by its caller, or the SQS message id), and
// returns what settles it: marked sent, or released for a retry.
func (h *Handler) claim(ctx context.Context, req *Request, src Source, service string, st *Stages) (func(error, string), error) {
	key := idempotencyKey(req, src, service)
	if h.Deduper == nil || key == "" {
		return func(error, string) {}, nil
	}
	t0 := time.Now()
	cerr := h.Deduper.ClaimRequest(ctx, key, Fingerprint(req))
	st.Claim = timing.MS(time.Since(t0))
	if cerr != nil {
		if errors.Is(cerr, failure.ErrDuplicate) {
			return nil, cerr
		}
		var fe *failure.Error
		if errors.As(cerr, &fe) {
			return nil, cerr
		}
		return nil, failure.Retryable(failure.ReasonIdempotencyUnavailable, cerr)
	}
	return func(err error, msgID string) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		var se *suppressedError
		if err == nil || errors.As(err, &se) {
			if serr := h.Deduper.Sent(cctx, key, msgID); serr != nil {
				h.warn(ctx, "idempotency: the mail was sent but could not be marked sent", serr)
			}
			return
		}
		if rerr := h.Deduper.Release(cctx, key); rerr != nil {
			h.warn(ctx, "idempotency: could not release the claim", rerr)
		}
	}, nil
}

// idempotencyKey is the table key of the request: its own key, or the
// SQS message id, scoped by the caller; "" when the request is sent once
// per call (the URL and the CLI without a key).
func idempotencyKey(req *Request, src Source, service string) string {
	k := req.IdempotencyKey
	if k == "" && src.Kind == SourceSQS {
		k = "sqs-message:" + src.MessageID
	}
	if k == "" {
		return ""
	}
	scope := src.Kind + ":" + service
	if src.Kind == SourceURL && src.CallerARN != "" {
		scope = src.CallerARN
	}
	sum := sha256.Sum256([]byte(scope + "\x00" + k))
	return "svc:v1:" + hex.EncodeToString(sum[:])
}

// render renders the template with the request's data and tags.
func (h *Handler) render(req *Request, service string, st *Stages) (send.Message, error) {
	t0 := time.Now()
	msg, err := h.Renderer.Render(render.Data{Trigger: req.Template, Locale: req.Locale, Email: req.To, Values: req.Data})
	st.Render = timing.MS(time.Since(t0))
	if err != nil {
		if errors.Is(err, render.ErrInvalidData) {
			return send.Message{}, &InvalidError{Reason: reasonRequestInvalid, Problems: flatten(err)}
		}
		return send.Message{}, failure.Permanent(failure.ReasonRenderFailed, err)
	}
	tags := map[string]string{}
	for k, v := range req.Tags {
		tags[k] = v
	}
	tags[TagService], tags[TagTemplate], tags[TagEnvironment] = service, req.Template, h.Environment
	return send.Message{To: req.To, Subject: msg.Subject, HTML: msg.HTML, Text: msg.Text, Tags: tags}, nil
}

// build turns the message into signed raw MIME.
func (h *Handler) build(out send.Message, st *Stages) ([]byte, error) {
	t0 := time.Now()
	raw, err := h.Sender.Build(out)
	st.MIME = timing.MS(time.Since(t0))
	return raw, err
}

// check asks whether the sender is ready and the recipient not suppressed,
// then waits for the pacer.
func (h *Handler) check(ctx context.Context, to string, st *Stages) error {
	t0 := time.Now()
	if rs, ok := h.Sender.(ReadySender); ok {
		if err := rs.Ready(ctx); err != nil {
			return err
		}
	}
	if h.Suppression != nil {
		s, err := h.Suppression.Suppressed(ctx, to)
		switch {
		case err != nil:
			h.warn(ctx, "suppression check failed; the mail is sent unchecked", errors.New(scrub(err.Error(), to)))
		case s != nil:
			return &suppressedError{s: *s}
		}
	}
	st.Ready = timing.MS(time.Since(t0))
	if h.Pacer != nil {
		t1 := time.Now()
		err := h.Pacer.Wait(ctx)
		st.Pace = timing.MS(time.Since(t1))
		if err != nil {
			return failure.Retryable(failure.ReasonSESThrottled, fmt.Errorf("paced: %w", err))
		}
	}
	return nil
}

// deliver hands the mail to SES (or the Maildir).
func (h *Handler) deliver(ctx context.Context, raw []byte, out send.Message, st *Stages) (string, error) {
	t0 := time.Now()
	id, err := h.Sender.Deliver(ctx, raw, out)
	st.Send = timing.MS(time.Since(t0))
	return id, err
}

// finish classifies err, logs the one line of this request and returns
// the result.
func (h *Handler) finish(ctx context.Context, start time.Time, res Result, err error, to string) Result {
	res.DurationMS = timing.MS(h.now().Sub(start))
	level := slog.LevelInfo
	var ie *InvalidError
	var se *suppressedError
	switch {
	case err == nil:
		res.Outcome = OutcomeSent
	case errors.As(err, &ie):
		res.Outcome, res.Reason, res.Errors = OutcomeRefused, ie.Reason, ie.Problems
		level = slog.LevelWarn
	case errors.As(err, &se):
		res.Outcome, res.Reason = OutcomeSuppressed, se.reason()
		level = slog.LevelWarn
	case errors.Is(err, failure.ErrDuplicate):
		res.Outcome, res.Reason = OutcomeDuplicate, string(failure.ReasonAlreadyHandled)
		var d interface{ DuplicateOf() (string, string) }
		if errors.As(err, &d) {
			res.Reason, res.MessageID = d.DuplicateOf()
		}
	default:
		reason, permanent := failure.Classify(err)
		res.Reason, res.Error = reason, scrub(err.Error(), to)
		res.Outcome, level = OutcomeFailed, slog.LevelError
		if permanent {
			res.Outcome, level = OutcomeRefused, slog.LevelWarn
		}
	}
	if h.Logger != nil {
		attrs := []slog.Attr{
			slog.String("outcome", res.Outcome),
			slog.String("source", res.Source),
			slog.String("template", res.Template),
			slog.String("service", res.Service),
			slog.String("recipient", res.Recipient),
			slog.Float64("duration_ms", res.DurationMS),
		}
		for _, a := range []struct{ k, v string }{{"caller", res.Caller}, {"message_id", res.MessageID}, {"reason", res.Reason}, {"error", res.Error}, {"request_id", res.RequestID}} {
			if a.v != "" {
				attrs = append(attrs, slog.String(a.k, a.v))
			}
		}
		if len(res.Errors) > 0 {
			attrs = append(attrs, slog.Any("errors", res.Errors))
		}
		h.Logger.LogAttrs(ctx, level, "service mail "+res.Outcome, attrs...)
	}
	return res
}

func (h *Handler) warn(ctx context.Context, msg string, err error) {
	if h.Logger != nil {
		h.Logger.LogAttrs(ctx, slog.LevelWarn, msg, slog.String("error", truncate(err.Error(), 512)))
	}
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// serviceOf is the request's service tag: its own, else the caller's IAM
// name, else "unknown".
func serviceOf(req *Request, src Source) string {
	if s := req.Tags[TagService]; s != "" {
		return s
	}
	if n := CallerName(src.CallerARN); n != "" && tagChars(n) {
		return n
	}
	return "unknown"
}

// CallerName is the last element of an IAM ARN's resource: the user name
// of "arn:aws:iam::123456789012:user/hasura", the role name of
// "arn:aws:sts::123456789012:assumed-role/backend/session".
func CallerName(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 {
		return ""
	}
	res := strings.Split(parts[5], "/")
	if len(res) >= 2 && res[0] == "assumed-role" {
		return res[1]
	}
	return res[len(res)-1]
}

// suppressedError ends a request whose recipient is on the suppression
// list.
type suppressedError struct{ s send.Suppression }

func (e *suppressedError) Error() string {
	return "the recipient is on the SES account-level suppression list (" + e.s.Reason + ")"
}

func (e *suppressedError) reason() string {
	if e.s.Reason == "COMPLAINT" {
		return string(failure.ReasonSuppressedComplaint)
	}
	return string(failure.ReasonSuppressedBounce)
}

// scrub removes the recipient from an error text.
func scrub(msg, to string) string {
	if to != "" {
		msg = strings.ReplaceAll(msg, to, redact.Email(to))
	}
	return truncate(msg, 1024)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
