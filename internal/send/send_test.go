package send

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/jhillyerd/enmime/v2"

	"github.com/Phenom-earth/phenom-mailer/internal/failure"
)

func testSender(t *testing.T) *Sender {
	t.Helper()
	from, err := ParseFrom(DefaultFrom)
	if err != nil {
		t.Fatal(err)
	}
	return &Sender{From: from, Now: func() time.Time { return time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC) }}
}

func sampleMessage() Message {
	return Message{
		To:      "qa+reset@thephenom.app",
		Subject: "Réinitialisez votre mot de passe Phenom",
		HTML:    "<p>Your code: <strong>123456</strong></p>",
		Text:    "Your code: 123456\n",
	}
}

func TestBuildMIME(t *testing.T) {
	s := testSender(t)
	raw, err := s.Build(sampleMessage())
	if err != nil {
		t.Fatal(err)
	}
	env, err := enmime.ReadEnvelope(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("the built message does not parse: %v", err)
	}
	checks := map[string]string{
		"From":    `"Phenom" <noreply@thephenom.app>`,
		"To":      "<qa+reset@thephenom.app>",
		"Subject": "Réinitialisez votre mot de passe Phenom",
		"Date":    "Tue, 24 Nov 2026 10:00:00 +0000",
	}
	for k, want := range checks {
		if got := env.GetHeader(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if ct := env.Root.ContentType; ct != "multipart/alternative" {
		t.Errorf("root content type = %q, want multipart/alternative", ct)
	}
	// Quoted-printable text decodes to its canonical form: CRLF line ends.
	if env.Text != "Your code: 123456\r\n" {
		t.Errorf("text part differs from the rendered text")
	}
	if !strings.Contains(env.HTML, "<strong>123456</strong>") {
		t.Errorf("HTML part differs from the rendered HTML")
	}
	mid := env.GetHeader("Message-ID")
	if !strings.HasPrefix(mid, "<") || !strings.HasSuffix(mid, "@thephenom.app>") {
		t.Errorf("Message-ID = %q, want <...@thephenom.app>", mid)
	}
	if env.GetHeader("X-Entity-Ref-ID") == "" {
		t.Error("no X-Entity-Ref-ID")
	}
	if !bytes.Contains(raw, []byte("Subject: =?utf-8?")) && !bytes.Contains(raw, []byte("Subject: =?UTF-8?")) {
		t.Errorf("non-ASCII subject is not RFC 2047 encoded")
	}

	raw2, err := s.Build(sampleMessage())
	if err != nil {
		t.Fatal(err)
	}
	env2, _ := enmime.ReadEnvelope(bytes.NewReader(raw2))
	if env2.GetHeader("Message-ID") == mid || env2.GetHeader("X-Entity-Ref-ID") == env.GetHeader("X-Entity-Ref-ID") {
		t.Error("two messages share a Message-ID or X-Entity-Ref-ID")
	}
}

func TestRecipientAndHeaderInjection(t *testing.T) {
	s := testSender(t)
	tests := []struct {
		to, reason string
	}{
		{"", "email_missing"},
		{"victim@thephenom.app\r\nBcc: attacker@example.com", "email_invalid"},
		{"victim@thephenom.app\nBcc: attacker@example.com", "email_invalid"},
		{"Eve <eve@example.com>", "email_invalid"},
		{"a@thephenom.app, b@example.com", "email_invalid"},
		{"not-an-address", "email_invalid"},
		{"a@b.c\x00", "email_invalid"},
		{"\xff\xfe@example.com", "email_invalid"},
		{strings.Repeat("a", 400) + "@example.com", "email_invalid"},
	}
	for _, tt := range tests {
		m := sampleMessage()
		m.To = tt.to
		_, err := s.Build(m)
		reason, permanent := failure.Classify(err)
		if reason != tt.reason || !permanent {
			t.Errorf("To %q: got %v (%s, permanent %v), want permanent %s", tt.to, err, reason, permanent, tt.reason)
		}
	}
	m := sampleMessage()
	m.Subject = "Hello\r\nBcc: attacker@example.com"
	if _, err := s.Build(m); err == nil {
		t.Error("a subject with CR/LF was accepted")
	}
}

func genKey(t *testing.T) (*rsa.PrivateKey, []byte) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

func TestDKIMSignVerifies(t *testing.T) {
	key, keyPEM := genKey(t)
	opts, err := NewDKIM("thephenom.app", "mailer", keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	s := testSender(t)
	s.DKIM = opts
	raw, err := s.Build(sampleMessage())
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
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: lookup})
	if err != nil {
		t.Fatal(err)
	}
	if len(verifs) != 1 || verifs[0].Err != nil || verifs[0].Domain != "thephenom.app" {
		t.Fatalf("verification = %+v, want one pass for thephenom.app", verifs)
	}
	// A changed body no longer verifies.
	tampered := bytes.Replace(raw, []byte("Your code"), []byte("Your c0de"), 1)
	verifs, err = dkim.VerifyWithOptions(bytes.NewReader(tampered), &dkim.VerifyOptions{LookupTXT: lookup})
	if err != nil || len(verifs) != 1 || verifs[0].Err == nil {
		t.Fatalf("tampered message verified: %+v %v", verifs, err)
	}
}

func TestNewDKIMRejectsBadKeys(t *testing.T) {
	if _, err := NewDKIM("thephenom.app", "s", []byte("not pem")); err == nil {
		t.Error("non-PEM key accepted")
	}
	if _, err := NewDKIM("", "s", nil); err == nil {
		t.Error("empty domain accepted")
	}
	bad := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte("secret-bytes")})
	_, err := NewDKIM("thephenom.app", "s", bad)
	if err == nil || strings.Contains(err.Error(), "secret-bytes") {
		t.Errorf("bad key: err = %v (must fail without quoting the key)", err)
	}
}

func TestMaildirDeliver(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "Maildir")
	md := &Maildir{Path: dir}
	raw := []byte("Subject: x\r\n\r\nbody\r\n")
	name, err := md.Deliver(context.Background(), raw, Envelope{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "new", name))
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("delivered file = %q, %v", got, err)
	}
	if tmp, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(tmp) != 0 {
		t.Errorf("tmp/ still holds %d files", len(tmp))
	}
	name2, err := md.Deliver(context.Background(), raw, Envelope{})
	if err != nil || name2 == name {
		t.Fatalf("second delivery: %q, %v", name2, err)
	}
}
