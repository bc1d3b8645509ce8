package service

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"testing"

	"github.com/Phenom-earth/phenom-mailer/internal/send"
)

// request is a valid notice request as a map, for the cases to spoil.
func request() map[string]any {
	return map[string]any{
		"template": "notice",
		"to":       "ada@example.com",
		"locale":   "en",
		"data": map[string]any{
			"subject":    "Your export is ready",
			"heading":    "Ready",
			"paragraphs": []any{"The dossier is exported."},
			"button":     map[string]any{"label": "Download", "url": "https://docs.example.com/42.pdf"},
		},
		"tags": map[string]any{"service": "hasura"},
	}
}

func data(r map[string]any) map[string]any { return r["data"].(map[string]any) }

func body(t testing.TB, r map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every refusal of the request's validation, each with its field path; the
// refusal is permanent (400) and nothing is sent.
func TestValidationCases(t *testing.T) {
	long := strings.Repeat("é", 2001) // characters, not bytes
	for _, tt := range []struct {
		name   string
		spoil  func(r map[string]any)
		raw    []byte // instead of the spoiled request
		reason string
		want   string // the one problem, by its prefix
	}{
		{name: "unknown template", spoil: func(r map[string]any) { r["template"] = "invoice" },
			reason: "unknown_template", want: `template: unknown template "invoice" (service templates: notice, welcome)`},
		{name: "a Cognito template is not a service template", spoil: func(r map[string]any) { r["template"] = "SignUp" },
			reason: "unknown_template", want: "template: unknown template"},
		{name: "no template", spoil: func(r map[string]any) { delete(r, "template") },
			reason: "request_invalid", want: "template: required"},
		{name: "bad address", spoil: func(r map[string]any) { r["to"] = "ada@@example" },
			reason: "email_invalid", want: "to: not one address SES can send to"},
		{name: "two addresses", spoil: func(r map[string]any) { r["to"] = "ada@example.com, eve@example.com" },
			reason: "email_invalid", want: "to: "},
		{name: "no address", spoil: func(r map[string]any) { delete(r, "to") },
			reason: "email_invalid", want: "to: required"},
		{name: "non-https button URL", spoil: func(r map[string]any) {
			data(r)["button"].(map[string]any)["url"] = "http://docs.example.com/42.pdf"
		}, reason: "request_invalid", want: "data.button.url: must be an absolute https URL"},
		{name: "javascript URL", spoil: func(r map[string]any) {
			data(r)["button"].(map[string]any)["url"] = "javascript:alert(1)"
		}, reason: "request_invalid", want: "data.button.url: must be an absolute https URL"},
		{name: "missing required field", spoil: func(r map[string]any) { delete(data(r), "heading") },
			reason: "request_invalid", want: "data.heading: required"},
		{name: "missing required nested field", spoil: func(r map[string]any) {
			delete(data(r)["button"].(map[string]any), "label")
		}, reason: "request_invalid", want: "data.button.label: required"},
		{name: "value over the default 2000 characters", spoil: func(r map[string]any) { data(r)["footnote"] = long },
			reason: "request_invalid", want: "data.footnote: longer than 2000 characters"},
		{name: "list item over 2000 characters", spoil: func(r map[string]any) { data(r)["paragraphs"] = []any{"ok", long} },
			reason: "request_invalid", want: "data.paragraphs[1]: longer than 2000 characters"},
		{name: "value over its declared maximum", spoil: func(r map[string]any) { data(r)["subject"] = strings.Repeat("s", 201) },
			reason: "request_invalid", want: "data.subject: longer than 200 characters"},
		{name: "too many paragraphs", spoil: func(r map[string]any) { data(r)["paragraphs"] = []any{"1", "2", "3", "4", "5", "6"} },
			reason: "request_invalid", want: "data.paragraphs: must hold 1 to 5 items"},
		{name: "unknown data field", spoil: func(r map[string]any) { data(r)["cc"] = "eve@example.com" },
			reason: "request_invalid", want: "data.cc: not a field of this template"},
		{name: "wrong type", spoil: func(r map[string]any) { data(r)["heading"] = 42 },
			reason: "request_invalid", want: "data.heading: must be a string"},
		{name: "request over 64 KiB", raw: append(append([]byte(`{"template":"notice","to":"ada@example.com","data":{"footnote":"`), bytes.Repeat([]byte("x"), 64<<10)...), `"}}`...),
			reason: "request_invalid", want: "request: 65" /* bytes, over the 65536-byte limit */},
		{name: "not JSON", raw: []byte(`{"template":`),
			reason: "request_invalid", want: "request: not valid JSON"},
		{name: "unknown request field", raw: []byte(`{"template":"notice","to":"ada@example.com","bcc":"eve@example.com"}`),
			reason: "request_invalid", want: `request: unknown field "bcc"`},
		{name: "tag set by the mailer", spoil: func(r map[string]any) { r["tags"] = map[string]any{"template": "x"} },
			reason: "request_invalid", want: "tags.template: set by the mailer, not the caller"},
		{name: "bad tag name", spoil: func(r map[string]any) { r["tags"] = map[string]any{"bad name": "x"} },
			reason: "request_invalid", want: "tags.bad name: a tag name may hold only"},
		{name: "bad tag value", spoil: func(r map[string]any) { r["tags"] = map[string]any{"team": "a\r\nb"} },
			reason: "request_invalid", want: "tags.team: a tag value may hold only"},
		{name: "empty tag value", spoil: func(r map[string]any) { r["tags"] = map[string]any{"team": ""} },
			reason: "request_invalid", want: "tags.team: a tag value may hold only"},
		{name: "bad locale", spoil: func(r map[string]any) { r["locale"] = "es\r\nX-Evil: 1" },
			reason: "request_invalid", want: "locale: must be a language tag"},
		{name: "bad idempotency key", spoil: func(r map[string]any) { r["idempotency_key"] = "a key" },
			reason: "request_invalid", want: "idempotency_key: at most 256 printable ASCII characters"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, s := newTestHandler(t)
			b := tt.raw
			if b == nil {
				r := request()
				tt.spoil(r)
				b = body(t, r)
			}
			res := h.Handle(context.Background(), b, Source{Kind: SourceURL})
			if res.Outcome != OutcomeRefused || res.Reason != tt.reason || len(res.Errors) != 1 || !strings.HasPrefix(res.Errors[0], tt.want) {
				t.Fatalf("result %s %s %q, want refused %s [%s...]", res.Outcome, res.Reason, res.Errors, tt.reason, tt.want)
			}
			if len(s.sent) != 0 || res.Retryable() || res.Requeue() {
				t.Fatalf("a refused request was sent (%d) or is retried", len(s.sent))
			}
			if r := res.HTTP(); r.Status != 400 || !bytes.Contains(r.Body, []byte(`"errors":[`)) {
				t.Fatalf("HTTP %d %s", r.Status, r.Body)
			}
		})
	}
}

// The value at the boundary is accepted: 2000 characters is not over.
func TestValidationAcceptsTheMaximum(t *testing.T) {
	h, s := newTestHandler(t)
	r := request()
	data(r)["footnote"] = strings.Repeat("é", 2000)
	data(r)["paragraphs"] = []any{"1", "2", "3", "4", "5"}
	if res := h.Handle(context.Background(), body(t, r), Source{Kind: SourceCLI}); res.Outcome != OutcomeSent || len(s.sent) != 1 {
		t.Fatalf("result %+v", res)
	}
}

// Every problem of one request is reported at once, each with its path,
// none quoting what the caller sent.
func TestValidationReportsEverythingAtOnce(t *testing.T) {
	h, _ := newTestHandler(t)
	r := request()
	r["to"] = "<script>@example"
	r["locale"] = "x y"
	r["idempotency_key"] = "two words"
	r["tags"] = map[string]any{"environment": "prod", "team": "<b>"}
	d := data(r)
	delete(d, "subject")
	d["heading"] = strings.Repeat("h", 201)
	d["button"].(map[string]any)["url"] = "ftp://<script>"
	d["footnote"] = strings.Repeat("f", 2001)
	res := h.Handle(context.Background(), body(t, r), Source{Kind: SourceSQS, MessageID: "m-1"})
	want := []string{
		"to: ", "locale: ",
		"data.subject: required", "data.heading: longer than 200", "data.button.url: must be an absolute https URL", "data.footnote: longer than 2000",
		"idempotency_key: ", "tags.environment: set by the mailer", "tags.team: a tag value",
	}
	if res.Outcome != OutcomeRefused || res.Reason != "request_invalid" || len(res.Errors) != len(want) {
		t.Fatalf("result %s %s, %d problems:\n%s", res.Outcome, res.Reason, len(res.Errors), strings.Join(res.Errors, "\n"))
	}
	got := strings.Join(res.Errors, "\n")
	for _, w := range want {
		if !strings.Contains(got, "\n"+w) && !strings.HasPrefix(got, w) {
			t.Errorf("no problem %q in:\n%s", w, got)
		}
	}
	for _, v := range []string{"<script>", "<b>", "two words", "x y"} {
		if strings.Contains(got, v) {
			t.Errorf("a problem quotes the caller's value %q:\n%s", v, got)
		}
	}
	if res.Requeue() {
		t.Fatal("an invalid SQS message would go back to the queue")
	}
}

// captureTransport keeps the raw MIME the real send.Sender builds.
type captureTransport struct{ raw [][]byte }

func (c *captureTransport) Deliver(_ context.Context, raw []byte, _ send.Envelope) (string, error) {
	c.raw = append(c.raw, raw)
	return "0100-capture", nil
}

// Hostile values are escaped in the HTML, and none can add a header: the
// mail is built by the real MIME builder and parsed back.
func TestHostileValues(t *testing.T) {
	h, _ := newTestHandler(t)
	from, err := send.ParseFrom(send.DefaultFrom)
	if err != nil {
		t.Fatal(err)
	}
	tr := &captureTransport{}
	h.Sender = &send.Sender{From: from, Transport: tr, RandSeed: 1}
	inject := "Hi\r\nBcc: eve@example.com\r\nX-Evil: 1"
	script := `<script>alert("x")</script>`
	for _, r := range []map[string]any{
		{"template": "notice", "to": "ada@example.com", "data": map[string]any{
			"subject":    inject,
			"heading":    script,
			"paragraphs": []any{`"><img src=x onerror=alert(1)>`, "line\nbreak\u2028sep"},
			"button":     map[string]any{"label": `</a><a href="javascript:alert(1)">`, "url": `https://docs.example.com/?q="><script>alert(1)</script>`},
			"code":       "<b>123</b>",
			"footnote":   "&amp; <i>",
		}},
		{"template": "welcome", "to": "ada@example.com", "locale": "es", "data": map[string]any{"name": inject + script}},
	} {
		res := h.Handle(context.Background(), body(t, r), Source{Kind: SourceCLI})
		if res.Outcome != OutcomeSent {
			t.Fatalf("%s: %+v", r["template"], res)
		}
		raw := tr.raw[len(tr.raw)-1]
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: the built mail does not parse: %v", r["template"], err)
		}
		for _, hdr := range []string{"Bcc", "X-Evil", "Cc"} {
			if v := msg.Header.Get(hdr); v != "" {
				t.Errorf("%s: a value added the header %s: %q", r["template"], hdr, v)
			}
		}
		subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		if err != nil || strings.ContainsAny(subject, "\r\n") {
			t.Errorf("%s: subject %q (%v)", r["template"], subject, err)
		}
		html := decodedHTML(t, raw)
		for _, bad := range []string{"<script>", "<img ", `href="javascript:`, "<b>123", "<i>"} {
			if strings.Contains(html, bad) {
				t.Errorf("%s: %q reached the HTML unescaped", r["template"], bad)
			}
		}
		if r["template"] == "notice" && (!strings.Contains(html, "&lt;script&gt;") || !strings.Contains(html, "&amp;amp;")) {
			t.Errorf("notice: the heading or the footnote is not escaped in the HTML")
		}
	}
}

// decodedHTML returns the text/html part of a raw mail, decoded.
func decodedHTML(t *testing.T, raw []byte) string {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	html, ok := findHTML(t, textproto.MIMEHeader(msg.Header), msg.Body)
	if !ok {
		t.Fatal("the mail has no text/html part")
	}
	return html
}

func findHTML(t *testing.T, h textproto.MIMEHeader, r io.Reader) (string, bool) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(r, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return "", false
			}
			if err != nil {
				t.Fatal(err)
			}
			if s, ok := findHTML(t, p.Header, p); ok {
				return s, true
			}
		}
	}
	if mt != "text/html" {
		return "", false
	}
	switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), true
}
