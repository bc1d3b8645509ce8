package cognito

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/Phenom-earth/phenom-mailer/internal/failure"
	"github.com/Phenom-earth/phenom-mailer/internal/redact"
	"github.com/Phenom-earth/phenom-mailer/internal/render"
	"github.com/Phenom-earth/phenom-mailer/internal/send"
	"github.com/Phenom-earth/phenom-mailer/internal/timing"
)

// Decrypter returns the plaintext of the code Cognito encrypted for pool.
type Decrypter interface {
	Decrypt(ctx context.Context, ciphertext, pool string) (string, error)
}

// Renderer renders one trigger's mail.
type Renderer interface {
	Render(d render.Data) (render.Message, error)
}

// Sender builds (and signs) the raw MIME of a rendered mail, and delivers
// it, returning the provider's message id.
type Sender interface {
	Build(m send.Message) ([]byte, error)
	Deliver(ctx context.Context, raw []byte, m send.Message) (string, error)
}

// Deduper claims an event before its mail is sent, so that a repeated or
// concurrent delivery sends at most one mail. Claim returns an error
// matching failure.ErrDuplicate when the event was sent or is in progress.
type Deduper interface {
	Claim(ctx context.Context, key string) error
	Sent(ctx context.Context, key, messageID string) error
	Release(ctx context.Context, key string) error
}

// SuppressionChecker looks the recipient up on SES's account-level
// suppression list: the entry, or nil when the address is not on it. An
// error means the list could not be read (the mail is then sent anyway).
type SuppressionChecker interface {
	Suppressed(ctx context.Context, addr string) (*send.Suppression, error)
}

// ReadySender is a Sender that can check, before the mail is built, that it
// is able to send (SES: the From domain's DKIM). The handler runs Ready
// concurrently with the decrypt; Deliver must still refuse to send when not
// ready.
type ReadySender interface {
	Sender
	Ready(ctx context.Context) error
}

// The outcomes of one invocation.
const (
	OutcomeSent       = "sent"       // the mail was accepted for delivery
	OutcomeDuplicate  = "duplicate"  // this event was already handled
	OutcomeRefused    = "refused"    // permanent: a retry cannot help, nothing was sent
	OutcomeFailed     = "failed"     // retryable: nothing was sent, a later attempt may succeed
	OutcomeSuppressed = "suppressed" // permanent: the recipient is on SES's suppression list, nothing was sent
)

// Reasons of the suppressed outcome, after the list entry's reason.
const (
	ReasonSuppressedBounce    = string(failure.ReasonSuppressedBounce)
	ReasonSuppressedComplaint = string(failure.ReasonSuppressedComplaint)
)

// DefaultSuppressionTimeout bounds the suppression look-up (its retries
// included). A look-up that takes longer counts as failed and the mail is
// sent: a code that might be dropped beats one that is surely withheld.
const DefaultSuppressionTimeout = 2 * time.Second

// settleTimeout bounds marking a claim sent or releasing it, which runs
// even when the invocation's own deadline has passed.
const settleTimeout = 2 * time.Second

// MaxEventSize bounds the event JSON accepted (Cognito's are a few KiB).
const MaxEventSize = 256 << 10

// Result describes one invocation. It never holds a code, a temporary
// password, a rendered body or an unmasked address.
type Result struct {
	Outcome    string  `json:"outcome"`
	Reason     string  `json:"reason,omitempty"`
	Trigger    string  `json:"trigger"`
	Pool       string  `json:"pool"`
	ClientID   string  `json:"client_id,omitempty"`
	Recipient  string  `json:"recipient,omitempty"`
	MessageID  string  `json:"message_id,omitempty"`
	Error      string  `json:"error,omitempty"`
	DurationMS float64 `json:"duration_ms"`
	Stages     Stages  `json:"stages"`
	// Suppression is the recipient's suppression-list entry (outcome
	// suppressed).
	Suppression *send.Suppression `json:"suppression,omitempty"`
	// SuppressionCheckFailed says the suppression look-up failed and the
	// mail went out unchecked (counted as metric SuppressionCheckErrors).
	SuppressionCheckFailed bool `json:"suppression_check_failed,omitempty"`
	// RequestID is Lambda's request id, or one generated outside Lambda.
	RequestID string `json:"request_id,omitempty"`
	// DeliveryRecord is "written" or "failed" when a Recorder is set.
	DeliveryRecord string `json:"delivery_record,omitempty"`
}

// Stages are the milliseconds spent in each stage of one invocation. KMS
// and Send are mostly waiting on AWS: KMSWait is the part of Decrypt spent
// in KMS calls, and Send is the SES call (or the Maildir write).
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
}

// Retryable reports whether the invocation should fail so that Lambda's
// asynchronous retry sends the event again.
func (r Result) Retryable() bool { return r.Outcome == OutcomeFailed }

// Handler turns one custom email sender event into at most one mail.
type Handler struct {
	Decrypter Decrypter
	Renderer  Renderer
	Sender    Sender
	// Deduper, when set, makes delivery at most once per event.
	Deduper Deduper
	// Suppression, when set, is asked about the recipient before sending;
	// a suppressed recipient gets no mail (outcome suppressed).
	Suppression SuppressionChecker
	// SuppressionTimeout bounds the look-up (DefaultSuppressionTimeout when
	// zero, and at most half of the time left before the deadline).
	SuppressionTimeout time.Duration
	Environment        string // the "environment" email tag, e.g. "staging"
	Logger             *slog.Logger
	Now                func() time.Time
	// PoolClients maps a user pool id to its default app client: the reset
	// link's cid when the event names no client (see ResetClientID).
	PoolClients map[string]string
	// Recorder, when set, keeps the delivery record of each invocation.
	Recorder Recorder
}

// Decode parses an event. Errors are permanent failures.
func Decode(data []byte) (*Event, error) {
	if len(data) > MaxEventSize {
		return nil, failure.Permanent(failure.ReasonEventInvalid, fmt.Errorf("event is %d bytes, over the %d-byte limit", len(data), MaxEventSize))
	}
	var ev Event
	if err := json.Unmarshal(data, &ev); err != nil {
		return nil, failure.Permanent(failure.ReasonEventInvalid, fmt.Errorf("event is not valid JSON: %w", err))
	}
	return &ev, nil
}

// HandleJSON decodes and handles one event.
func (h *Handler) HandleJSON(ctx context.Context, data []byte) Result {
	start := h.now()
	ev, err := Decode(data)
	if err != nil {
		return h.finish(ctx, start, Result{}, err, "", "")
	}
	return h.Handle(ctx, ev)
}

// Handle decrypts, renders and sends the mail for ev, logs one line and
// returns the outcome.
func (h *Handler) Handle(ctx context.Context, ev *Event) Result {
	start := h.now()
	email := ev.Attr("email")
	res := Result{
		Trigger:   truncate(ev.Trigger().Name(), 64),
		Pool:      ev.UserPoolID,
		ClientID:  ev.CallerContext.ClientID,
		Recipient: MaskEmail(email),
	}
	msgID, code, err := h.handle(ctx, ev, email, &res)
	res.MessageID = msgID
	return h.finish(ctx, start, res, err, email, code)
}

// EventKey identifies an event for the Deduper: a SHA-256 over its
// ciphertext when it has one (unique per Cognito request), else over the
// whole event, as for account-takeover notices.
func EventKey(ev *Event) string {
	h := sha256.New()
	if ct := ev.Ciphertext(); ct != "" {
		h.Write([]byte("ciphertext\x00"))
		h.Write([]byte(ct))
	} else {
		b, _ := json.Marshal(ev) // a decoded event always marshals
		h.Write([]byte("event\x00"))
		h.Write(b)
	}
	return "v1:" + hex.EncodeToString(h.Sum(nil))
}

// handle is the pipeline of one event, each stage a function below:
// validate → claim → decrypt → render → build → deliver; finish records
// and logs the outcome. The sender's readiness and the suppression look-up
// (checks) run concurrently with claim and decrypt, and their answers are
// read just before deliver, where the sequential path would have asked, so
// that every failure keeps its reason; an early return cancels them.
func (h *Handler) handle(ctx context.Context, ev *Event, email string, res *Result) (msgID, code string, err error) {
	st := &res.Stages
	trigger, err := h.validate(ev, email)
	if err != nil {
		return "", "", err
	}
	checks := h.startChecks(ctx, email)
	defer checks.stop()
	settle, err := h.claim(ctx, ev, st)
	if err != nil {
		return "", "", err
	}
	defer func() { settle(err, msgID) }()
	if code, err = h.decrypt(ctx, ev, trigger, st); err != nil {
		return "", "", err
	}
	out, err := h.render(ev, trigger, email, code, st)
	if err != nil {
		return "", code, err
	}
	raw, err := h.build(out, st)
	if err != nil {
		return "", code, err
	}
	if err := checks.await(ctx, h, res, email, code); err != nil {
		return "", code, err
	}
	msgID, err = h.deliver(ctx, raw, out, st)
	return msgID, code, err
}

// validate refuses an event no retry can fix: an unknown trigger, no pool,
// a recipient that is not one address.
func (h *Handler) validate(ev *Event, email string) (TriggerSource, error) {
	trigger := ev.Trigger()
	if !trigger.Known() {
		return "", failure.Permanent(failure.ReasonUnknownTrigger, fmt.Errorf("trigger source %q is not a custom email sender trigger", truncate(ev.TriggerSource, 80)))
	}
	if ev.UserPoolID == "" {
		return "", failure.Permanent(failure.ReasonEventInvalid, errors.New("event has no userPoolId"))
	}
	if err := send.CheckRecipient(email); err != nil {
		return "", err
	}
	return trigger, nil
}

// checks are what does not depend on the code, running while the event is
// claimed and the code decrypted: the sender's readiness (the From
// domain's DKIM, cached) and the suppression look-up. Either may be nil.
type checks struct {
	ready *async[struct{}]
	supp  *async[*send.Suppression]
	stop  context.CancelFunc
}

// startChecks starts the checks the handler is configured for.
func (h *Handler) startChecks(ctx context.Context, email string) *checks {
	checkCtx, stop := context.WithCancel(ctx)
	c := &checks{stop: stop}
	if rs, ok := h.Sender.(ReadySender); ok {
		c.ready = goAsync(func() (struct{}, error) { return struct{}{}, rs.Ready(checkCtx) })
	}
	if h.Suppression != nil {
		sctx, scancel := context.WithTimeout(checkCtx, h.suppressionTimeout(ctx))
		c.supp = goAsync(func() (*send.Suppression, error) {
			defer scancel()
			return h.Suppression.Suppressed(sctx, email)
		})
	}
	return c
}

// await reads the checks' answers: a sender that is not ready fails the
// invocation, a suppressed recipient refuses it, a failed look-up is
// logged and the mail is sent unchecked.
func (c *checks) await(ctx context.Context, h *Handler, res *Result, email, code string) error {
	st := &res.Stages
	if c.ready != nil {
		_, rerr := c.ready.wait()
		st.Ready = timing.MS(c.ready.took)
		if rerr != nil {
			return rerr
		}
	}
	if c.supp != nil {
		s, serr := c.supp.wait()
		st.Suppression = timing.MS(c.supp.took)
		switch {
		case serr != nil:
			res.SuppressionCheckFailed = true
			h.warn(ctx, "suppression check failed; the mail is sent unchecked", errors.New(scrub(serr.Error(), email, code)))
		case s != nil:
			return &suppressedError{s: *s}
		}
	}
	return nil
}

// claim claims the event with the Deduper, when there is one, and returns
// the function that settles the claim once the invocation's error and
// message id are known: marked sent (also for a suppressed recipient, so
// that a redelivery does not send), else released for a retry.
func (h *Handler) claim(ctx context.Context, ev *Event, st *Stages) (settle func(err error, msgID string), err error) {
	if h.Deduper == nil {
		return func(error, string) {}, nil
	}
	key := EventKey(ev)
	t0 := time.Now()
	cerr := h.Deduper.Claim(ctx, key)
	st.Claim = timing.MS(time.Since(t0))
	if cerr != nil {
		if errors.Is(cerr, failure.ErrDuplicate) {
			return nil, cerr
		}
		return nil, failure.Retryable(failure.ReasonIdempotencyUnavailable, cerr)
	}
	return func(err error, msgID string) {
		// The invocation's deadline may have passed (that may be why it
		// failed): settle the claim on a short budget of its own.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
		defer cancel()
		var se *suppressedError
		if err == nil || errors.As(err, &se) {
			if serr := h.Deduper.Sent(cctx, key, msgID); serr != nil {
				h.warn(ctx, "idempotency: the mail was sent but could not be marked sent; a redelivery after the lease may send again", serr)
			}
			return
		}
		if rerr := h.Deduper.Release(cctx, key); rerr != nil {
			h.warn(ctx, "idempotency: could not release the claim; a retry waits for the lease to run out", rerr)
		}
	}, nil
}

// decrypt returns the event's code ("" for a trigger without one).
func (h *Handler) decrypt(ctx context.Context, ev *Event, trigger TriggerSource, st *Stages) (string, error) {
	if !trigger.HasCode() {
		return "", nil
	}
	if ev.Ciphertext() == "" {
		return "", failure.Permanent(failure.ReasonCodeMissing, errors.New("the event carries no encrypted code"))
	}
	wctx, wait := timing.WithWait(ctx)
	t0 := time.Now()
	code, err := h.Decrypter.Decrypt(wctx, ev.Ciphertext(), ev.UserPoolID)
	st.Decrypt, st.KMSWait = timing.MS(time.Since(t0)), timing.MS(wait.Total())
	if err != nil {
		return "", err
	}
	if trigger == TriggerAdminCreateUser {
		// Cognito HTML-escapes < and > in temporary passwords.
		code = tempPasswordUnescaper.Replace(code)
	}
	if code == "" {
		return "", failure.Permanent(failure.ReasonCodeMissing, errors.New("the decrypted code is empty"))
	}
	return code, nil
}

// render renders the trigger's template from the event and returns the
// message to send, with its email tags.
func (h *Handler) render(ev *Event, trigger TriggerSource, email, code string, st *Stages) (send.Message, error) {
	t0 := time.Now()
	msg, err := h.Renderer.Render(renderData(ev, trigger, email, code, h.PoolClients[ev.UserPoolID]))
	st.Render = timing.MS(time.Since(t0))
	if err != nil {
		return send.Message{}, failure.Permanent(failure.ReasonRenderFailed, err)
	}
	return send.Message{
		To:      email,
		Subject: msg.Subject,
		HTML:    msg.HTML,
		Text:    msg.Text,
		Tags: map[string]string{
			"trigger":     trigger.Name(),
			"pool":        ev.UserPoolID,
			"environment": h.Environment,
		},
	}, nil
}

// build turns the message into signed raw MIME.
func (h *Handler) build(out send.Message, st *Stages) ([]byte, error) {
	t0 := time.Now()
	raw, err := h.Sender.Build(out)
	st.MIME = timing.MS(time.Since(t0))
	return raw, err
}

// deliver hands the raw mail to SES (or the Maildir) and returns its
// message id.
func (h *Handler) deliver(ctx context.Context, raw []byte, out send.Message, st *Stages) (string, error) {
	t0 := time.Now()
	msgID, err := h.Sender.Deliver(ctx, raw, out)
	st.Send = timing.MS(time.Since(t0))
	return msgID, err
}

// suppressionTimeout is the look-up's budget: SuppressionTimeout, and at
// most half of what is left before ctx's deadline, so that a slow look-up
// leaves time to send.
func (h *Handler) suppressionTimeout(ctx context.Context) time.Duration {
	d := h.SuppressionTimeout
	if d <= 0 {
		d = DefaultSuppressionTimeout
	}
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl) / 2; left < d {
			d = left
		}
	}
	return d
}

// async is the result of a call running in its own goroutine.
type async[T any] struct {
	done chan struct{}
	v    T
	err  error
	took time.Duration
}

func goAsync[T any](f func() (T, error)) *async[T] {
	a := &async[T]{done: make(chan struct{})}
	go func() {
		defer close(a.done)
		t0 := time.Now()
		a.v, a.err = f()
		a.took = time.Since(t0)
	}()
	return a
}

func (a *async[T]) wait() (T, error) {
	<-a.done
	return a.v, a.err
}

// suppressedError ends an invocation whose recipient is on the suppression
// list: outcome suppressed, a permanent refusal.
type suppressedError struct{ s send.Suppression }

func (e *suppressedError) Error() string {
	return fmt.Sprintf("the recipient is on the SES account-level suppression list (%s, since %s)", e.s.Reason, e.s.LastUpdate.Format(time.RFC3339))
}

func (e *suppressedError) reason() string {
	if e.s.Reason == "COMPLAINT" {
		return ReasonSuppressedComplaint
	}
	return ReasonSuppressedBounce
}

var tempPasswordUnescaper = strings.NewReplacer("&lt;", "<", "&gt;", ">")

// MaxDisplayValue bounds, in characters, each user attribute shown in a
// mail (names, places, devices); longer values are clipped.
const MaxDisplayValue = 200

// maxLinkValue bounds a link taken from the event; a longer one is dropped.
const maxLinkValue = 2048

// renderData maps the event to what the templates show. poolClient is the
// pool's default app client, "" when none is configured.
func renderData(ev *Event, trigger TriggerSource, email, code, poolClient string) render.Data {
	locale := ev.Attr("locale")
	if l := ev.Request.ClientMetadata["locale"]; l != "" {
		locale = l
	}
	d := render.Data{
		Trigger:  trigger.Name(),
		Locale:   display(locale),
		Email:    email,
		Username: display(ev.UserName),
		Code:     code,
	}
	if trigger == TriggerForgotPassword {
		d.ClientID = ResetClientID(ev.CallerContext.ClientID, poolClient)
	}
	if trigger == TriggerAccountTakeOverNotification {
		d.Takeover = &render.Takeover{
			EventID:            display(ev.Attr("EVENT_ID")),
			LoginTime:          display(ev.Attr("LOGIN_TIME")),
			IPAddress:          display(ev.Attr("IP_ADDRESS")),
			City:               display(ev.Attr("CITY")),
			Country:            display(ev.Attr("COUNTRY")),
			DeviceName:         display(ev.Attr("DEVICE_NAME")),
			Action:             display(ev.Attr("ACCOUNT_TAKE_OVER_ACTION")),
			OneClickValidURL:   link(ev.Attr("ONE_CLICK_LINK_VALID")),
			OneClickInvalidURL: link(ev.Attr("ONE_CLICK_LINK_INVALID")),
		}
		if u := ev.Attr("USER_NAME"); u != "" {
			d.Username = display(u)
		}
	}
	return d
}

// display makes a user-supplied value fit to show: valid UTF-8, no control
// characters (line breaks become spaces), at most MaxDisplayValue characters.
// Escaping for HTML is the templates' job.
func display(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == MaxDisplayValue {
			b.WriteRune('…')
			break
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			r = ' '
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}

// link keeps an event-supplied URL only if it is short, valid UTF-8 and has
// no control characters; the templates accept only http(s) URLs.
func link(s string) string {
	if len(s) > maxLinkValue || !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return ""
	}
	return s
}

// finish classifies err, logs the one line of this invocation and returns
// the result. email and code are scrubbed from the error text.
func (h *Handler) finish(ctx context.Context, start time.Time, res Result, err error, email, code string) Result {
	res.DurationMS = timing.MS(h.now().Sub(start))
	if res.RequestID = RequestIDFrom(ctx); res.RequestID == "" {
		res.RequestID = NewRequestID()
	}
	level := slog.LevelInfo
	var se *suppressedError
	switch {
	case err == nil:
		res.Outcome = OutcomeSent
	case errors.As(err, &se):
		res.Outcome = OutcomeSuppressed
		res.Reason = se.reason()
		res.Suppression = &se.s
		level = slog.LevelWarn
	case errors.Is(err, failure.ErrDuplicate):
		res.Outcome = OutcomeDuplicate
		res.Reason = string(failure.ReasonAlreadyHandled)
		var d interface{ DuplicateOf() (string, string) }
		if errors.As(err, &d) {
			status, id := d.DuplicateOf()
			res.Reason, res.MessageID = status, id
		}
	default:
		reason, permanent := failure.Classify(err)
		res.Reason = reason
		res.Error = scrub(err.Error(), email, code)
		res.Outcome = OutcomeFailed
		level = slog.LevelError
		if permanent {
			res.Outcome = OutcomeRefused
			level = slog.LevelWarn
		}
	}
	h.record(ctx, &res, email)
	if h.Logger != nil {
		attrs := []slog.Attr{
			slog.String("outcome", res.Outcome),
			slog.String("request_id", res.RequestID),
			slog.String("trigger", res.Trigger),
			slog.String("pool", res.Pool),
			slog.String("client_id", res.ClientID),
			slog.String("recipient", res.Recipient),
			slog.Float64("duration_ms", res.DurationMS),
		}
		if res.MessageID != "" {
			attrs = append(attrs, slog.String("message_id", res.MessageID))
		}
		if res.Reason != "" {
			attrs = append(attrs, slog.String("reason", res.Reason))
		}
		if res.Error != "" {
			attrs = append(attrs, slog.String("error", res.Error))
		}
		if res.Suppression != nil {
			attrs = append(attrs, slog.Group("suppression",
				slog.String("reason", res.Suppression.Reason),
				slog.String("last_update", res.Suppression.LastUpdate.Format(time.RFC3339))))
		}
		if res.SuppressionCheckFailed {
			attrs = append(attrs, slog.Bool("suppression_check_failed", true))
		}
		if res.DeliveryRecord != "" {
			attrs = append(attrs, slog.String("delivery_record", res.DeliveryRecord))
		}
		h.Logger.LogAttrs(ctx, level, "mail "+res.Outcome, attrs...)
	}
	return res
}

// warn logs a problem that did not change the outcome.
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

// MaskEmail masks an address for display: "qa+reset@thephenom.app"
// becomes "q***@thephenom.app" (the format is redact.Email's).
func MaskEmail(addr string) string { return redact.Email(addr) }

// scrub removes the recipient and the code from an error text: SES, for
// one, quotes the recipient in MessageRejected.
func scrub(msg, email, code string) string {
	if email != "" {
		msg = strings.ReplaceAll(msg, email, MaskEmail(email))
		if lower := strings.ToLower(email); lower != email {
			msg = strings.ReplaceAll(msg, lower, MaskEmail(email))
		}
		// Any case, and percent-encoded as a request URL carries it (the
		// suppression look-up's path).
		msg = addressPattern(email).ReplaceAllLiteralString(msg, MaskEmail(email))
	}
	if len(code) >= 4 {
		msg = strings.ReplaceAll(msg, code, "[redacted]")
	}
	return truncate(msg, 1024)
}

// addressPattern matches addr in any case, each character that is not
// unreserved in a URL also in its %XX form.
func addressPattern(addr string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("(?i)")
	for _, r := range addr {
		lit := regexp.QuoteMeta(string(r))
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.~", r)) {
			b.WriteString(lit)
			continue
		}
		b.WriteString("(?:" + lit + "|")
		for _, c := range []byte(string(r)) {
			fmt.Fprintf(&b, "%%%02X", c)
		}
		b.WriteString(")")
	}
	return regexp.MustCompile(b.String())
}

// truncate bounds s to n bytes and "...", never cutting a UTF-8 character
// in half (a character the cut would split is dropped whole).
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}
