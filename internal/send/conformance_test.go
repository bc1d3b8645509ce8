package send_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/Phenom-earth/phenom-mailer/internal/render"
	"github.com/Phenom-earth/phenom-mailer/internal/send"
	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
	"github.com/Phenom-earth/phenom-mailer/templates"
)

// mimeCase is one mail to build: what to render, and with which renderer.
type mimeCase struct {
	name string
	r    *render.Renderer
	d    render.Data
}

// hostile values: what users, devices and configuration can put into a mail.
var (
	name2048      = strings.Repeat("A", 2048)                       // one 2,048-character word
	name2048UTF8  = strings.Repeat("é", 2048)                       // 2,048 two-byte characters
	nameRTL       = "مريم الأحمد \u202eשלום עולם\u202c (\u200fRTL)" // Arabic, Hebrew, bidi controls
	nameEmoji     = "👩🏽‍🚀 Ada 🎉🦄 \U0001F3F3\uFE0F\u200D\U0001F308"
	longCity      = strings.Repeat("Llanfairpwllgwyngyll-", 80)       // 1,680 characters, no space
	longDevice    = strings.Repeat("Mozilla/5.0 (X11; Linux) 📱 ", 70) // ~2,000 characters with emoji
	longEmail     = strings.Repeat("a", 64) + "@" + strings.Repeat(strings.Repeat("b", 60)+".", 4) + "example"
	hostileCode   = "=?utf-8?q?x?= <b>&amp; \"'`"
	longResetBase = "https://www.thephenom.app/reset-password?ref=" + strings.Repeat("x", 1900-len("https://www.thephenom.app/reset-password?ref="))
)

func longURL(tag string) string {
	base := "https://auth.example.com/confirm?" + tag + "="
	return base + strings.Repeat("y", 1900-len(base))
}

// mimeCases: every trigger in every locale with every sample, then each
// trigger and locale with each hostile value.
func mimeCases(t *testing.T) []mimeCase {
	t.Helper()
	r, err := render.New(templates.FS, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rLong, err := render.New(templates.FS, render.Options{ResetURL: longResetBase})
	if err != nil {
		t.Fatal(err)
	}
	if len(longResetBase) != 1900 {
		t.Fatalf("reset URL is %d characters, want 1,900", len(longResetBase))
	}
	var cases []mimeCase
	for _, loc := range r.Locales() {
		for _, trigger := range render.Templates {
			for i, d := range render.Samples(trigger) {
				d.Locale = loc
				cases = append(cases, mimeCase{fmt.Sprintf("%s/%s/sample%d", loc, trigger, i), r, d})
			}
			hostile := map[string]func(d *render.Data){
				"name-2048":       func(d *render.Data) { d.Username = name2048 },
				"name-2048-utf8":  func(d *render.Data) { d.Username = name2048UTF8 },
				"name-rtl":        func(d *render.Data) { d.Username = nameRTL },
				"name-emoji":      func(d *render.Data) { d.Username = nameEmoji },
				"email-316":       func(d *render.Data) { d.Email = longEmail },
				"email-idn":       func(d *render.Data) { d.Email = "ada@bücher.example" },
				"code-hostile":    func(d *render.Data) { d.Code = hostileCode },
				"reset-url-1900":  func(d *render.Data) {},
				"takeover-values": func(d *render.Data) {},
				"service-values":  func(d *render.Data) {},
			}
			for name, set := range hostile {
				d := render.Samples(trigger)[0]
				d.Locale = loc
				rr := r
				switch name {
				case "reset-url-1900":
					rr = rLong
				case "takeover-values":
					if d.Takeover == nil {
						continue
					}
					tk := *d.Takeover
					tk.City, tk.Country, tk.DeviceName = longCity, nameRTL, longDevice
					tk.IPAddress = "2001:0db8:85a3:0000:0000:8a2e:0370:7334"
					tk.OneClickValidURL, tk.OneClickInvalidURL = longURL("valid"), longURL("invalid")
					d.Takeover = &tk
				case "code-hostile":
					if d.Code == "" {
						continue
					}
				case "service-values":
					if d.Values == nil {
						continue
					}
					// Every field at its longest, in scripts and with
					// characters that could break a header or the markup.
					v := map[string]any{}
					for k, x := range d.Values {
						v[k] = x
					}
					if _, ok := v["subject"]; ok {
						v["subject"] = truncRunes(nameRTL+" "+nameEmoji+" Subject:\r\nBcc: x@example.com", 200)
						v["heading"] = truncRunes(strings.Repeat(nameRTL+" ", 40), 200)
						v["paragraphs"] = []any{truncRunes(strings.Repeat("ünïcødé <script>alert(1)</script> ", 80), 2000),
							truncRunes(strings.Repeat(nameEmoji, 500), 2000), truncRunes(strings.Repeat("a", 2000), 2000), "b", "c"}
						v["code"] = truncRunes(hostileCode, 64)
						v["footnote"] = truncRunes(strings.Repeat(nameRTL, 100), 2000)
					} else {
						v["name"] = truncRunes(nameRTL+" "+nameEmoji+" <img src=x>\r\nBcc: x@example.com", 200)
					}
					d.Values = v
				}
				set(&d)
				cases = append(cases, mimeCase{loc + "/" + trigger + "/" + name, rr, d})
			}
		}
	}
	return cases
}

// TestMIMEConformance builds and sends every mail of mimeCases, signed
// with DKIM, through the strict SES stand-in (moto_server on 127.0.0.1
// behind the proxy that enforces SES's documented limits), then reads what
// moto accepted with Python's email package, an independent parser: CRLF
// line ends only, no line over 998 octets, 7-bit only, no parser defect,
// header lines folded, every part quoted-printable, the decoded subject,
// recipient, text and HTML equal to what was rendered, and the DKIM
// signature still verifies over the bytes SES received.
func TestMIMEConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test (-short)")
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		standin.SkipOrFail(t, fmt.Errorf("python3 (the independent MIME parser): %w", err))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	moto := standin.MotoForTest(t)
	if err := moto.CreateDKIMIdentity(ctx, "thephenom.app"); err != nil {
		t.Fatal(err)
	}

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := send.NewDKIM("thephenom.app", "mailer", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	record := "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(pub)
	lookup := func(domain string) ([]string, error) {
		if domain != "mailer._domainkey.thephenom.app" {
			return nil, errors.New("no such record")
		}
		return []string{record}, nil
	}
	from, _ := send.ParseFrom(send.DefaultFrom)
	s := &send.Sender{From: from, DKIM: opts, Transport: &send.SES{Client: moto.SESClient(), RequireDKIM: true}}

	cases := mimeCases(t)
	rendered := make([]render.Message, len(cases))
	built := make([][]byte, len(cases))
	for i, c := range cases {
		m, err := c.r.Render(c.d)
		if err != nil {
			t.Fatalf("%s: render: %v", c.name, err)
		}
		rendered[i] = m
		msg := send.Message{To: c.d.Email, Subject: m.Subject, HTML: m.HTML, Text: m.Text}
		if built[i], err = s.Build(msg); err != nil {
			t.Fatalf("%s: build: %v", c.name, err)
		}
		if _, err := s.Deliver(ctx, built[i], msg); err != nil {
			t.Fatalf("%s: the SES stand-in refused the mail: %v", c.name, err)
		}
	}

	sent, err := moto.SentEmails()
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != len(cases) {
		t.Fatalf("moto holds %d mails, want %d", len(sent), len(cases))
	}
	dir := t.TempDir()
	files := make([]string, len(sent))
	for i, m := range sent {
		if !bytes.Equal(m.Raw, built[i]) {
			t.Errorf("%s: the bytes SES received differ from the bytes built", cases[i].name)
		}
		files[i] = filepath.Join(dir, fmt.Sprintf("%03d.eml", i))
		if err := os.WriteFile(files[i], m.Raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	out, err := exec.CommandContext(ctx, python, append([]string{filepath.Join("testdata", "mimecheck.py")}, files...)...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("mimecheck.py: %v: %s", err, ee.Stderr)
		}
		t.Fatalf("mimecheck.py: %v", err)
	}
	var reports []struct {
		Problems []string
		Subject  string
		To, From []string
		Parts    []struct{ Type, Charset, CTE, Content string }
	}
	if err := json.Unmarshal(out, &reports); err != nil {
		t.Fatalf("mimecheck.py output: %v", err)
	}
	if len(reports) != len(cases) {
		t.Fatalf("%d reports for %d mails", len(reports), len(cases))
	}

	for i, rep := range reports {
		c, m := cases[i], rendered[i]
		name := c.name
		for _, p := range rep.Problems {
			t.Errorf("%s: %s", name, p)
		}
		if rep.Subject != m.Subject {
			t.Errorf("%s: the decoded subject differs from the rendered one", name)
		}
		wantTo := c.d.Email
		if wantTo == "ada@bücher.example" {
			wantTo = "ada@xn--bcher-kva.example" // SES takes Punycode domains only
		}
		if strings.Join(rep.To, ",") != wantTo || strings.Join(rep.From, ",") != "noreply@thephenom.app" {
			t.Errorf("%s: To %v From %v", name, rep.To, rep.From)
		}
		want := map[string]string{"text/plain": crlf(m.Text), "text/html": crlf(m.HTML)}
		if len(rep.Parts) != 2 {
			t.Errorf("%s: %d parts, want text and HTML", name, len(rep.Parts))
		}
		for _, p := range rep.Parts {
			w, ok := want[p.Type]
			if !ok {
				t.Errorf("%s: unexpected %s part", name, p.Type)
				continue
			}
			delete(want, p.Type)
			if p.CTE != "quoted-printable" || p.Charset != "utf-8" {
				t.Errorf("%s: %s part is %q in %q, want quoted-printable utf-8", name, p.Type, p.CTE, p.Charset)
			}
			// Failures name the offset, never the body.
			if p.Content != w {
				t.Errorf("%s: the decoded %s part differs from the rendered one at byte %d (lengths %d and %d)",
					name, p.Type, firstDiff(p.Content, w), len(p.Content), len(w))
			}
		}
		verifs, err := dkim.VerifyWithOptions(bytes.NewReader(sent[i].Raw), &dkim.VerifyOptions{LookupTXT: lookup})
		if err != nil || len(verifs) != 1 || verifs[0].Err != nil {
			t.Errorf("%s: DKIM over the bytes SES received: %+v %v", name, verifs, err)
		}
	}
	t.Logf("%d mails (%d templates x %d locales, samples and hostile values) conform", len(cases), len(render.Templates), len(cases[0].r.Locales()))
}

// crlf is text in canonical form (RFC 2045 6.7): every line break CRLF.
// The renderer writes LF only.
func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

func firstDiff(a, b string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// truncRunes bounds s to n characters, a service field's maximum.
func truncRunes(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		r = r[:n]
	}
	return string(r)
}
