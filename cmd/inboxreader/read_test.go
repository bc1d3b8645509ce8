package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/Phenom-earth/phenom-mailer/internal/send"
	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// Keys for the read tests: thephenom.app and another domain, served by a
// DNS server on 127.0.0.1 that every read test passes as --resolver.
var (
	readOnce sync.Once
	readDNS  *standin.DNS
	readKeys = map[string][]byte{}
)

func readStack(t *testing.T) string {
	t.Helper()
	readOnce.Do(func() {
		recs := map[string]string{}
		for _, d := range []string{"thephenom.app", "example.com"} {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			readKeys[d] = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
			pub, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
			recs["sel._domainkey."+d] = "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(pub)
		}
		var err error
		if readDNS, err = standin.StartDNS(recs); err != nil {
			panic(err)
		}
		cleanups = append(cleanups, func() { readDNS.Close() })
	})
	return readDNS.Addr
}

const readCode = "407193"

// mailerMail builds a reset mail with the mailer's own MIME builder and,
// for each domain in signers, its DKIM signer.
func mailerMail(t *testing.T, from string, date time.Time, signers ...string) []byte {
	t.Helper()
	readStack(t)
	a, _ := mail.ParseAddress(from)
	s := &send.Sender{From: *a, Now: func() time.Time { return date }}
	link := "https://www.thephenom.app/reset-password?code=" + readCode + "&email=test-staging%40thephenom.app"
	raw, err := s.Build(send.Message{To: user, Subject: "Reset your Phenom password",
		Text: "Reset your Phenom password\n\nYour code: " + readCode + "\n\n" + link + "\n",
		HTML: `<p>Your code:</p><p><strong>` + readCode + `</strong></p><a href="` + strings.ReplaceAll(link, "&", "&amp;") + `">Reset</a>`})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range signers {
		opts, err := send.NewDKIM(d, "sel", readKeys[d])
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := dkim.Sign(&out, bytes.NewReader(raw), opts); err != nil {
			t.Fatal(err)
		}
		raw = out.Bytes()
	}
	return raw
}

func eml(t *testing.T, raw []byte, mtime time.Time) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "reset.eml")
	if err := os.WriteFile(p, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	return "maildir:" + dir
}

// TestReadTrusted prints the code, the link and the verdicts, exit 0.
func TestReadTrusted(t *testing.T) {
	dns := readStack(t)
	now := time.Now()
	src := eml(t, mailerMail(t, send.DefaultFrom, now, "thephenom.app"), now)
	stdout, stderr, code := invoke(t, nil, "read", "--source", src, "--to", user, "--since", "1m", "--resolver", dns)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, summary(stdout, stderr))
	}
	for _, want := range []string{"code      " + readCode, "link      https://www.thephenom.app/reset-password?code=" + readCode, "d=thephenom.app s=sel pass, aligned", "trusted   yes"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	stdout, _, code = invoke(t, nil, "read", "--source", src, "--to", user, "--resolver", dns, "--json")
	rep := decode(t, stdout)
	if code != exitOK || rep["code"] != readCode || rep["outcome"] != "ok" {
		t.Errorf("JSON: exit %d, outcome %v", code, rep["outcome"])
	}
}

// TestReadRefusals: each untrusted mail exits 4 with its reason, mail older
// than the request exits 3, and no refusal prints the code.
func TestReadRefusals(t *testing.T) {
	dns := readStack(t)
	now := time.Now()
	good := mailerMail(t, send.DefaultFrom, now, "thephenom.app")
	changed := bytes.Replace(good, []byte("Reset your Phenom password\r\n"), []byte("Reset your Phenom password!\r\n"), 1)
	if bytes.Equal(changed, good) {
		t.Fatal("the tamper changed nothing")
	}
	for _, c := range []struct {
		name   string
		raw    []byte
		mtime  time.Time
		exit   int
		reason string
	}{
		{"unsigned", mailerMail(t, send.DefaultFrom, now), now, exitUntrusted, "dkim_none"},
		{"signed only by another domain", mailerMail(t, send.DefaultFrom, now, "example.com"), now, exitUntrusted, "dkim_unaligned"},
		{"body changed after signing", changed, now, exitUntrusted, "dkim_fail"},
		{"older than the request", good, now.Add(-10 * time.Minute), exitNoMail, "0 message(s) listed as received since"},
		{"Date older than the request", mailerMail(t, send.DefaultFrom, now.Add(-10*time.Minute), "thephenom.app"), now, exitNoMail, "date_before_request"},
		{"another sender", mailerMail(t, "Other <noreply@example.com>", now, "example.com"), now, exitNoMail, "other_sender"},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := eml(t, c.raw, c.mtime)
			stdout, stderr, code := invoke(t, nil, "read", "--source", src, "--to", user, "--since", "1m", "--resolver", dns, "--json")
			if code != c.exit {
				t.Fatalf("exit %d, want %d: %s", code, c.exit, summary(stdout, stderr))
			}
			rep := decode(t, stdout)
			if e, _ := rep["error"].(string); !strings.Contains(e, c.reason) {
				t.Errorf("error %q does not name %s", e, c.reason)
			}
			if c.exit == exitUntrusted {
				mail := rep["mail"].(map[string]any)
				if mail["trusted"] != false || mail["reason"] != c.reason {
					t.Errorf("verdict %v/%v", mail["trusted"], mail["reason"])
				}
				if _, ok := mail["signatures"].([]any); !ok {
					t.Errorf("the report lacks the signature list")
				}
			}
			assertNoSecret(t, "stdout", stdout, readCode)
			assertNoSecret(t, "stderr", stderr, readCode)
		})
	}
}

// TestReadWaits polls until the mail lands.
func TestReadWaits(t *testing.T) {
	dns := readStack(t)
	dir := t.TempDir()
	go func() {
		time.Sleep(400 * time.Millisecond)
		os.WriteFile(filepath.Join(dir, "late.eml"), mailerMail(t, send.DefaultFrom, time.Now(), "thephenom.app"), 0o600)
	}()
	start := time.Now()
	stdout, stderr, code := invoke(t, nil, "read", "--source", "maildir:"+dir, "--to", user, "--since", "1s", "--wait", "10s", "--resolver", dns)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, summary(stdout, stderr))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	_, _, code = invoke(t, nil, "read", "--source", "maildir:"+t.TempDir(), "--to", user, "--wait", "300ms")
	if code != exitNoMail {
		t.Errorf("empty source: exit %d, want %d", code, exitNoMail)
	}
}

// TestReadS3Refusal: the real S3 source (moto) skips the SES setup
// notification and refuses a changed copy that is the newest.
func TestReadS3Refusal(t *testing.T) {
	c := needChain(t)
	c.env(t)
	pfx := "refusal-" + time.Now().Format("150405.000000") + "/"
	ctx := context.Background()
	good := mailerMail(t, send.DefaultFrom, time.Now(), "thephenom.app")
	if err := c.Moto.PutObject(ctx, bucket, pfx+"AMAZON_SES_SETUP_NOTIFICATION", []byte("setup")); err != nil {
		t.Fatal(err)
	}
	if err := c.Moto.PutObject(ctx, bucket, pfx+"a-good", good); err != nil {
		t.Fatal(err)
	}
	src := "s3://" + bucket + "/" + pfx
	stdout, stderr, code := invoke(t, nil, "read", "--source", src, "--to", user, "--since", "1m", "--resolver", readDNS.Addr, "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, summary(stdout, stderr))
	}
	time.Sleep(1100 * time.Millisecond) // LastModified has a resolution of a second
	changed := bytes.Replace(good, []byte("Your code: "+readCode), []byte("Your code: 111111"), 1)
	if err := c.Moto.PutObject(ctx, bucket, pfx+"b-changed", changed); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = invoke(t, nil, "read", "--source", src, "--to", user, "--since", "1m", "--resolver", readDNS.Addr, "--json")
	if code != exitUntrusted || !strings.Contains(stdout, "dkim_fail") {
		t.Fatalf("exit %d: %s", code, summary(stdout, stderr))
	}
	assertNoSecret(t, "stdout", stdout, readCode)
}

// TestUsage: usage errors exit 2; an IMAP password is never taken from the
// command line.
func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"nope"},
		{"read"},
		{"read", "--source", "maildir:/tmp"},
		{"read", "--source", "ftp://x", "--to", user},
		{"read", "--source", "maildir:/tmp", "--to", user, "--since", "yesterday"},
		{"read", "--source", "imaps://u:hunter2pw@host/INBOX", "--to", user},
		{"read", "--source", "imaps://u@host/INBOX", "--to", user},
		{"read", "--source", "maildir:/tmp", "--to", user, "--resolver", "nohostport"},
		{"roundtrip", "--client-id", "c", "--username", user, "--source", "maildir:/tmp"},
		{"roundtrip", "--user-pool-id", "p_1", "--client-id", "c", "--username", "bob", "--source", "maildir:/tmp"},
		{"roundtrip", "--user-pool-id", "p_1", "--client-id", "c", "--username", user, "--source", "maildir:/tmp", "--auth", "magic"},
		{"roundtrip", "--user-pool-id", "p_1", "--client-id", "c", "--username", user, "--source", "maildir:/tmp", "--client-secret-env", "NO_SUCH_VAR_X"},
	} {
		_, stderr, code := invoke(t, map[string]string{"INBOX_IMAP_PASSWORD": ""}, args...)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
		assertNoSecret(t, "stderr", stderr, "hunter2pw")
	}
	for _, args := range [][]string{{"read", "-h"}, {"roundtrip", "--help"}} {
		if _, _, code := invoke(t, nil, args...); code != exitOK {
			t.Errorf("%v: exit %d, want 0", args, code)
		}
	}
	stdout, _, code := invoke(t, nil, "help")
	if code != exitOK || !strings.Contains(stdout, "INBOX_IMAP_PASSWORD") {
		t.Errorf("help: exit %d", code)
	}
}
