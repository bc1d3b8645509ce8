// Package preview renders every mail the mailer can send, in every
// language, from canned sample data, with no AWS and no real user: to
// files (DIR/<locale>/<Trigger>.html, .txt, .eml and a DIR/index.html
// gallery), over HTTP on 127.0.0.1 with live reload while templates are
// edited, or through a sender to a real inbox. Every mail goes through the
// same checks (Checks) the tests hold the templates to.
//
// It must not know the environment, Lambda or how a live sender is
// configured: cmd/mailer wires it (the renderer, the sender, the folder).
package preview

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/render"
	"github.com/Phenom-earth/phenom-mailer/internal/send"
)

// Sample data. All of it is made up: example.com and documentation
// addresses (RFC 5737), a code no real user holds.
const (
	SampleEmail    = "ada.lovelace@example.com"
	SampleCode     = "482913"
	SamplePassword = "Kx7&pQ2m#v"
	// SampleClientID is the app client the sample reset link names (cid):
	// the shape of a Cognito app client id, made up.
	SampleClientID = "1h2k3m4n5p6q7r8s9t0v1w2x3y"
)

// Sample is one canned message: a trigger in a locale.
type Sample struct {
	Locale  string // a shipped locale: "en", "es"
	Trigger string // "ForgotPassword"
	Data    render.Data
}

// Name is "<locale>/<Trigger>", the sample's path without extension.
func (s Sample) Name() string { return s.Locale + "/" + s.Trigger }

// Code is what the message must show: the code or temporary password, ""
// for AccountTakeOverNotification.
func (s Sample) Code() string { return s.Data.Code }

// Samples returns one Sample per trigger per locale, locales in the order
// given, triggers in render.Triggers order.
func Samples(locales []string) []Sample {
	var out []Sample
	for _, loc := range locales {
		for _, trigger := range render.Triggers {
			d := render.Data{
				Trigger:  trigger,
				Locale:   loc,
				Email:    SampleEmail,
				Username: "3f6c2a9e-8d41-4b7a-9c55-2e1f0a7d6b13",
				Code:     SampleCode,
			}
			switch trigger {
			case render.ForgotPassword:
				d.ClientID = SampleClientID
			case render.AdminCreateUser:
				d.Username = "ada.lovelace"
				d.Code = SamplePassword
			case render.AccountTakeOverNotification:
				d.Code = ""
				d.Takeover = &render.Takeover{
					EventID:            "a1b2c3d4-0000-4000-8000-000000000042",
					LoginTime:          "2026-03-14 09:26:53 UTC",
					IPAddress:          "203.0.113.24",
					City:               "Lisbon",
					Country:            "Portugal",
					DeviceName:         "Firefox 124, Windows 11",
					Action:             "BLOCK",
					OneClickValidURL:   "https://auth.example.com/confirm?event=a1b2c3d4&valid=true",
					OneClickInvalidURL: "https://auth.example.com/confirm?event=a1b2c3d4&valid=false",
				}
			}
			out = append(out, Sample{Locale: loc, Trigger: trigger, Data: d})
		}
	}
	return out
}

// Mail is a rendered sample: the message, its MIME form, the checks and,
// after Judge, the receivers' verdicts.
type Mail struct {
	Sample
	Message   render.Message
	EML       []byte
	Checks    []Check
	Receivers []Verdict
}

// OK reports whether every check passed and no verdict failed.
func (m Mail) OK() bool { return OK(m.Checks) && m.Failed() == 0 }

// Failed is the number of failed checks and verdicts.
func (m Mail) Failed() int {
	n := 0
	for _, c := range m.Checks {
		if !c.OK {
			n++
		}
	}
	for _, v := range m.Receivers {
		if v.Failed() {
			n++
		}
	}
	return n
}

// FixedTime is the Date of every preview .eml, so that files are stable.
var FixedTime = time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)

// EMLSender returns a sender that builds byte-stable MIME for previews:
// a fixed Date and seeded boundaries and ids. It has no transport.
func EMLSender(from string) (*send.Sender, error) {
	if from == "" {
		from = send.DefaultFrom
	}
	addr, err := send.ParseFrom(from)
	if err != nil {
		return nil, err
	}
	return &send.Sender{From: addr, Now: func() time.Time { return FixedTime }, RandSeed: 1}, nil
}

// Languages maps each of r's locales to its own name, for GalleryOptions.
func Languages(r *render.Renderer) map[string]string {
	out := map[string]string{}
	for _, loc := range r.Locales() {
		out[loc] = r.LocaleName(loc)
	}
	return out
}

// Build renders every sample, builds its .eml with s (see EMLSender) and
// runs the checks. It fails on the first sample that does not render: the
// error names the sample, never its content.
func Build(r *render.Renderer, s *send.Sender, samples []Sample) ([]Mail, error) {
	out := make([]Mail, 0, len(samples))
	for _, smp := range samples {
		m, err := r.Render(smp.Data)
		if err != nil {
			return nil, fmt.Errorf("preview %s: %w", smp.Name(), err)
		}
		eml, err := s.Build(send.Message{To: smp.Data.Email, Subject: m.Subject, HTML: m.HTML, Text: m.Text})
		if err != nil {
			return nil, fmt.Errorf("preview %s: build MIME: %w", smp.Name(), err)
		}
		out = append(out, Mail{Sample: smp, Message: m, EML: eml, Checks: Checks(m, smp.Code(), eml)})
	}
	return out, nil
}

// Write writes DIR/<locale>/<Trigger>.html, .txt and .eml for every mail,
// the gallery DIR/index.html and, with opts.Axe, DIR/axe.min.js. Existing
// files are replaced; nothing else in dir is touched.
func Write(dir string, mails []Mail, opts GalleryOptions) error {
	if dir == "" {
		return errors.New("preview: no output folder")
	}
	for _, m := range mails {
		sub := filepath.Join(dir, m.Locale)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return fmt.Errorf("preview: %w", err)
		}
		for ext, b := range map[string][]byte{".html": []byte(m.Message.HTML), ".txt": []byte(m.Message.Text), ".eml": m.EML} {
			if err := os.WriteFile(filepath.Join(sub, m.Trigger+ext), b, 0o644); err != nil {
				return fmt.Errorf("preview: %w", err)
			}
		}
	}
	if len(opts.Axe) > 0 {
		if err := os.WriteFile(filepath.Join(dir, "axe.min.js"), opts.Axe, 0o644); err != nil {
			return fmt.Errorf("preview: %w", err)
		}
	}
	f, err := os.Create(filepath.Join(dir, "index.html"))
	if err != nil {
		return fmt.Errorf("preview: %w", err)
	}
	if err := WriteGallery(f, mails, opts); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("preview: %w", err)
	}
	return nil
}
