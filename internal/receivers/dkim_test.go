package receivers

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/send"
)

func newDKIMKey(t *testing.T) (*rsa.PrivateKey, []byte) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

// TestDKIMPyVerifiesTheMailersSignature: dkimpy, which shares no code with
// the go-msgauth the mailer signs with, passes a mail the mailer signed
// and fails it once a byte of its body or a signed header changes, or when
// the published key is another one.
func TestDKIMPyVerifiesTheMailersSignature(t *testing.T) {
	key, keyPEM := newDKIMKey(t)
	opts, err := send.NewDKIM("thephenom.app", "mailer", keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	from, _ := send.ParseFrom(send.DefaultFrom)
	s := &send.Sender{From: from, DKIM: opts, Now: func() time.Time { return time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC) }}
	raw, err := s.Build(send.Message{
		To:      "ada.lovelace@example.com",
		Subject: "Your Phenom code",
		HTML:    "<p>Your code: <b>482913</b></p>",
		Text:    "Your code: 482913\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	txt, err := TXTRecord(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{"mailer._domainkey.thephenom.app": txt}
	v := DKIMPy{}
	all, err := v.Verify(context.Background(), [][]byte{raw}, keys)
	need(t, err)
	res := all[0]
	if !res.Pass || res.Domain != "thephenom.app" || res.Selector != "mailer" {
		t.Fatalf("the mailer's signature: %+v, want a pass for d=thephenom.app s=mailer", res)
	}

	other, _ := newDKIMKey(t)
	otherTXT, err := TXTRecord(&other.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		raw  []byte
		keys map[string]string
	}{
		"a body byte changed":   {bytes.Replace(raw, []byte("482913"), []byte("482914"), -1), keys},
		"the subject changed":   {bytes.Replace(raw, []byte("Subject: Your Phenom code"), []byte("Subject: Your Phenom c0de"), 1), keys},
		"another key published": {raw, map[string]string{"mailer._domainkey.thephenom.app": otherTXT}},
		"no key published":      {raw, map[string]string{}},
	} {
		if bytes.Equal(c.raw, raw) && c.keys["mailer._domainkey.thephenom.app"] == txt {
			t.Fatalf("%s: the tampering changed nothing", name)
		}
		res, err := v.Verify(context.Background(), [][]byte{c.raw}, c.keys)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res[0].Pass {
			t.Errorf("%s: dkimpy passes the mail", name)
		}
	}
}
