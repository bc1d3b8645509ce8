package render_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/Phenom-earth/phenom-mailer/internal/render"
	"github.com/Phenom-earth/phenom-mailer/templates"
)

func noticeData(values map[string]any) render.Data {
	return render.Data{Trigger: "notice", Locale: "en", Email: "ada@example.com", Values: values}
}

// TestServiceValuesEscaped: a caller's values are shown, escaped in the
// HTML like the Cognito mails', and none breaks the one-line subject.
func TestServiceValuesEscaped(t *testing.T) {
	r, err := render.New(templates.FS, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.Render(noticeData(map[string]any{
		"subject":    "Hello\r\nBcc: eve@example.com",
		"heading":    `<script>alert("h")</script>`,
		"paragraphs": []any{`<img src=x onerror=alert(1)>`, "two & three"},
		"button":     map[string]any{"label": `"><b>go</b>`, "url": `https://example.com/a?x="><script>`},
		"code":       "<b>12</b>",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(m.Subject, "\r\n") || m.Subject != "Hello  Bcc: eve@example.com" {
		t.Errorf("subject %q: want one line, line break turned into spaces", m.Subject)
	}
	for _, raw := range []string{`<script>alert("h")`, `<img src=x`, `<b>go</b>`, `<b>12</b>`, `"><script>`} {
		if strings.Contains(m.HTML, raw) {
			t.Errorf("HTML holds %q unescaped", raw)
		}
	}
	for _, esc := range []string{`&lt;script&gt;alert(&#34;h&#34;)&lt;/script&gt;`, `&lt;img src=x onerror=alert(1)&gt;`, `two &amp; three`, `&lt;b&gt;12&lt;/b&gt;`} {
		if !strings.Contains(m.HTML, esc) {
			t.Errorf("HTML lacks the escaped value %q", esc)
		}
	}
	if !strings.Contains(m.Text, `<img src=x onerror=alert(1)>`) || !strings.Contains(m.Text, "Your code: <b>12</b>") {
		t.Errorf("the text part must show the values as given:\n%s", m.Text)
	}
}

// TestServiceValuesChecked: data that does not fit the schema is refused
// with every problem and its path, and no value is quoted.
func TestServiceValuesChecked(t *testing.T) {
	r, err := render.New(templates.FS, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Render(noticeData(map[string]any{
		"subject":    strings.Repeat("s", 201),
		"paragraphs": []any{"1", "2", "3", "4", "5", "6"},
		"button":     map[string]any{"label": "Open", "url": "http://example.com/secret-token"},
		"extra":      "x",
	}))
	if !errors.Is(err, render.ErrInvalidData) {
		t.Fatalf("err %v, want ErrInvalidData", err)
	}
	for _, want := range []string{
		"data.subject: longer than 200 characters",
		"data.heading: required",
		"data.paragraphs: must hold 1 to 5 items",
		"data.button.url: must be an absolute https URL",
		"data.extra: not a field of this template",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "secret-token") {
		t.Errorf("the error quotes a value: %v", err)
	}
	if _, err := r.Render(render.Data{Trigger: "welcome", Email: "ada@example.com", Values: map[string]any{"name": " "}}); !errors.Is(err, render.ErrInvalidData) {
		t.Errorf("welcome with a blank name: %v, want ErrInvalidData", err)
	}
}

// TestWelcomeLinksFromOptions: the welcome mail's links are the
// configuration's; a store link not configured is left out.
func TestWelcomeLinksFromOptions(t *testing.T) {
	for _, opts := range []render.Options{{}, {AppStoreURL: "https://apps.example.com/phenom", PlayStoreURL: "https://play.example.com/phenom"}} {
		r, err := render.New(templates.FS, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, loc := range r.Locales() {
			m, err := r.Render(render.Data{Trigger: "welcome", Locale: loc, Email: "ada@example.com", Values: map[string]any{"name": "Ada"}})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(m.HTML, `href="https://www.thephenom.app"`) || !strings.Contains(m.Text, "Ada") {
				t.Errorf("%s: no web app link or name", loc)
			}
			for _, u := range []string{"https://apps.example.com/phenom", "https://play.example.com/phenom"} {
				want := opts.AppStoreURL != ""
				if strings.Contains(m.HTML, u) != want || strings.Contains(m.Text, u) != want {
					t.Errorf("%s: store link %s shown=%v, want %v", loc, u, !want, want)
				}
			}
		}
	}
	if _, err := render.New(templates.FS, render.Options{AppStoreURL: "javascript:alert(1)"}); err == nil {
		t.Error("New accepted a store link that is not https")
	}
}

// TestFooterSaysWhyPerTemplate: the footer's "why you received this" line
// is the template's own when its catalogue block has one (a notice is not
// "an account action was requested"), and the layout's otherwise.
func TestFooterSaysWhyPerTemplate(t *testing.T) {
	r, err := render.New(templates.FS, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, locale, want string }{
		{"notice", "en", "because ada@example.com has a Phenom account"},
		{"notice", "es", "porque ada@example.com tiene una cuenta de Phenom"},
		{"welcome", "en", "because ada@example.com signed in to Phenom for the first time"},
		{"ForgotPassword", "en", "an account action was requested for ada@example.com"},
	} {
		d := render.Example(c.name)
		d.Locale, d.Email = c.locale, "ada@example.com"
		m, err := r.Render(d)
		if err != nil {
			t.Fatalf("%s/%s: %v", c.name, c.locale, err)
		}
		if !strings.Contains(m.Text, c.want) || !strings.Contains(m.HTML, c.want) {
			t.Errorf("%s/%s: footer lacks %q", c.name, c.locale, c.want)
		}
	}
}
