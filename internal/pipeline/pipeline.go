// Package pipeline is the one sequence every mail goes through, whatever
// asked for it (a Cognito custom email sender event, a service request):
//
//	validate → claim → [decrypt] → render → build → deliver → record
//
// Run is that list, top to bottom, each stage a function of this file. A
// handler (internal/cognito, internal/service) maps its input onto a Mail:
// the stages that depend on the input (Validate, the idempotency Claim,
// Decrypt, Render) are the Mail's functions; the stages that do not
// (build, the sender's readiness and the suppression look-up, pacing,
// deliver, settling the claim) are the Pipeline's. The handler then turns
// Run's error into an outcome with Judge, keeps the delivery record with
// Record, and logs one line.
//
// The sender's readiness (the From domain's DKIM) and the recipient's
// suppression look-up depend on nothing the claim or the decrypt produce:
// they run concurrently with them and are read just before deliver, where
// a sequential pipeline would have asked, so that every failure keeps its
// reason; an early return cancels them.
//
// The package knows no Lambda, SQS, HTTP or AWS type, nor the
// environment.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/failure"
	"github.com/Phenom-earth/phenom-mailer/internal/send"
	"github.com/Phenom-earth/phenom-mailer/internal/timing"
)

// Sender builds (and signs) the raw MIME of a rendered mail, and delivers
// it, returning the provider's message id.
type Sender interface {
	Build(m send.Message) ([]byte, error)
	Deliver(ctx context.Context, raw []byte, m send.Message) (string, error)
}

// ReadySender is a Sender that can check, before the mail is built, that it
// is able to send (SES: the From domain's DKIM, the account's sending). Run
// asks Ready concurrently with the claim and the decrypt; Deliver must
// still refuse to send when not ready.
type ReadySender interface {
	Sender
	Ready(ctx context.Context) error
}

// SuppressionChecker looks the recipient up on SES's account-level
// suppression list: the entry, or nil when the address is not on it. An
// error means the list could not be read (the mail is then sent anyway).
type SuppressionChecker interface {
	Suppressed(ctx context.Context, addr string) (*send.Suppression, error)
}

// Pacer holds a send until the rate allows it, or fails when ctx ends
// first.
type Pacer interface {
	Wait(ctx context.Context) error
}

// Keys settles an idempotency claim once the mail's fate is known.
type Keys interface {
	Sent(ctx context.Context, key, messageID string) error
	Release(ctx context.Context, key string) error
}

// DefaultSuppressionTimeout bounds the suppression look-up (its retries
// included). A look-up that takes longer counts as failed and the mail is
// sent: a mail that might be dropped beats one that is surely withheld.
const DefaultSuppressionTimeout = 2 * time.Second

// SettleTimeout bounds marking a claim sent or releasing it, which runs
// even when the mail's own deadline has passed.
const SettleTimeout = 2 * time.Second

// Pipeline holds what every mail shares: how it is sent, checked and
// paced. Its zero value is not usable: Sender is required.
type Pipeline struct {
	Sender Sender
	// Suppression, when set, is asked about the recipient before sending;
	// a suppressed recipient gets no mail (a *SuppressedError).
	Suppression SuppressionChecker
	// SuppressionTimeout bounds the look-up (see SuppressionBudget).
	SuppressionTimeout time.Duration
	// Pacer, when set, holds each send to a rate.
	Pacer Pacer
	// Logger gets the warnings that do not change the outcome (a failed
	// suppression look-up, a claim that could not be settled).
	Logger *slog.Logger
}

// Mail is one mail: the stages that depend on what asked for it.
type Mail struct {
	// To is the recipient: what the suppression list is asked about and
	// what every error text is scrubbed of.
	To string
	// Validate refuses what no retry can fix; nil when there is nothing
	// to check.
	Validate func() error
	// Claim is the mail's idempotency claim; nil when the mail is sent
	// once per call.
	Claim *Claim
	// Decrypt returns the mail's code; nil when the mail carries none.
	Decrypt func(ctx context.Context) (code string, err error)
	// Render returns the message to send, with its email tags, given the
	// code ("" without one).
	Render func(code string) (send.Message, error)
}

// Claim is an idempotency key and how to take it.
type Claim struct {
	Key string
	// Take claims Key: an error matching failure.ErrDuplicate when it is
	// sent or in flight, a *failure.Error when it cannot be claimed for a
	// reason of its own (an idempotency_conflict); any other error means
	// the table could not be asked (retryable, idempotency_unavailable).
	Take func(ctx context.Context, key string) error
	// Keys marks Key sent or releases it.
	Keys Keys
}

// Report is what Run found besides its error.
type Report struct {
	MessageID string
	// Code is the decrypted code ("" without one): never to be shown,
	// kept so that error texts can be scrubbed of it.
	Code   string
	Stages Stages
	// SuppressionCheckFailed says the suppression look-up failed and the
	// mail went out unchecked.
	SuppressionCheckFailed bool
}

// Stages are the milliseconds spent in each stage of one mail. KMS and Send
// are mostly waiting on AWS: KMSWait is the part of Decrypt spent in KMS
// calls, and Send is the SES call (or the Maildir write).
type Stages struct {
	Claim   float64 `json:"claim_ms,omitempty"`
	Decrypt float64 `json:"decrypt_ms,omitempty"`
	KMSWait float64 `json:"kms_wait_ms,omitempty"`
	Render  float64 `json:"render_ms,omitempty"`
	MIME    float64 `json:"mime_ms,omitempty"`
	Send    float64 `json:"send_ms,omitempty"`
	// Ready (the sender's DKIM check) and Suppression (the suppression
	// look-up) run concurrently with Claim and Decrypt; they are not part
	// of the sum.
	Ready       float64 `json:"ready_ms,omitempty"`
	Suppression float64 `json:"suppression_ms,omitempty"`
	// Pace is the time spent waiting for the send rate.
	Pace float64 `json:"pace_ms,omitempty"`
}

// Run sends one mail: validate → claim → [decrypt] → render → build →
// deliver, with the checks started before the claim and read before
// deliver. The claim is settled on the way out: marked sent when the mail
// was sent (or the recipient is suppressed, so that a redelivery does not
// send), else released for a retry. The error is what Judge classifies.
func (p *Pipeline) Run(ctx context.Context, m *Mail) (rep Report, err error) {
	st := &rep.Stages
	if err := validate(m); err != nil {
		return rep, err
	}
	checks := p.startChecks(ctx, m.To)
	defer checks.stop()
	settle, err := p.claim(ctx, m.Claim, st)
	if err != nil {
		return rep, err
	}
	defer func() { settle(err, rep.MessageID) }()
	if rep.Code, err = decrypt(ctx, m, st); err != nil {
		return rep, err
	}
	out, err := render(m, rep.Code, st)
	if err != nil {
		return rep, err
	}
	raw, err := p.build(out, st)
	if err != nil {
		return rep, err
	}
	if err := p.await(ctx, checks, &rep, m.To); err != nil {
		return rep, err
	}
	if err := p.pace(ctx, st); err != nil {
		return rep, err
	}
	rep.MessageID, err = p.deliver(ctx, raw, out, st)
	return rep, err
}

// validate refuses a mail no retry can fix.
func validate(m *Mail) error {
	if m.Validate == nil {
		return nil
	}
	return m.Validate()
}

// claim takes the mail's idempotency key, when it has one, and returns the
// function that settles the claim once the mail's error and message id are
// known.
func (p *Pipeline) claim(ctx context.Context, c *Claim, st *Stages) (settle func(err error, msgID string), err error) {
	if c == nil {
		return func(error, string) {}, nil
	}
	t0 := time.Now()
	cerr := c.Take(ctx, c.Key)
	st.Claim = timing.MS(time.Since(t0))
	if cerr != nil {
		var fe *failure.Error
		if errors.Is(cerr, failure.ErrDuplicate) || errors.As(cerr, &fe) {
			return nil, cerr
		}
		return nil, failure.Retryable(failure.ReasonIdempotencyUnavailable, cerr)
	}
	return func(err error, msgID string) {
		// The mail's deadline may have passed (that may be why it
		// failed): settle the claim on a short budget of its own.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), SettleTimeout)
		defer cancel()
		var se *SuppressedError
		if err == nil || errors.As(err, &se) {
			if serr := c.Keys.Sent(cctx, c.Key, msgID); serr != nil {
				p.warn(ctx, "idempotency: the mail was sent but could not be marked sent; a redelivery after the lease may send again", serr)
			}
			return
		}
		if rerr := c.Keys.Release(cctx, c.Key); rerr != nil {
			p.warn(ctx, "idempotency: could not release the claim; a retry waits for the lease to run out", rerr)
		}
	}, nil
}

// decrypt returns the mail's code ("" for a mail without one), the time
// spent in KMS calls apart.
func decrypt(ctx context.Context, m *Mail, st *Stages) (string, error) {
	if m.Decrypt == nil {
		return "", nil
	}
	wctx, wait := timing.WithWait(ctx)
	t0 := time.Now()
	code, err := m.Decrypt(wctx)
	st.Decrypt, st.KMSWait = timing.MS(time.Since(t0)), timing.MS(wait.Total())
	return code, err
}

// render renders the mail's template.
func render(m *Mail, code string, st *Stages) (send.Message, error) {
	t0 := time.Now()
	out, err := m.Render(code)
	st.Render = timing.MS(time.Since(t0))
	return out, err
}

// build turns the message into signed raw MIME.
func (p *Pipeline) build(out send.Message, st *Stages) ([]byte, error) {
	t0 := time.Now()
	raw, err := p.Sender.Build(out)
	st.MIME = timing.MS(time.Since(t0))
	return raw, err
}

// pace waits for the send rate, when there is a Pacer: a wait that cannot
// end before ctx does is a retryable throttling.
func (p *Pipeline) pace(ctx context.Context, st *Stages) error {
	if p.Pacer == nil {
		return nil
	}
	t0 := time.Now()
	err := p.Pacer.Wait(ctx)
	st.Pace = timing.MS(time.Since(t0))
	if err != nil {
		return failure.Retryable(failure.ReasonSESThrottled, fmt.Errorf("paced: %w", err))
	}
	return nil
}

// deliver hands the raw mail to SES (or the Maildir) and returns its
// message id.
func (p *Pipeline) deliver(ctx context.Context, raw []byte, out send.Message, st *Stages) (string, error) {
	t0 := time.Now()
	msgID, err := p.Sender.Deliver(ctx, raw, out)
	st.Send = timing.MS(time.Since(t0))
	return msgID, err
}

// warn logs a problem that did not change the outcome.
func (p *Pipeline) warn(ctx context.Context, msg string, err error) {
	if p.Logger != nil {
		p.Logger.LogAttrs(ctx, slog.LevelWarn, msg, slog.String("error", Truncate(err.Error(), 512)))
	}
}
