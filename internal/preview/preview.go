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
	"github.com/Phenom-earth/phenom-mailer/templates"
)

// Sample data. All of it is made up: example.com and documentation
// addresses (RFC 5737), a code no real user holds.
// The code, password and client id are the registry's examples
// (templates.Registry), the one source of every sample value.
const SampleEmail = "ada.lovelace@example.com"

var (
	SampleCode     = templates.Example(render.SignUp, "code")
	SamplePassword = templates.Example(render.AdminCreateUser, "code")
	// SampleClientID is the app client the sample reset link names (cid):
	// the shape of a Cognito app client id, made up.
	SampleClientID = templates.Example(render.ForgotPassword, "client_id")
)

// Sample is one canned message: a trigger in a locale.
type Sample struct {
	Locale  string // a shipped locale: "en", "es"
	Trigger string // "ForgotPassword"
	Data    render.Data
}

// Name is "<locale>/<Trigger>", the sample's path without extension.
func (s Sample) Name() string { return s.Locale + "/" + s.Trigger }

// Code is what the message must show: the code or temporary password (a
// service template's "code" value), "" for AccountTakeOverNotification and
// mails without one.
func (s Sample) Code() string {
	if c, ok := s.Data.Values["code"].(string); ok && s.Data.Code == "" {
		return c // a service template's optional code (notice)
	}
	return s.Data.Code
}

// Samples returns one Sample per trigger per locale, locales in the order
// given, templates in registry order, each with the registry's example
// data.
func Samples(locales []string) []Sample {
	var out []Sample
	for _, loc := range locales {
		for _, name := range render.Templates {
			d := render.Example(name)
			d.Locale, d.Email = loc, SampleEmail
			out = append(out, Sample{Locale: loc, Trigger: name, Data: d})
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
