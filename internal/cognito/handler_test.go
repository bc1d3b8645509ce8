package cognito

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/Phenom-earth/phenom-mailer/internal/failure"
	"github.com/Phenom-earth/phenom-mailer/internal/render"
	"github.com/Phenom-earth/phenom-mailer/internal/send"
	"github.com/Phenom-earth/phenom-mailer/templates"
)

// Unit tests with in-process fakes for the decrypter and the sender; the
// same handler runs against real KMS and SES stand-ins in cmd/mailer's tests.

type fakeDecrypter struct {
	plain map[string]string // ciphertext -> plaintext
	err   error
	calls int
}

func (f *fakeDecrypter) Decrypt(_ context.Context, ct, pool string) (string, error) {
	f.calls++
	if f.err != nil {
		return "", f.err
	}
	p, ok := f.plain[ct]
	if !ok {
		return "", failure.Permanent(failure.ReasonCiphertextInvalid, errors.New("unknown ciphertext"))
	}
	return p, nil
}

type fakeSender struct {
	mu   sync.Mutex
	sent []send.Message
	err  error
}

func (f *fakeSender) Build(m send.Message) ([]byte, error) {
	if err := send.CheckRecipient(m.To); err != nil {
		return nil, err
	}
	return []byte(m.Subject), nil
}

func (f *fakeSender) Deliver(_ context.Context, _ []byte, m send.Message) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return "", f.err
	}
	f.sent = append(f.sent, m)
	return "msg-" + m.Subject[:3], nil
}

type recordingRenderer struct {
	Renderer
	last render.Data
}

func (r *recordingRenderer) Render(d render.Data) (render.Message, error) {
	r.last = d
	return r.Renderer.Render(d)
}

type fixture struct {
	h    *Handler
	dec  *fakeDecrypter
	snd  *fakeSender
	rend *recordingRenderer
	logs *bytes.Buffer
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	r, err := render.New(templates.FS, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{
		dec:  &fakeDecrypter{plain: map[string]string{"ct-code": "482913", "ct-temp": "Tmp&lt;Pass&gt;9!x"}},
		snd:  &fakeSender{},
		rend: &recordingRenderer{Renderer: r},
		logs: &bytes.Buffer{},
	}
	f.h = &Handler{Decrypter: f.dec, Renderer: f.rend, Sender: f.snd, Environment: "test",
		Logger: slog.New(slog.NewJSONHandler(f.logs, nil))}
	return f
}

func event(trigger TriggerSource, code string, attrs map[string]string) *Event {
	ev := &Event{}
	ev.Version = "1"
	ev.TriggerSource = string(trigger)
	ev.Region = "us-east-1"
	ev.UserPoolID = "us-east-1_n8gO6SbP6"
	ev.UserName = "test-user"
	ev.CallerContext.ClientID = "6sjjnkaeagnqgkmbl1mr5rtfsr"
	ev.Request.Type = "customEmailSenderRequestV1"
	if code != "" {
		ev.Request.Code = &code
	}
	ev.Request.UserAttributes = map[string]string{"email": "qa+reset@thephenom.app", "locale": "en"}
	for k, v := range attrs {
		ev.Request.UserAttributes[k] = v
	}
	return ev
}

func TestHandleEveryTrigger(t *testing.T) {
	for _, trig := range TriggerSources {
		t.Run(trig.Name(), func(t *testing.T) {
			f := newFixture(t)
			code, ct := "482913", "ct-code"
			switch trig {
			case TriggerAdminCreateUser:
				code, ct = "Tmp<Pass>9!x", "ct-temp"
			case TriggerAccountTakeOverNotification:
				code, ct = "", ""
			}
			res := f.h.Handle(context.Background(), event(trig, ct, map[string]string{"ACCOUNT_TAKE_OVER_ACTION": "BLOCK", "IP_ADDRESS": "203.0.113.7"}))
			if res.Outcome != OutcomeSent {
				t.Fatalf("outcome %s (%s: %s)", res.Outcome, res.Reason, res.Error)
			}
			if len(f.snd.sent) != 1 {
				t.Fatalf("%d mails sent, want 1", len(f.snd.sent))
			}
			m := f.snd.sent[0]
			if m.To != "qa+reset@thephenom.app" {
				t.Errorf("To = %q", m.To)
			}
			if m.Tags["trigger"] != trig.Name() || m.Tags["pool"] != "us-east-1_n8gO6SbP6" || m.Tags["environment"] != "test" {
				t.Errorf("tags = %v", m.Tags)
			}
			if code != "" && !strings.Contains(m.Text, code) {
				t.Error("the code is not in the text part")
			}
			if trig == TriggerAccountTakeOverNotification && (f.dec.calls != 0 || !strings.Contains(m.Text, "203.0.113.7")) {
				t.Errorf("takeover notice: decrypt calls %d, IP shown %v", f.dec.calls, strings.Contains(m.Text, "203.0.113.7"))
			}
			if res.Recipient != "q***@thephenom.app" || res.Trigger != trig.Name() || res.ClientID == "" {
				t.Errorf("result = %+v", res)
			}
			assertNoSecrets(t, f.logs.String(), "qa+reset@thephenom.app", "482913", "Tmp<Pass>9!x", "Tmp&lt;Pass")
			if !strings.Contains(f.logs.String(), `"outcome":"sent"`) {
				t.Errorf("no outcome in the log line: %s", f.logs)
			}
		})
	}
}

func TestAdminCreateUserUnescapesPassword(t *testing.T) {
	f := newFixture(t)
	res := f.h.Handle(context.Background(), event(TriggerAdminCreateUser, "ct-temp", nil))
	if res.Outcome != OutcomeSent {
		t.Fatal(res)
	}
	m := f.snd.sent[0]
	if !strings.Contains(m.Text, "Tmp<Pass>9!x") {
		t.Error("text part lacks the unescaped temporary password")
	}
	if !strings.Contains(m.HTML, "Tmp&lt;Pass&gt;9!x") || strings.Contains(m.HTML, "Tmp<Pass>") {
		t.Error("HTML part does not show the password escaped exactly once")
	}
}

func TestLocaleOverride(t *testing.T) {
	f := newFixture(t)
	ev := event(TriggerForgotPassword, "ct-code", map[string]string{"locale": "es"})
	f.h.Handle(context.Background(), ev)
	if f.rend.last.Locale != "es" {
		t.Errorf("locale = %q, want the attribute's es", f.rend.last.Locale)
	}
	ev.Request.ClientMetadata = map[string]string{"locale": "en"}
	f.h.Handle(context.Background(), ev)
	if f.rend.last.Locale != "en" {
		t.Errorf("locale = %q, want clientMetadata's en", f.rend.last.Locale)
	}
}

func TestRefusals(t *testing.T) {
	tests := []struct {
		name    string
		ev      func() *Event
		decErr  error
		sendErr error
		outcome string
		reason  string
	}{
		{"missing email", func() *Event {
			ev := event(TriggerForgotPassword, "ct-code", nil)
			delete(ev.Request.UserAttributes, "email")
			return ev
		}, nil, nil, OutcomeRefused, "email_missing"},
		{"CRLF in email", func() *Event {
			return event(TriggerForgotPassword, "ct-code", map[string]string{"email": "qa@thephenom.app\r\nBcc: eve@example.com"})
		}, nil, nil, OutcomeRefused, "email_invalid"},
		{"unknown trigger", func() *Event { return event("CustomMessage_ForgotPassword", "ct-code", nil) }, nil, nil, OutcomeRefused, "unknown_trigger"},
		{"null code", func() *Event { return event(TriggerForgotPassword, "", nil) }, nil, nil, OutcomeRefused, "code_missing"},
		{"wrong pool", func() *Event { return event(TriggerForgotPassword, "ct-code", nil) },
			failure.Permanent(failure.ReasonPoolMismatch, errors.New("made for another pool")), nil, OutcomeRefused, "pool_mismatch"},
		{"kms throttled", func() *Event { return event(TriggerForgotPassword, "ct-code", nil) },
			failure.Retryable(failure.ReasonKMSUnavailable, errors.New("ThrottlingException")), nil, OutcomeFailed, "kms_unavailable"},
		{"ses rejects", func() *Event { return event(TriggerForgotPassword, "ct-code", nil) },
			nil, failure.Permanent(failure.ReasonSESRejected, errors.New("Email address is not verified: qa+reset@thephenom.app")), OutcomeRefused, "ses_rejected"},
		{"dkim not ready", func() *Event { return event(TriggerForgotPassword, "ct-code", nil) },
			nil, failure.Retryable(failure.ReasonDKIMNotReady, errors.New("DKIM PENDING")), OutcomeFailed, "dkim_not_ready"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.dec.err, f.snd.err = tt.decErr, tt.sendErr
			ev := tt.ev()
			res := f.h.Handle(context.Background(), ev)
			if res.Outcome != tt.outcome || res.Reason != tt.reason {
				t.Fatalf("got %s/%s (%s), want %s/%s", res.Outcome, res.Reason, res.Error, tt.outcome, tt.reason)
			}
			if len(f.snd.sent) != 0 {
				t.Fatal("a mail was sent")
			}
			if tt.reason == "code_missing" && f.dec.calls != 0 {
				t.Error("KMS was asked to decrypt a missing code")
			}
			if res.Retryable() != (tt.outcome == OutcomeFailed) {
				t.Error("Retryable() disagrees with the outcome")
			}
			assertNoSecrets(t, f.logs.String()+res.Error, "qa+reset@thephenom.app", "482913")
		})
	}
}

func TestHandleJSONToleratesNulls(t *testing.T) {
	f := newFixture(t)
	raw := `{"version":"1","triggerSource":"CustomEmailSender_ForgotPassword","region":"us-east-1",
	 "userPoolId":"us-east-1_n8gO6SbP6","userName":"u","callerContext":{"awsSdkVersion":"x","clientId":null},
	 "request":{"type":"customEmailSenderRequestV1","code":"ct-code","clientMetadata":null,
	 "userAttributes":{"email":"qa@thephenom.app"}},"response":{}}`
	if res := f.h.HandleJSON(context.Background(), []byte(raw)); res.Outcome != OutcomeSent {
		t.Fatalf("%+v", res)
	}
	for _, bad := range []string{"", "{", "[]", `{"request":{"code":5}}`, strings.Repeat(" ", MaxEventSize+1)} {
		res := f.h.HandleJSON(context.Background(), []byte(bad))
		if res.Outcome == OutcomeSent {
			t.Errorf("%.20q was sent", bad)
		}
		if res.Outcome == OutcomeRefused && res.Reason == "" {
			t.Errorf("%.20q refused without a reason", bad)
		}
	}
}

func TestMaskEmail(t *testing.T) {
	for in, want := range map[string]string{
		"qa+reset@thephenom.app": "q***@thephenom.app",
		"é@example.com":          "é***@example.com",
		"":                       "",
		"nodomain":               "***",
		"@x.com":                 "***",
		"a@b\r\nBcc: c":          "***",
	} {
		if got := MaskEmail(in); got != want {
			t.Errorf("MaskEmail(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestResultJSONHasNoSecrets(t *testing.T) {
	f := newFixture(t)
	res := f.h.Handle(context.Background(), event(TriggerForgotPassword, "ct-code", nil))
	b, _ := json.Marshal(res)
	assertNoSecrets(t, string(b), "qa+reset@thephenom.app", "482913")
	for _, k := range []string{`"outcome"`, `"trigger"`, `"pool"`, `"message_id"`, `"recipient"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("result JSON lacks %s: %s", k, b)
		}
	}
}

// assertNoSecrets fails if any secret appears in s, without printing s.
func assertNoSecrets(t *testing.T, s string, secrets ...string) {
	t.Helper()
	for i, sec := range secrets {
		if strings.Contains(s, sec) {
			t.Errorf("secret #%d leaked into logs/results", i)
		}
	}
}

func TestHostileAttributeValues(t *testing.T) {
	f := newFixture(t)
	long := strings.Repeat("Lisboa ", 20000) // 140 KB
	ev := event(TriggerAccountTakeOverNotification, "", map[string]string{
		"CITY":                 long,
		"DEVICE_NAME":          "Chrome\xff\xfe on \x00mac\r\nOS",
		"ONE_CLICK_LINK_VALID": "https://www.thephenom.app/ok?" + strings.Repeat("a", 5000),
	})
	ev.UserName = "\xc3\x28invalid"
	res := f.h.Handle(context.Background(), ev)
	if res.Outcome != OutcomeSent {
		t.Fatalf("%+v", res)
	}
	m := f.snd.sent[0]
	if len(m.HTML) > 100<<10 {
		t.Errorf("HTML is %d bytes: a long attribute was not clipped", len(m.HTML))
	}
	for _, part := range []string{m.HTML, m.Text} {
		if !utf8.ValidString(part) {
			t.Error("a part is not valid UTF-8")
		}
		if strings.ContainsAny(part, "\x00") || strings.Contains(part, "\r\nOS") {
			t.Error("control characters from an attribute reached the mail")
		}
		if strings.Contains(part, strings.Repeat("a", 5000)) {
			t.Error("an over-long link was kept")
		}
	}
	if !strings.Contains(m.Text, "Lisboa") || !strings.Contains(m.Text, "mac") {
		t.Error("clipped values are not shown at all")
	}
}

func TestDisplay(t *testing.T) {
	for in, want := range map[string]string{
		"Lisbon":                               "Lisbon",
		"a\r\nBcc: x":                          "a  Bcc: x",
		"\xff":                                 "\uFFFD",
		"  padded\t":                           "padded",
		strings.Repeat("é", MaxDisplayValue+5): strings.Repeat("é", MaxDisplayValue) + "…",
	} {
		if got := display(in); got != want {
			t.Errorf("display(%.20q) = %.30q, want %.30q", in, got, want)
		}
	}
}

type fakeDeduper struct {
	claimed, sent, released []string
	claimErr                error
}

func (d *fakeDeduper) Claim(_ context.Context, k string) error {
	d.claimed = append(d.claimed, k)
	return d.claimErr
}
func (d *fakeDeduper) Sent(_ context.Context, k, _ string) error {
	d.sent = append(d.sent, k)
	return nil
}
func (d *fakeDeduper) Release(_ context.Context, k string) error {
	d.released = append(d.released, k)
	return nil
}

func TestDeduperSettlesEveryClaim(t *testing.T) {
	f := newFixture(t)
	d := &fakeDeduper{}
	f.h.Deduper = d
	if res := f.h.Handle(context.Background(), event(TriggerSignUp, "ct-code", nil)); res.Outcome != OutcomeSent {
		t.Fatal(res)
	}
	if len(d.sent) != 1 || len(d.released) != 0 {
		t.Fatalf("after a send: sent %d, released %d", len(d.sent), len(d.released))
	}
	f.snd.err = failure.Retryable(failure.ReasonSESThrottled, errors.New("slow down"))
	if res := f.h.Handle(context.Background(), event(TriggerSignUp, "ct-other", nil)); res.Outcome == OutcomeSent {
		t.Fatal(res)
	}
	if len(d.sent) != 1 || len(d.released) != 1 {
		t.Fatalf("after a failed send: sent %d, released %d; a failed claim must be released, never marked sent", len(d.sent), len(d.released))
	}
	d.claimErr = fmt.Errorf("wrapped: %w", failure.ErrDuplicate)
	res := f.h.Handle(context.Background(), event(TriggerSignUp, "ct-code", nil))
	if res.Outcome != OutcomeDuplicate || len(d.released) != 1 {
		t.Fatalf("duplicate: %+v, released %d", res, len(d.released))
	}
	if EventKey(event(TriggerSignUp, "ct-code", nil)) == EventKey(event(TriggerSignUp, "ct-other", nil)) {
		t.Error("two ciphertexts share a key")
	}
}
