package send

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jhillyerd/enmime/v2"
)

// FuzzBuild: whatever the subject and bodies, Build's bytes pass CheckWire
// and decode (enmime's reader) to exactly the subject and, in canonical
// CRLF form, the bodies.
func FuzzBuild(f *testing.F) {
	f.Add("Réinitialisez votre mot de passe", "Your code: 123456\n", "<p style=\"color:#fff\">123456</p>\n")
	f.Add(strings.Repeat("🦄", 50), strings.Repeat("x", 3000), strings.Repeat("é", 1500)+" \n\t\n")
	f.Add("=?utf-8?q?x?=", "a\rb\r\nc\n", "trailing space \n")
	from, err := ParseFrom(DefaultFrom)
	if err != nil {
		f.Fatal(err)
	}
	s := &Sender{From: from}
	canonical := strings.NewReplacer("\r\n", "\r\n", "\r", "\r\n", "\n", "\r\n")
	f.Fuzz(func(t *testing.T, subject, text, html string) {
		if subject == "" || text == "" || html == "" || strings.ContainsAny(subject, "\r\n") ||
			utf8.RuneCountInString(subject) > MaxSubject ||
			!utf8.ValidString(subject) || !utf8.ValidString(text) || !utf8.ValidString(html) {
			t.Skip()
		}
		m := sampleMessage()
		m.Subject, m.Text, m.HTML = subject, text, html
		raw, err := s.Build(m)
		if err != nil {
			t.Fatalf("Build: %v", err)
		}
		if err := CheckWire(raw); err != nil {
			t.Fatal(err)
		}
		env, err := enmime.ReadEnvelope(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("the built message does not parse: %v", err)
		}
		if got := env.GetHeader("Subject"); got != subject {
			t.Errorf("subject %q decodes to %q", subject, got)
		}
		if env.Text != canonical.Replace(text) {
			t.Errorf("text %q decodes to %q", text, env.Text)
		}
		if env.HTML != canonical.Replace(html) {
			t.Errorf("HTML %q decodes to %q", html, env.HTML)
		}
	})
}
