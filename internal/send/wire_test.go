package send

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/jhillyerd/enmime/v2"

	"github.com/Phenom-earth/phenom-mailer/internal/failure"
)

// TestSubjectFolding: whatever the subject, the Subject header is ASCII,
// each of its lines fits 78 characters, and a reader decodes it to exactly
// the subject.
func TestSubjectFolding(t *testing.T) {
	subjects := map[string]string{
		"plain":          "Verify your email address for Phenom",
		"accents":        "Réinitialisez votre mot de passe Phenom",
		"200 emoji":      strings.Repeat("🦄", MaxSubject),
		"200 ascii word": strings.Repeat("x", MaxSubject),
		"right to left":  "إعادة تعيين كلمة المرور \u202eשלום\u202c",
		"encoded-word":   "=?utf-8?q?not_a_word?= really",
		"spaces":         "  two  spaces and trailing ",
		"tab":            "a\tb",
		"underscore":     "snake_case = ok? 100%",
	}
	s := testSender(t)
	for name, subject := range subjects {
		m := sampleMessage()
		m.Subject = subject
		raw, err := s.Build(m)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		header := string(raw[:bytes.Index(raw, []byte("\r\n\r\n"))+2])
		in := false
		for _, line := range strings.Split(header, "\r\n") {
			if strings.HasPrefix(line, "Subject:") {
				in = true
			} else if !strings.HasPrefix(line, " ") {
				in = false
			}
			if in && len(line) > 78 {
				t.Errorf("%s: a Subject line of %d characters", name, len(line))
			}
		}
		env, err := enmime.ReadEnvelope(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := env.GetHeader("Subject"); got != subject {
			t.Errorf("%s: subject decodes to %q, want %q", name, got, subject)
		}
	}
}

func TestCheckWire(t *testing.T) {
	ok := "From: a@b.c\r\n\r\nbody\r\n"
	if err := CheckWire([]byte(ok)); err != nil {
		t.Fatalf("conformant message: %v", err)
	}
	if err := CheckWire([]byte("From: a@b.c\r\n\r\n" + strings.Repeat("x", MaxLine) + "\r\n")); err != nil {
		t.Errorf("a %d-octet line: %v", MaxLine, err)
	}
	for name, raw := range map[string]string{
		"bare LF":        "From: a@b.c\r\n\r\nbody\nmore\r\n",
		"bare CR":        "From: a@b.c\r\n\r\nbody\rmore\r\n",
		"999 octets":     "From: a@b.c\r\n\r\n" + strings.Repeat("x", MaxLine+1) + "\r\n",
		"8-bit":          "From: a@b.c\r\n\r\nbödy\r\n",
		"NUL":            "From: a@b.c\r\n\r\nbo\x00dy\r\n",
		"no CRLF at end": "From: a@b.c\r\n\r\nbody",
		"no body":        "From: a@b.c\r\n",
	} {
		if err := CheckWire([]byte(raw)); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "body") || strings.Contains(err.Error(), "xxx") {
			t.Errorf("%s: the error quotes the message: %v", name, err)
		}
	}
}

// TestBuildRefusesWhatCannotBeFolded: a From display name with one
// 1,000-character word cannot be folded; Build says so instead of handing
// SES a line it refuses.
func TestBuildRefusesWhatCannotBeFolded(t *testing.T) {
	s := testSender(t)
	s.From.Name = strings.Repeat("P", 1000)
	_, err := s.Build(sampleMessage())
	if reason, permanent := failure.Classify(err); reason != "mime_failed" || !permanent {
		t.Fatalf("Build = %v (%s), want permanent mime_failed", err, reason)
	}
}

type recordingTransport struct{ env Envelope }

func (r *recordingTransport) Deliver(_ context.Context, _ []byte, env Envelope) (string, error) {
	r.env = env
	return "id", nil
}

// TestNonASCIIRecipient: SES takes no SMTPUTF8. A non-ASCII local part is
// refused for good; a non-ASCII domain goes out in Punycode, in the To
// header and the SES destination alike.
func TestNonASCIIRecipient(t *testing.T) {
	s := testSender(t)
	tr := &recordingTransport{}
	s.Transport = tr
	m := sampleMessage()
	m.To = "josé@example.com"
	if _, err := s.Send(context.Background(), m); err == nil {
		t.Error("a non-ASCII local part was sent")
	} else if reason, permanent := failure.Classify(err); reason != "email_invalid" || !permanent {
		t.Errorf("non-ASCII local part: %v (%s), want permanent email_invalid", err, reason)
	}

	m.To = "ada@bücher.example"
	raw, err := s.Build(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Deliver(context.Background(), raw, m); err != nil {
		t.Fatal(err)
	}
	env, err := enmime.ReadEnvelope(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if got := env.GetHeader("To"); got != "<ada@xn--bcher-kva.example>" {
		t.Errorf("To header = %q, want <ada@xn--bcher-kva.example>", got)
	}
	if tr.env.To != "ada@xn--bcher-kva.example" {
		t.Errorf("SES destination = %q, want ada@xn--bcher-kva.example", tr.env.To)
	}
}
