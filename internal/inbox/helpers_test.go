package inbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/Phenom-earth/phenom-mailer/internal/send"
)

// sign adds a DKIM signature by domain d (selector "mailer") with the
// mailer's signing options.
func sign(t testing.TB, raw []byte, d string) []byte {
	t.Helper()
	testKeys(t)
	opts, err := send.NewDKIM(d, "mailer", keyPEM["mailer._domainkey."+d+"."])
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := dkim.Sign(&out, bytes.NewReader(raw), opts); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// Test keys: one for thephenom.app (selector "mailer"), one for another
// domain, one served under the parent "app" domain.
var (
	keysOnce sync.Once
	keyPEM   = map[string][]byte{}
	records  = map[string]string{}
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		for _, name := range []string{"mailer._domainkey.thephenom.app.", "mailer._domainkey.example.com.", "mailer._domainkey.amazonses.com.", "mailer._domainkey.app."} {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			keyPEM[name] = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
			pub, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
			records[name] = "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(pub)
		}
	})
}

var errTemp = &net.DNSError{Err: "server misbehaving", Name: "mailer._domainkey.thephenom.app.", IsTemporary: true}

// lookup serves the test keys; a name containing "tempfail" fails
// temporarily.
func lookup(_ context.Context, name string) ([]string, error) {
	if strings.Contains(name, "tempfail") {
		return nil, errTemp
	}
	if r, ok := records[name]; ok {
		return []string{r}, nil
	}
	return nil, fmt.Errorf("no TXT for %s", name)
}

var policy = Policy{From: DefaultFrom, LookupTXT: lookup}

const (
	testTo   = "test-staging@thephenom.app"
	testCode = "836251"
)

func resetText(code string) string {
	return "Reset your Phenom password\n\nWe received a request to reset the password for your Phenom account. Enter this code to choose a new password:\n\n" +
		"Your code: " + code + "\n\nOr open this link to reset it straight away:\n\n" +
		"https://www.thephenom.app/reset-password?code=" + code + "&email=test-staging%40thephenom.app\n\n-- \nPhenom\n"
}

func resetHTML(code string) string {
	return `<!DOCTYPE html><html><body><h1>Reset your password</h1><p>Enter this code:</p>` +
		`<table><tr><td style="font-size:32px">` + code + `</td></tr></table>` +
		`<a href="https://www.thephenom.app/reset-password?code=` + code + `&amp;email=test-staging%40thephenom.app">Reset password</a></body></html>`
}

type mailOpts struct {
	from       string
	to         string
	text, html string
	date       time.Time
	// signers: DKIM domains to sign with, in order ("" = unsigned).
	signers []string
	// prepend goes above the signed header (as SES inbound adds headers).
	prepend string
}

// build makes a mail with the mailer's own MIME builder and DKIM signer.
func build(t testing.TB, o mailOpts) []byte {
	t.Helper()
	testKeys(t)
	if o.from == "" {
		o.from = "Phenom <" + DefaultFrom + ">"
	}
	if o.to == "" {
		o.to = testTo
	}
	if o.text == "" {
		o.text = resetText(testCode)
	}
	if o.html == "" {
		o.html = resetHTML(testCode)
	}
	if o.date.IsZero() {
		o.date = time.Now()
	}
	from, err := mail.ParseAddress(o.from)
	if err != nil {
		t.Fatal(err)
	}
	s := &send.Sender{From: *from, Now: func() time.Time { return o.date }}
	raw, err := s.Build(send.Message{To: o.to, Subject: "Reset your Phenom password", Text: o.text, HTML: o.html})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range o.signers {
		raw = sign(t, raw, d)
	}
	return append([]byte(o.prepend), raw...)
}
