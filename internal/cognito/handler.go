package cognito

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/Phenom-earth/phenom-mailer/internal/failure"
	"github.com/Phenom-earth/phenom-mailer/internal/pipeline"
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
type Sender = pipeline.Sender

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
type SuppressionChecker = pipeline.SuppressionChecker

// ReadySender is a Sender that can check, before the mail is built, that it
// is able to send (SES: the From domain's DKIM). The handler runs Ready
// concurrently with the decrypt; Deliver must still refuse to send when not
// ready.
type ReadySender = pipeline.ReadySender

// The outcomes of one invocation.
const (
	OutcomeSent       = pipeline.OutcomeSent       // the mail was accepted for delivery
	OutcomeDuplicate  = pipeline.OutcomeDuplicate  // this event was already handled
	OutcomeRefused    = pipeline.OutcomeRefused    // permanent: a retry cannot help, nothing was sent
	OutcomeFailed     = pipeline.OutcomeFailed     // retryable: nothing was sent, a later attempt may succeed
	OutcomeSuppressed = pipeline.OutcomeSuppressed // permanent: the recipient is on SES's suppression list, nothing was sent
)

// Reasons of the suppressed outcome, after the list entry's reason.
const (
	ReasonSuppressedBounce    = string(failure.ReasonSuppressedBounce)
	ReasonSuppressedComplaint = string(failure.ReasonSuppressedComplaint)
)

// DefaultSuppressionTimeout bounds the suppression look-up (its retries
// included). A look-up that takes longer counts as failed and the mail is
// sent: a code that might be dropped beats one that is surely withheld.
const DefaultSuppressionTimeout = pipeline.DefaultSuppressionTimeout

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
// Stages are the milliseconds spent in each stage of one invocation (see
// pipeline.Stages; Pace stays zero, the Cognito path is not paced).
type Stages = pipeline.Stages

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
// handle maps the event onto the pipeline (validate → claim → decrypt →
// render → build → deliver; see package pipeline): its validation, its
// claim (the event key), its code and its render data. finish records and
// logs the outcome.
func (h *Handler) handle(ctx context.Context, ev *Event, email string, res *Result) (msgID, code string, err error) {
	trigger := ev.Trigger()
	p := pipeline.Pipeline{Sender: h.Sender, Suppression: h.Suppression, SuppressionTimeout: h.SuppressionTimeout, Logger: h.Logger}
	rep, err := p.Run(ctx, &pipeline.Mail{
		To:       email,
		Validate: func() error { _, err := h.validate(ev, email); return err },
		Claim:    h.claim(ev),
		Decrypt:  h.decrypt(ev, trigger),
		Render:   func(code string) (send.Message, error) { return h.render(ev, trigger, email, code) },
	})
	res.Stages, res.SuppressionCheckFailed = rep.Stages, rep.SuppressionCheckFailed
	return rep.MessageID, rep.Code, err
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

// claim is the event's idempotency claim with the Deduper, when there is
// one: keyed by EventKey, marked sent once the mail is sent (also for a
// suppressed recipient, so that a redelivery does not send), else released
// for a retry.
func (h *Handler) claim(ev *Event) *pipeline.Claim {
	if h.Deduper == nil {
		return nil
	}
	return &pipeline.Claim{Key: EventKey(ev), Take: h.Deduper.Claim, Keys: h.Deduper}
}

// decrypt is the stage that returns the event's code: nil for a trigger
// without one.
func (h *Handler) decrypt(ev *Event, trigger TriggerSource) func(ctx context.Context) (string, error) {
	if !trigger.HasCode() {
		return nil
	}
	return func(ctx context.Context) (string, error) {
		if ev.Ciphertext() == "" {
			return "", failure.Permanent(failure.ReasonCodeMissing, errors.New("the event carries no encrypted code"))
		}
		code, err := h.Decrypter.Decrypt(ctx, ev.Ciphertext(), ev.UserPoolID)
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
}

// render renders the trigger's template from the event and returns the
// message to send, with its email tags.
func (h *Handler) render(ev *Event, trigger TriggerSource, email, code string) (send.Message, error) {
	msg, err := h.Renderer.Render(renderData(ev, trigger, email, code, h.PoolClients[ev.UserPoolID]))
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

// suppressionTimeout is the look-up's budget: SuppressionTimeout, and at
// most half of what is left before ctx's deadline, so that a slow look-up
// leaves time to send.
func (h *Handler) suppressionTimeout(ctx context.Context) time.Duration {
	return pipeline.SuppressionBudget(ctx, h.SuppressionTimeout)
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

// finish classifies err (pipeline.Judge), records and logs the one line of
// this invocation and returns the result. email and code are scrubbed from
// the error text.
func (h *Handler) finish(ctx context.Context, start time.Time, res Result, err error, email, code string) Result {
	res.DurationMS = timing.MS(h.now().Sub(start))
	res.RequestID = pipeline.RequestID(ctx)
	v := pipeline.Judge(err, email, code)
	res.Outcome, res.Reason, res.Error, res.Suppression = v.Outcome, v.Reason, v.Error, v.Suppression
	if v.Outcome == OutcomeDuplicate {
		res.MessageID = v.MessageID
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
		h.Logger.LogAttrs(ctx, v.Level, "mail "+res.Outcome, attrs...)
	}
	return res
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
// one, quotes the recipient in MessageRejected (pipeline.Scrub).
func scrub(msg, email, code string) string { return pipeline.Scrub(msg, email, code) }

// truncate bounds s to n bytes and "...", never cutting a UTF-8 character
// in half (pipeline.Truncate).
func truncate(s string, n int) string { return pipeline.Truncate(s, n) }
