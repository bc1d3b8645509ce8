package inbox

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

const imapTestPassword = "imap-test-secret-pw"

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "standin imaps"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), pool
}

// TestIMAPSource reads a real dovecot over implicit TLS (imaps) and plain
// IMAP: the newest message after the request, bytes intact for DKIM; a
// snapshot keeps earlier mail out; an untrusted certificate and a wrong
// password fail without quoting the password.
func TestIMAPSource(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	certPEM, keyPEM, roots := selfSigned(t)
	d, err := standin.StartDovecotTLS(ctx, map[string]string{testTo: imapTestPassword}, certPEM, keyPEM)
	if errors.Is(err, standin.ErrDovecotMissing) {
		standin.SkipOrFail(t, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	deliver := func(raw []byte) {
		t.Helper()
		if err := d.Deliver(ctx, DefaultFrom, testTo, raw); err != nil {
			t.Fatal(err)
		}
	}
	req := time.Now()
	deliver(build(t, mailOpts{signers: []string{"thephenom.app"}, text: resetText("111111"), html: resetHTML("111111")}))

	src := &IMAP{Addr: d.IMAPSAddr, TLS: true, User: testTo, Password: imapTestPassword, Mailbox: "INBOX", TLSConfig: &tls.Config{RootCAs: roots}}
	defer src.Close()
	q := Query{To: testTo, Since: req}
	before, err := Snapshot(ctx, src, q)
	if err != nil || len(before) != 1 {
		t.Fatalf("snapshot: %d ids, %v", len(before), err)
	}
	q.Before = before
	if _, err := Find(ctx, src, q); !errors.Is(err, ErrNoMatch) {
		t.Fatalf("the mail from before the snapshot counted: %v", err)
	}
	deliver(build(t, mailOpts{signers: []string{"thephenom.app"}, text: resetText("222222"), html: resetHTML("222222")}))
	m, err := Wait(ctx, src, q, Backoff{Initial: 20 * time.Millisecond, Max: 100 * time.Millisecond, Factor: 2})
	if err != nil {
		t.Fatal(err)
	}
	v, err := Check(ctx, m, policy)
	if err != nil || v.Code != "222222" {
		t.Fatalf("check over imaps: %v", err)
	}
	if m.Received.Before(req.Add(-2*time.Second)) || m.Received.After(time.Now().Add(2*time.Second)) {
		t.Errorf("INTERNALDATE %v is not the delivery time", m.Received)
	}

	// Plain IMAP reads the same mailbox.
	plain := &IMAP{Addr: d.IMAPAddr, User: testTo, Password: imapTestPassword, Mailbox: "INBOX"}
	defer plain.Close()
	if msgs, err := plain.Fetch(ctx, req.Add(-time.Minute), nil); err != nil || len(msgs) != 2 {
		t.Fatalf("plain IMAP: %d messages, %v", len(msgs), err)
	}

	for name, s := range map[string]*IMAP{
		"untrusted certificate": {Addr: d.IMAPSAddr, TLS: true, User: testTo, Password: imapTestPassword, Mailbox: "INBOX"},
		"wrong password":        {Addr: d.IMAPSAddr, TLS: true, User: testTo, Password: "wrong-" + imapTestPassword, Mailbox: "INBOX", TLSConfig: &tls.Config{RootCAs: roots}},
		"no such mailbox":       {Addr: d.IMAPAddr, User: testTo, Password: imapTestPassword, Mailbox: "Nope"},
	} {
		_, err := s.Fetch(ctx, time.Time{}, nil)
		if err == nil {
			t.Errorf("%s: no error", name)
		} else if strings.Contains(err.Error(), imapTestPassword) {
			t.Errorf("%s: the error quotes the password", name)
		}
		s.Close()
	}
}
