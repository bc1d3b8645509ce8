package cognito

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/failure"
	"github.com/Phenom-earth/phenom-mailer/internal/send"
)

// Unit tests of the suppression check and of the cold path's concurrency,
// with fakes; cmd/mailer tests the same against the SES stand-in.

type fakeSuppression struct {
	entry *send.Suppression
	err   error
	// hook runs inside the look-up, before it answers.
	hook  func(ctx context.Context) error
	calls atomic.Int32
	addr  string
}

func (f *fakeSuppression) Suppressed(ctx context.Context, addr string) (*send.Suppression, error) {
	f.calls.Add(1)
	f.addr = addr
	if f.hook != nil {
		if err := f.hook(ctx); err != nil {
			return nil, err
		}
	}
	return f.entry, f.err
}

// readySender is a fakeSender with a readiness check (SES: DKIM).
type readySender struct {
	*fakeSender
	ready func(ctx context.Context) error
	calls atomic.Int32
}

func (r *readySender) Ready(ctx context.Context) error {
	r.calls.Add(1)
	return r.ready(ctx)
}

// hookDecrypter runs hook before decrypting.
type hookDecrypter struct {
	*fakeDecrypter
	hook func(ctx context.Context) error
}

func (d *hookDecrypter) Decrypt(ctx context.Context, ct, pool string) (string, error) {
	if err := d.hook(ctx); err != nil {
		return "", err
	}
	return d.fakeDecrypter.Decrypt(ctx, ct, pool)
}

var listed = time.Date(2026, 10, 3, 8, 15, 0, 0, time.UTC)

func TestSuppressedRecipientGetsNoMail(t *testing.T) {
	for _, tt := range []struct{ sesReason, reason string }{
		{"BOUNCE", ReasonSuppressedBounce},
		{"COMPLAINT", ReasonSuppressedComplaint},
	} {
		t.Run(tt.sesReason, func(t *testing.T) {
			f := newFixture(t)
			sup := &fakeSuppression{entry: &send.Suppression{Reason: tt.sesReason, LastUpdate: listed}}
			d := &fakeDeduper{}
			f.h.Suppression, f.h.Deduper = sup, d
			res := f.h.Handle(context.Background(), event(TriggerForgotPassword, "ct-code", nil))
			if res.Outcome != OutcomeSuppressed || res.Reason != tt.reason {
				t.Fatalf("outcome %s/%s (%s), want suppressed/%s", res.Outcome, res.Reason, res.Error, tt.reason)
			}
			if len(f.snd.sent) != 0 {
				t.Fatal("a mail went to a suppressed recipient")
			}
			if res.Retryable() {
				t.Error("a suppressed recipient is retryable: Lambda would retry it")
			}
			if sup.addr != "qa+reset@thephenom.app" {
				t.Errorf("looked up %q", sup.addr)
			}
			if res.Suppression == nil || res.Suppression.Reason != tt.sesReason || !res.Suppression.LastUpdate.Equal(listed) {
				t.Errorf("result suppression = %+v", res.Suppression)
			}
			b, _ := json.Marshal(res)
			if !strings.Contains(string(b), `"suppression":{"reason":"`+tt.sesReason+`","last_update":"2026-10-03T08:15:00Z"}`) {
				t.Errorf("outcome JSON lacks the suppression: %s", b)
			}
			logs := f.logs.String()
			for _, want := range []string{`"outcome":"suppressed"`, `"reason":"` + tt.reason + `"`, `"suppression":{"reason":"` + tt.sesReason + `","last_update":"2026-10-03T08:15:00Z"}`} {
				if !strings.Contains(logs, want) {
					t.Errorf("log line lacks %s: %s", want, logs)
				}
			}
			assertNoSecrets(t, logs+string(b), "qa+reset@thephenom.app", "482913")
			// The claim is settled as done, so that a redelivery sends nothing.
			if len(d.sent) != 1 || len(d.released) != 0 {
				t.Errorf("claim: sent %d, released %d; a suppressed outcome must settle it", len(d.sent), len(d.released))
			}
		})
	}
}

func TestNotSuppressedIsSent(t *testing.T) {
	f := newFixture(t)
	sup := &fakeSuppression{}
	f.h.Suppression = sup
	res := f.h.Handle(context.Background(), event(TriggerForgotPassword, "ct-code", nil))
	if res.Outcome != OutcomeSent || len(f.snd.sent) != 1 || sup.calls.Load() != 1 {
		t.Fatalf("%s/%s, %d mails, %d look-ups", res.Outcome, res.Reason, len(f.snd.sent), sup.calls.Load())
	}
	if res.Suppression != nil || res.SuppressionCheckFailed {
		t.Errorf("result = %+v", res)
	}
}

func TestFailedSuppressionCheckStillSends(t *testing.T) {
	tests := []struct {
		name string
		sup  *fakeSuppression
		to   time.Duration
	}{
		// The SDK's error for an unreachable endpoint quotes the request
		// URL, with the address path-escaped.
		{"unreachable", &fakeSuppression{err: errors.New(`ses: get suppressed destination: Get "http://127.0.0.1:9/v2/email/suppression/addresses/qa%2Breset@thephenom.app": connection refused`)}, 0},
		{"denied", &fakeSuppression{err: errors.New("ses: get suppressed destination: AccessDeniedException: not authorized to perform ses:GetSuppressedDestination")}, 0},
		{"slower than its budget", &fakeSuppression{hook: func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		}}, 50 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.h.Suppression, f.h.SuppressionTimeout = tt.sup, tt.to
			res := f.h.Handle(context.Background(), event(TriggerForgotPassword, "ct-code", nil))
			if res.Outcome != OutcomeSent || len(f.snd.sent) != 1 {
				t.Fatalf("%s/%s: a failed look-up must never block the mail", res.Outcome, res.Reason)
			}
			if !res.SuppressionCheckFailed {
				t.Error("the failed look-up is not in the result (nothing would count it)")
			}
			logs := f.logs.String()
			if !strings.Contains(logs, "suppression check failed") || !strings.Contains(logs, `"suppression_check_failed":true`) {
				t.Errorf("the failure is not logged: %s", logs)
			}
			assertNoSecrets(t, logs, "qa+reset@thephenom.app", "qa%2Breset@thephenom.app", "482913")
		})
	}
}

// rendezvous makes two calls wait for each other: each marks itself started
// and waits (up to a generous bound) for the other. Run one after the other,
// the first waits in vain and fails; run concurrently, both pass.
type rendezvous struct {
	a, b       chan struct{}
	onceA, onB sync.Once
}

func newRendezvous() *rendezvous {
	return &rendezvous{a: make(chan struct{}), b: make(chan struct{})}
}

func (r *rendezvous) arrive(me, other chan struct{}, once *sync.Once) error {
	once.Do(func() { close(me) })
	select {
	case <-other:
		return nil
	case <-time.After(5 * time.Second):
		return errors.New("the other call never started while this one ran: not concurrent")
	}
}

func (r *rendezvous) A(ctx context.Context) error { return r.arrive(r.a, r.b, &r.onceA) }
func (r *rendezvous) B(ctx context.Context) error { return r.arrive(r.b, r.a, &r.onB) }

func TestSuppressionCheckOverlapsDecrypt(t *testing.T) {
	f := newFixture(t)
	rv := newRendezvous()
	f.h.Decrypter = &hookDecrypter{fakeDecrypter: f.dec, hook: func(ctx context.Context) error {
		if err := rv.A(ctx); err != nil {
			return failure.Retryable(failure.ReasonKMSUnavailable, err)
		}
		return nil
	}}
	sup := &fakeSuppression{hook: rv.B}
	f.h.Suppression = sup
	res := f.h.Handle(context.Background(), event(TriggerForgotPassword, "ct-code", nil))
	if res.Outcome != OutcomeSent || res.SuppressionCheckFailed {
		t.Fatalf("%s/%s (%s), check failed %v: the look-up and the decrypt did not overlap", res.Outcome, res.Reason, res.Error, res.SuppressionCheckFailed)
	}
}

func TestReadinessCheckOverlapsDecrypt(t *testing.T) {
	f := newFixture(t)
	rv := newRendezvous()
	f.h.Decrypter = &hookDecrypter{fakeDecrypter: f.dec, hook: func(ctx context.Context) error {
		if err := rv.A(ctx); err != nil {
			return failure.Retryable(failure.ReasonKMSUnavailable, err)
		}
		return nil
	}}
	rs := &readySender{fakeSender: f.snd, ready: rv.B}
	f.h.Sender = rs
	res := f.h.Handle(context.Background(), event(TriggerForgotPassword, "ct-code", nil))
	if res.Outcome != OutcomeSent {
		t.Fatalf("%s/%s (%s): the DKIM check and the decrypt did not overlap", res.Outcome, res.Reason, res.Error)
	}
	if rs.calls.Load() != 1 {
		t.Errorf("Ready called %d times", rs.calls.Load())
	}
}

// The concurrent checks keep the sequential path's failure reasons: a
// decrypt failure wins over a DKIM failure (the decrypt came first), and a
// sender that is not ready never sends, even to a recipient that is fine;
// a recipient who is suppressed and a sender that is not ready is the
// sender's failure (the suppressed outcome replaces only a send).
func TestConcurrentChecksKeepTheReasons(t *testing.T) {
	notReady := failure.Retryable(failure.ReasonDKIMNotReady, errors.New("DKIM PENDING"))
	tests := []struct {
		name    string
		decErr  error
		ready   error
		entry   *send.Suppression
		outcome string
		reason  string
	}{
		{"decrypt and dkim fail", failure.Permanent(failure.ReasonCiphertextInvalid, errors.New("tampered")), notReady, nil, OutcomeRefused, "ciphertext_invalid"},
		{"kms down and dkim fail", failure.Retryable(failure.ReasonKMSUnavailable, errors.New("throttled")), notReady, nil, OutcomeFailed, "kms_unavailable"},
		{"dkim fails", nil, notReady, nil, OutcomeFailed, "dkim_not_ready"},
		{"dkim fails, recipient suppressed", nil, notReady, &send.Suppression{Reason: "BOUNCE", LastUpdate: listed}, OutcomeFailed, "dkim_not_ready"},
		{"decrypt fails, recipient suppressed", failure.Permanent(failure.ReasonPoolMismatch, errors.New("other pool")), nil, &send.Suppression{Reason: "BOUNCE", LastUpdate: listed}, OutcomeRefused, "pool_mismatch"},
		{"ses throttles the dkim check", nil, failure.Retryable(failure.ReasonSESThrottled, errors.New("slow down")), nil, OutcomeFailed, "ses_throttled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.dec.err = tt.decErr
			f.h.Sender = &readySender{fakeSender: f.snd, ready: func(context.Context) error { return tt.ready }}
			f.h.Suppression = &fakeSuppression{entry: tt.entry}
			res := f.h.Handle(context.Background(), event(TriggerForgotPassword, "ct-code", nil))
			if res.Outcome != tt.outcome || res.Reason != tt.reason {
				t.Fatalf("got %s/%s, want %s/%s", res.Outcome, res.Reason, tt.outcome, tt.reason)
			}
			if len(f.snd.sent) != 0 {
				t.Fatal("a mail was sent")
			}
		})
	}
}

// An early failure does not wait for the checks still running: they are
// cancelled.
func TestEarlyFailureCancelsTheChecks(t *testing.T) {
	f := newFixture(t)
	f.dec.err = failure.Permanent(failure.ReasonCiphertextInvalid, errors.New("tampered"))
	cancelled := make(chan struct{})
	f.h.Suppression = &fakeSuppression{hook: func(ctx context.Context) error {
		<-ctx.Done()
		close(cancelled)
		return ctx.Err()
	}}
	f.h.SuppressionTimeout = time.Minute
	res := f.h.Handle(context.Background(), event(TriggerForgotPassword, "ct-code", nil))
	if res.Reason != "ciphertext_invalid" {
		t.Fatalf("%s/%s", res.Outcome, res.Reason)
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the look-up was not cancelled when the invocation ended")
	}
}

func TestSuppressionTimeoutLeavesTimeToSend(t *testing.T) {
	h := &Handler{}
	if got := h.suppressionTimeout(context.Background()); got != DefaultSuppressionTimeout {
		t.Errorf("no deadline: %v", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if got := h.suppressionTimeout(ctx); got > 500*time.Millisecond {
		t.Errorf("1s left: budget %v, want at most half", got)
	}
}

func TestScrubEncodedAddresses(t *testing.T) {
	for _, tt := range []struct{ addr, form string }{
		{"qa+reset@thephenom.app", "qa+reset@thephenom.app"},
		{"qa+reset@thephenom.app", "QA+Reset@thephenom.APP"},
		{"qa+reset@thephenom.app", "qa%2Breset%40thephenom.app"},
		{"qa+reset@thephenom.app", "qa%2breset@THEPHENOM.app"},
		{"josé.ñ@example.com", "jos%C3%A9.%C3%B1%40example.com"},
	} {
		got := scrub("GET /addresses/"+tt.form+": refused", tt.addr, "")
		if strings.Contains(got, tt.form) || !strings.Contains(got, MaskEmail(tt.addr)) {
			t.Errorf("scrub of %q = %q", tt.form, got)
		}
	}
}

// Warm starts the sender's readiness check before any event, and its
// answer still decides: a sender that Warm found not ready refuses the
// first event (failed, dkim_not_ready) and sends nothing; a ready one
// sends.
func TestWarmChecksReadinessBeforeTheEvent(t *testing.T) {
	notReady := failure.Retryable(failure.ReasonDKIMNotReady, errors.New("DKIM PENDING"))
	for _, tt := range []struct {
		name    string
		ready   error
		outcome string
		reason  string
		sent    int
	}{
		{"ready", nil, OutcomeSent, "", 1},
		{"not ready", notReady, OutcomeFailed, "dkim_not_ready", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			started := make(chan struct{})
			var once sync.Once
			rs := &readySender{fakeSender: f.snd, ready: func(context.Context) error {
				once.Do(func() { close(started) })
				return tt.ready
			}}
			f.h.Sender = rs
			f.h.Warm(context.Background())
			select {
			case <-started:
			case <-time.After(5 * time.Second):
				t.Fatal("Warm did not start the readiness check")
			}
			res := f.h.Handle(context.Background(), event(TriggerForgotPassword, "ct-code", nil))
			if res.Outcome != tt.outcome || res.Reason != tt.reason {
				t.Fatalf("got %s/%s (%s), want %s/%s", res.Outcome, res.Reason, res.Error, tt.outcome, tt.reason)
			}
			if len(f.snd.sent) != tt.sent {
				t.Fatalf("%d mails sent, want %d", len(f.snd.sent), tt.sent)
			}
		})
	}
	t.Run("no readiness check", func(t *testing.T) {
		f := newFixture(t)
		f.h.Warm(context.Background()) // a plain Sender: nothing to start
		if res := f.h.Handle(context.Background(), event(TriggerForgotPassword, "ct-code", nil)); res.Outcome != OutcomeSent {
			t.Fatalf("got %s/%s", res.Outcome, res.Reason)
		}
	})
}

// preparingRenderer records Prepare calls.
type preparingRenderer struct {
	Renderer
	mu       sync.Mutex
	prepared []string
	done     chan struct{}
}

func (p *preparingRenderer) Prepare(trigger, locale string) {
	p.mu.Lock()
	p.prepared = append(p.prepared, trigger+"/"+locale)
	p.mu.Unlock()
	close(p.done)
}

// A Renderer that can prepare is asked to, for the event's trigger and
// locale, while the code is decrypted (and never given the code); a
// trigger without a code renders at once and is not prepared.
func TestRendererPreparedDuringDecrypt(t *testing.T) {
	f := newFixture(t)
	p := &preparingRenderer{Renderer: f.rend, done: make(chan struct{})}
	f.h.Renderer = p
	f.h.Decrypter = &hookDecrypter{fakeDecrypter: f.dec, hook: func(ctx context.Context) error {
		select {
		case <-p.done:
			return nil
		case <-time.After(5 * time.Second):
			return failure.Retryable(failure.ReasonKMSUnavailable, errors.New("not prepared while decrypting"))
		}
	}}
	ev := event(TriggerForgotPassword, "ct-code", map[string]string{"locale": "es"})
	if res := f.h.Handle(context.Background(), ev); res.Outcome != OutcomeSent {
		t.Fatalf("%s/%s (%s)", res.Outcome, res.Reason, res.Error)
	}
	if len(p.prepared) != 1 || p.prepared[0] != "ForgotPassword/es" {
		t.Fatalf("prepared %v, want [ForgotPassword/es]", p.prepared)
	}

	f = newFixture(t)
	p = &preparingRenderer{Renderer: f.rend, done: make(chan struct{})}
	f.h.Renderer = p
	if res := f.h.Handle(context.Background(), event(TriggerAccountTakeOverNotification, "", nil)); res.Outcome != OutcomeSent {
		t.Fatalf("takeover: %s/%s (%s)", res.Outcome, res.Reason, res.Error)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.prepared) != 0 {
		t.Fatalf("prepared %v for a trigger without a code", p.prepared)
	}
}
