package trace

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/delivery"
)

// Unit tests with in-process fakes for the store and the suppression list;
// cmd/mailer's TestTraceOverTheRealRecord runs trace over a real record in
// moto.

type fakeStore struct {
	mails []delivery.Mail
	to    string
}

func (f *fakeStore) ByRecipient(_ context.Context, addr string, _ time.Time) ([]delivery.Mail, error) {
	f.to = addr
	return f.mails, nil
}
func (f *fakeStore) ByMessageID(context.Context, string) ([]delivery.Mail, error) {
	return f.mails, nil
}
func (f *fakeStore) ByRequestID(context.Context, string) ([]delivery.Mail, error) {
	return f.mails, nil
}

type fakeSup struct {
	s   *Suppression
	err error
	got string
}

func (f *fakeSup) Suppressed(_ context.Context, addr string) (*Suppression, error) {
	f.got = addr
	return f.s, f.err
}

var since = time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)

func suppressedMail() delivery.Mail {
	return delivery.Mail{Attempts: []delivery.Attempt{{Trigger: "ForgotPassword", Pool: "p", Outcome: "suppressed",
		Reason: "suppressed_bounce", RequestID: "r-1", Time: since.Add(time.Hour), RecipientMasked: "t***@thephenom.app",
		SuppressionReason: "BOUNCE", SuppressionSince: since}}}
}

func TestSuppressionEntryAloneIsFound(t *testing.T) {
	sup := &fakeSup{s: &Suppression{Reason: "BOUNCE", Since: since}}
	store := &fakeStore{}
	rep, err := Run(context.Background(), store, sup, nil, Query{To: " Test-Staging@ThePhenom.app "})
	if err != nil || !rep.Found() {
		t.Fatalf("found %v, %v", rep.Found(), err)
	}
	if sup.got != "test-staging@thephenom.app" || store.to != "test-staging@thephenom.app" {
		t.Errorf("not compared lower-cased: %q %q", sup.got, store.to)
	}
	var b bytes.Buffer
	_ = rep.WriteText(&b)
	for _, want := range []string{"No mail to test-staging@thephenom.app", "on the account's suppression list since 2026-11-20 08:00:00.000 UTC, reason BOUNCE",
		"aws sesv2 delete-suppressed-destination --email-address 'test-staging@thephenom.app'"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	_ = rep.WriteJSON(&b)
	if !strings.Contains(b.String(), `"kind":"suppression","email_address":"test-staging@thephenom.app","listed":true,"suppression":{"reason":"BOUNCE","since":"2026-11-20T08:00:00Z"}`) {
		t.Errorf("json: %s", b.String())
	}
}

func TestSuppressionLookupFailureDegrades(t *testing.T) {
	rep, err := Run(context.Background(), &fakeStore{mails: []delivery.Mail{suppressedMail()}}, &fakeSup{err: errors.New("AccessDenied for test-staging@thephenom.app")}, nil, Query{To: "test-staging@thephenom.app"})
	if err != nil || !rep.Found() {
		t.Fatal(err)
	}
	var b bytes.Buffer
	_ = rep.WriteText(&b)
	if !strings.Contains(b.String(), "Note: could not check SES's suppression list: AccessDenied for t***@thephenom.app") {
		t.Errorf("text:\n%s", b.String())
	}
	if !strings.Contains(b.String(), "if it still is, remove it once the address works again:\n  aws sesv2 delete-suppressed-destination --email-address 'test-staging@thephenom.app'") {
		t.Errorf("no removal command:\n%s", b.String())
	}
	if !strings.Contains(b.String(), "not sent: the address is on SES's suppression list (BOUNCE)") {
		t.Errorf("verdict of a suppressed send:\n%s", b.String())
	}
}

func TestTracedByIDHasAPlaceholder(t *testing.T) {
	rep, _ := Run(context.Background(), &fakeStore{mails: []delivery.Mail{suppressedMail()}}, nil, nil, Query{RequestID: "r-1"})
	var b bytes.Buffer
	_ = rep.WriteText(&b)
	if !strings.Contains(b.String(), "--email-address '<address>'") || !strings.Contains(b.String(), "(BOUNCE since 2026-11-20 08:00:00.000 UTC)") {
		t.Errorf("text:\n%s", b.String())
	}
	if rep, _ := Run(context.Background(), &fakeStore{}, nil, nil, Query{MessageID: "m"}); rep.Found() {
		t.Error("nothing found, yet Found")
	}
}

func TestVerdicts(t *testing.T) {
	ev := func(typ string, f func(*delivery.Event)) delivery.Event {
		e := delivery.Event{Type: typ}
		if f != nil {
			f(&e)
		}
		return e
	}
	sent := []delivery.Attempt{{Outcome: "sent"}}
	for want, m := range map[string]delivery.Mail{
		"delivered to the receiving server":                                               {MessageID: "m", Attempts: sent, Events: []delivery.Event{ev("Send", nil), ev("Delivery", nil)}},
		"not delivered: SES dropped it, the address is on the account's suppression list": {MessageID: "m", Events: []delivery.Event{ev("Bounce", func(e *delivery.Event) { e.BounceType, e.BounceSubType = "Permanent", "OnAccountSuppressionList" })}},
		"not delivered: bounced (transient), SES stopped retrying":                        {MessageID: "m", Events: []delivery.Event{ev("Bounce", func(e *delivery.Event) { e.BounceType = "Transient" })}},
		"delayed: SES is still trying until 2026-11-20 08:00:00.000 UTC":                  {MessageID: "m", Events: []delivery.Event{ev("DeliveryDelay", func(e *delivery.Event) { e.ExpirationTime = since })}},
		"not delivered: SES rejected it (Bad content)":                                    {MessageID: "m", Events: []delivery.Event{ev("Reject", func(e *delivery.Event) { e.RejectReason = "Bad content" })}},
		"accepted by SES, no event from SES yet":                                          {MessageID: "m", Attempts: sent},
		"not sent: failed (kms_unavailable); Lambda retries a failed invocation twice":    {Attempts: []delivery.Attempt{{Outcome: "failed", Reason: "kms_unavailable"}}},
	} {
		if got := Verdict(m); got != want {
			t.Errorf("Verdict = %q, want %q", got, want)
		}
	}
}
