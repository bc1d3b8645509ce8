// Package service sends the mail other Phenom services ask for: one
// request shape (Request) from every entry point (the send queue, the
// function URL, `mailer send`), validated against the template registry,
// then run through the same pipeline as a Cognito mail (internal/pipeline):
// validate → claim → render → build → deliver → record.
//
// It must not know Lambda, SQS or HTTP types, nor the environment: the
// entry points in cmd/mailer turn their events into a Source and a body,
// and the Result into what their caller expects (Result.HTTP for the
// function URL, Requeue for an SQS batch item failure).
package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/delivery"
	"github.com/Phenom-earth/phenom-mailer/internal/failure"
	"github.com/Phenom-earth/phenom-mailer/internal/pipeline"
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
type Sender = pipeline.Sender

// ReadySender is a Sender that can say, before sending, whether it can
// send (SES: the From identity's DKIM, the account's sending).
type ReadySender = pipeline.ReadySender

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
type SuppressionChecker = pipeline.SuppressionChecker

// Pacer holds a send until the rate allows it (or ctx ends).
type Pacer = pipeline.Pacer

// Recorder keeps the delivery record of each request.
type Recorder = pipeline.Recorder

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
	OutcomeSent       = pipeline.OutcomeSent
	OutcomeDuplicate  = pipeline.OutcomeDuplicate
	OutcomeRefused    = pipeline.OutcomeRefused
	OutcomeFailed     = pipeline.OutcomeFailed
	OutcomeSuppressed = pipeline.OutcomeSuppressed
)

// statusInProgress is the reason of a duplicate whose first request is
// still in flight (idempotency.StatusInProgress).
const statusInProgress = "in_progress"

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

// Stages are the milliseconds spent in each stage (see pipeline.Stages;
// Decrypt and KMSWait stay zero, a service mail carries no encrypted code).
type Stages = pipeline.Stages

// Retryable reports whether a later attempt may succeed.
func (r Result) Retryable() bool { return r.Outcome == OutcomeFailed }

// Requeue reports whether the SQS message must go back to the queue: a
// retryable failure, or a duplicate whose first request is still in
// flight (it may yet fail and be released). Every other outcome is final.
func (r Result) Requeue() bool {
	return r.Retryable() || r.Outcome == OutcomeDuplicate && r.Reason == statusInProgress
}

// Handler sends the mail of one request.
type Handler struct {
	Renderer Renderer
	Sender   Sender
	// Deduper, when set, holds idempotency keys.
	Deduper Deduper
	// Suppression, when set, is asked before sending.
	Suppression SuppressionChecker
	// SuppressionTimeout bounds the look-up (pipeline.SuppressionBudget).
	SuppressionTimeout time.Duration
	// Pacer, when set, holds each send to the instance's rate.
	Pacer Pacer
	// Recorder, when set, keeps the delivery record of each request.
	Recorder    Recorder
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

// handle maps the request onto the pipeline (validate → claim → render →
// build → deliver; see package pipeline): its validation, its claim (the
// caller's idempotency key and the request's fingerprint) and its render
// data. finish records and logs the outcome.
func (h *Handler) handle(ctx context.Context, req *Request, src Source, res *Result) (msgID string, err error) {
	p := pipeline.Pipeline{Sender: h.Sender, Suppression: h.Suppression, SuppressionTimeout: h.SuppressionTimeout, Pacer: h.Pacer, Logger: h.Logger}
	rep, err := p.Run(ctx, &pipeline.Mail{
		To:       req.To,
		Validate: func() error { return Validate(req) },
		Claim:    h.claim(req, src, res.Service),
		Render:   func(string) (send.Message, error) { return h.render(req, res.Service) },
	})
	res.Stages = rep.Stages
	return rep.MessageID, err
}

// claim is the request's idempotency claim, when there is a Deduper and a
// key (the request's, scoped by its caller, or the SQS message id): the
// same key with another request is an idempotency_conflict.
func (h *Handler) claim(req *Request, src Source, service string) *pipeline.Claim {
	key := idempotencyKey(req, src, service)
	if h.Deduper == nil || key == "" {
		return nil
	}
	fp := Fingerprint(req)
	return &pipeline.Claim{
		Key:  key,
		Take: func(ctx context.Context, key string) error { return h.Deduper.ClaimRequest(ctx, key, fp) },
		Keys: h.Deduper,
	}
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
func (h *Handler) render(req *Request, service string) (send.Message, error) {
	msg, err := h.Renderer.Render(render.Data{Trigger: req.Template, Locale: req.Locale, Email: req.To, Values: req.Data})
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

// finish classifies err (an invalid request, else pipeline.Judge), records
// and logs the one line of this request and returns the result.
func (h *Handler) finish(ctx context.Context, start time.Time, res Result, err error, to string) Result {
	res.DurationMS = timing.MS(h.now().Sub(start))
	if res.RequestID == "" {
		res.RequestID = pipeline.RequestID(ctx)
	}
	var ie *InvalidError
	level := slog.LevelWarn
	if errors.As(err, &ie) {
		res.Outcome, res.Reason, res.Errors = OutcomeRefused, ie.Reason, ie.Problems
	} else {
		v := pipeline.Judge(err, to, "")
		res.Outcome, res.Reason, res.Error, level = v.Outcome, v.Reason, v.Error, v.Level
		if v.Outcome == OutcomeDuplicate {
			res.MessageID = v.MessageID
		}
	}
	h.record(ctx, &res, to)
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

// record writes the request's delivery record, when a Recorder is set; a
// failed write is logged and changes nothing else.
func (h *Handler) record(ctx context.Context, res *Result, to string) {
	if h.Recorder == nil || to == "" {
		return
	}
	a := delivery.Attempt{
		Source:    delivery.SourceService,
		Trigger:   res.Template,
		Outcome:   res.Outcome,
		Reason:    res.Reason,
		MessageID: res.MessageID,
		RequestID: res.RequestID,
		Time:      h.now(),
		Recipient: to,
	}
	if err := pipeline.Record(ctx, h.Recorder, a); err != nil && h.Logger != nil {
		h.Logger.LogAttrs(ctx, slog.LevelWarn, "delivery record: the attempt could not be written; the mail's outcome is unchanged",
			slog.String("error", err.Error()))
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

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
