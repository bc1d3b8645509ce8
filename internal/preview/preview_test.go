package preview

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jhillyerd/enmime/v2"

	"github.com/Phenom-earth/phenom-mailer/internal/render"
	"github.com/Phenom-earth/phenom-mailer/internal/send"
	"github.com/Phenom-earth/phenom-mailer/templates"
)

func newRenderer(t testing.TB) *render.Renderer {
	t.Helper()
	r, err := render.New(templates.FS, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func buildAll(t testing.TB) []Mail {
	t.Helper()
	r := newRenderer(t)
	s, err := EMLSender("")
	if err != nil {
		t.Fatal(err)
	}
	mails, err := Build(r, s, Samples(r.Locales()))
	if err != nil {
		t.Fatal(err)
	}
	return mails
}

// TestEveryMailPassesChecks holds every shipped template, in every
// language, to every check.
func TestEveryMailPassesChecks(t *testing.T) {
	mails := buildAll(t)
	if len(mails) != 2*len(render.Templates) || len(render.Templates) != 10 {
		t.Fatalf("%d mails, want %d (8 triggers and 2 service templates in English and Spanish)", len(mails), 2*len(render.Templates))
	}
	for _, m := range mails {
		if len(m.Checks) != 9 {
			t.Errorf("%s: %d checks ran, want 9", m.Name(), len(m.Checks))
		}
		for _, c := range m.Checks {
			if !c.OK {
				t.Errorf("%s: %s: %s", m.Name(), c.Name, c.Detail)
			}
		}
	}
}

// TestWrite writes the preview folder twice: every file is there, the
// .eml files parse into the same subject and parts, and nothing changes
// from one run to the next (fixed date and MIME seed).
func TestWrite(t *testing.T) {
	r := newRenderer(t)
	mails := buildAll(t)
	dir1, dir2 := t.TempDir(), t.TempDir()
	for _, dir := range []string{dir1, dir2} {
		if err := Write(dir, mails, GalleryOptions{Languages: Languages(r)}); err != nil {
			t.Fatal(err)
		}
	}
	index, err := os.ReadFile(filepath.Join(dir1, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mails {
		for _, ext := range []string{".html", ".txt", ".eml"} {
			p := filepath.Join(m.Locale, m.Trigger+ext)
			a, err := os.ReadFile(filepath.Join(dir1, p))
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			b, _ := os.ReadFile(filepath.Join(dir2, p))
			if !bytes.Equal(a, b) {
				t.Errorf("%s differs between two runs", p)
			}
			if ext == ".eml" {
				env, err := enmime.ReadEnvelope(bytes.NewReader(a))
				if err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				if env.GetHeader("Subject") != m.Message.Subject || env.GetHeader("Date") != "Sat, 14 Mar 2026 09:30:00 +0000" {
					t.Errorf("%s: Subject or Date is not the rendered one", p)
				}
				if env.HTML == "" || env.Text == "" {
					t.Errorf("%s lacks a part", p)
				}
			}
			if !strings.Contains(string(index), `href="`+m.Name()+ext+`"`) {
				t.Errorf("index.html does not link %s", p)
			}
		}
		for _, want := range []string{
			`id="` + m.Locale + "-" + m.Trigger + `"`,
			escape(m.Message.Subject),
			"HTML " + KB(len(m.Message.HTML)),
			".eml " + KB(len(m.EML)),
		} {
			if !strings.Contains(string(index), want) {
				t.Errorf("index.html lacks %q for %s", want, m.Name())
			}
		}
	}
	for _, want := range []string{"20 mails · all 180 checks pass", ">Español</button>", "srcdoc=", "every link absolute https"} {
		if !strings.Contains(string(index), want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	if strings.Contains(string(index), "EventSource") {
		t.Error("the static gallery tries to connect to a live-reload server")
	}
}

func escape(s string) string { return strings.NewReplacer("'", "&#39;", "&", "&amp;").Replace(s) }

// TestGalleryShowsFailures: a failing check is counted in the summary,
// listed in the navigation and explained next to its mail.
func TestGalleryShowsFailures(t *testing.T) {
	mails := buildAll(t)
	mails[2].Checks[1] = Check{Name: CheckHTTPSLinks, Detail: "<a> link: http://www.thephenom.app/reset-password is not https"}
	var b bytes.Buffer
	if err := WriteGallery(&b, mails, GalleryOptions{Error: "render: parse SignUp.tmpl: unexpected EOF"}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{
		"1 of 180 checks fail",
		`<a class="bad" href="#en-ForgotPassword">✗ en/ForgotPassword</a>`,
		`<article id="en-ForgotPassword" data-locale="en" class="failed">`,
		`<li class="bad">every link absolute https<span class="d">&lt;a&gt; link: http://www.thephenom.app/reset-password is not https</span></li>`,
		`role="alert">The templates on disk do not load; showing the last good rendering.
render: parse SignUp.tmpl: unexpected EOF</div>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("gallery lacks %q", want)
		}
	}
}

type recorder struct{ sent []send.Message }

func (r *recorder) Send(_ context.Context, m send.Message) (string, error) {
	r.sent = append(r.sent, m)
	return "id-" + m.Tags["locale"] + "-" + m.Tags["trigger"], nil
}

func TestSendAll(t *testing.T) {
	r := newRenderer(t)
	rec := &recorder{}
	sent, err := SendAll(context.Background(), r, rec, "design.review@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != 20 || len(rec.sent) != 20 {
		t.Fatalf("sent %d (%d recorded), want 20", len(sent), len(rec.sent))
	}
	if sent[0].Name != "en/SignUp" || sent[0].MessageID != "id-en-SignUp" || sent[17].Name != "es/Authentication" || sent[19].Name != "es/welcome" {
		t.Errorf("sent = %v", sent)
	}
	for _, m := range rec.sent {
		if m.To != "design.review@example.com" || m.Tags["purpose"] != "preview" {
			t.Errorf("%s: To %q, tags %v", m.Subject, m.To, m.Tags)
		}
		if !strings.Contains(m.Text, "design.review@example.com") || strings.Contains(m.Text, SampleEmail) {
			t.Errorf("%s: the footer is not addressed to the recipient", m.Subject)
		}
	}
	for _, bad := range []string{"", "two@example.com, three@example.com", "Name <x@example.com>", "x@example.com\r\nBcc: y@example.com"} {
		rec := &recorder{}
		if _, err := SendAll(context.Background(), r, rec, bad); err == nil || len(rec.sent) != 0 {
			t.Errorf("SendAll(%q) = %v after %d sends, want a refusal before any", bad, err, len(rec.sent))
		}
	}
}
