package preview

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Phenom-earth/phenom-mailer/internal/receivers"
	"github.com/Phenom-earth/phenom-mailer/internal/send"
)

// signedMails builds every sample as the mailer does, DKIM-signed for
// thephenom.app with a fresh key.
func signedMails(t *testing.T) ([]Mail, *send.Sender) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	s, err := EMLSender("")
	if err != nil {
		t.Fatal(err)
	}
	if s.DKIM, err = send.NewDKIM("thephenom.app", "mailer", keyPEM); err != nil {
		t.Fatal(err)
	}
	r := newRenderer(t)
	mails, err := Build(r, s, Samples(r.Locales()))
	if err != nil {
		t.Fatal(err)
	}
	return mails, s
}

// judges are the receivers' tools, run from the repository (node_modules,
// scripts/clientsupport.mjs).
func judges(t *testing.T, s *send.Sender) Judges {
	return Judges{Clients: receivers.ClientSupport{Root: repoRoot(t)}, Signing: s.DKIM}
}

// requireChecked fails under CI=true, and skips elsewhere, when a verdict
// could not be reached because its tool is missing.
func requireChecked(t *testing.T, v Verdict) {
	t.Helper()
	if v.Checked {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: %s: %s", v.Name, v.Detail)
	}
	t.Skipf("%s: %s", v.Name, v.Detail)
}

// TestReceiversJudgeEveryMail: every mail in every locale, exactly as the
// mailer builds it (send.Sender, DKIM-signed), scores under 1.5 with
// SpamAssassin's local rules as received from SES, passes dkimpy, and uses
// no inline CSS or HTML that Gmail, Outlook, Apple Mail or Yahoo lack
// without a fallback (ClientGaps). Failures name the rules that fired and
// the features, never the body.
func TestReceiversJudgeEveryMail(t *testing.T) {
	mails, s := signedMails(t)
	if err := Judge(context.Background(), mails, judges(t, s)); err != nil {
		t.Fatal(err)
	}
	for _, m := range mails {
		if len(m.Receivers) != 3 {
			t.Fatalf("%s: %d verdicts, want 3", m.Name(), len(m.Receivers))
		}
		for _, v := range m.Receivers {
			requireChecked(t, v)
			if !v.OK {
				t.Errorf("%s: %s: %s", m.Name(), v.Name, v.Detail)
			}
		}
		t.Logf("%s: %s", m.Name(), m.Receivers[0].Detail)
	}
}

// TestReceiversFailWhatReceiversWould: the same judges fail a tampered
// copy of each mail (dkimpy), a mail with a layout Outlook cannot draw
// (display:flex), and a mail a spam filter flags; and the gallery and the
// mail's count say so.
func TestReceiversFailWhatReceiversWould(t *testing.T) {
	mails, s := signedMails(t)
	var bad []Mail
	for _, m := range mails {
		code := m.Code()
		if code == "" {
			continue
		}
		if !bytes.Contains(m.EML, []byte(code)) {
			t.Fatalf("%s: the code is not in the .eml as written", m.Name())
		}
		m.EML = bytes.Replace(m.EML, []byte(code), []byte(strings.Repeat("9", len(code))), -1)
		bad = append(bad, m)
	}
	flex := mails[0]
	flex.Message.HTML = strings.Replace(flex.Message.HTML, `<table role="presentation" class="bg"`, `<div style="display:flex"></div><table role="presentation" class="bg"`, 1)
	spam := mails[1]
	spam.EML = bytes.Replace(spam.EML, []byte(spam.Code()), []byte("XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"), -1)
	bad = append(bad, flex, spam)
	if err := Judge(context.Background(), bad, judges(t, s)); err != nil {
		t.Fatal(err)
	}
	verdict := func(m Mail, name string) Verdict {
		for _, v := range m.Receivers {
			if v.Name == name {
				requireChecked(t, v)
				return v
			}
		}
		t.Fatalf("%s: no verdict %q", m.Name(), name)
		return Verdict{}
	}
	for _, m := range bad[:len(bad)-2] {
		if v := verdict(m, VerdictDKIM); v.OK {
			t.Errorf("%s: dkimpy passes a copy whose code was changed", m.Name())
		}
	}
	if v := verdict(bad[len(bad)-2], VerdictClients); v.OK || !strings.Contains(v.Detail, "display:flex") {
		t.Errorf("a flex layout: %q, want display:flex failing", v.Detail)
	}
	if v := verdict(bad[len(bad)-1], VerdictSpam); v.OK || !strings.Contains(v.Detail, "GTUBE") {
		t.Errorf("GTUBE: %q, want a failing score naming GTUBE", v.Detail)
	}
	if bad[len(bad)-1].OK() || bad[len(bad)-1].Failed() == 0 {
		t.Error("a mail with a failing verdict counts as OK")
	}
	var out bytes.Buffer
	if err := WriteGallery(&out, bad, GalleryOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "receiver verdicts fail") {
		t.Error("the gallery does not say that receiver verdicts fail")
	}
}

// A missing tool is "not checked", not a failure: the gallery says so.
func TestJudgeWithoutTools(t *testing.T) {
	mails := buildAll(t)[:2]
	j := Judges{
		Spam:    receivers.SpamAssassin{Perl: filepath.Join(t.TempDir(), "no-perl")},
		Clients: receivers.ClientSupport{Root: t.TempDir()},
	}
	if err := Judge(context.Background(), mails, j); err != nil {
		t.Fatal(err)
	}
	for _, m := range mails {
		if len(m.Receivers) != 2 {
			t.Fatalf("%d verdicts, want 2 (no DKIM key configured)", len(m.Receivers))
		}
		for _, v := range m.Receivers {
			if v.Checked || v.Failed() || !strings.HasPrefix(v.Detail, "not checked: ") || !strings.Contains(v.Detail, " missing") {
				t.Errorf("%s: %+v, want not checked: <tool> missing", v.Name, v)
			}
		}
		if !m.OK() {
			t.Errorf("%s: a mail whose receivers were not checked fails", m.Name())
		}
	}
	var out bytes.Buffer
	if err := WriteGallery(&out, mails, GalleryOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "not checked: spamassassin missing") {
		t.Error("the gallery does not say that SpamAssassin is missing")
	}
}
