package inbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Hostile inbound mail: each case is refused (or skipped) with a clear
// reason, and never yields a code. The bounds that keep memory and time
// fixed are structural: sources read at most DefaultMaxSize bytes of a
// message, and at most maxDKIMSignatures signatures are verified.

func checkRefused(t *testing.T, raw []byte, wantReason string) *Verdict {
	t.Helper()
	v, err := Check(context.Background(), Message{ID: "hostile", Received: time.Now(), Raw: raw}, policy)
	if err == nil || v.Trusted || v.Code != "" {
		t.Fatalf("a hostile message was trusted")
	}
	var ue *UntrustedError
	if !errors.As(err, &ue) || ue.Reason == "" || ue.Detail == "" {
		t.Fatalf("refused without a clear reason: %v", err)
	}
	if wantReason != "" && v.Reason != wantReason {
		t.Fatalf("reason %q (%s), want %q", v.Reason, v.Detail, wantReason)
	}
	if strings.Contains(err.Error(), testCode) {
		t.Fatal("the refusal quotes the code")
	}
	return v
}

func deepMIME(depth int) []byte {
	var b bytes.Buffer
	b.WriteString("From: Phenom <noreply@thephenom.app>\r\nTo: " + testTo + "\r\nSubject: x\r\nDate: " + time.Now().Format(time.RFC1123Z) + "\r\nMIME-Version: 1.0\r\n")
	for i := 0; i < depth; i++ {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i)
	}
	b.WriteString("Content-Type: text/plain\r\n\r\n" + resetText(testCode) + "\r\n")
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\r\n", i)
	}
	return b.Bytes()
}

func TestHostileDeepMIMENesting(t *testing.T) {
	// Unsigned, 300 levels deep: refused for the signature, whatever the
	// structure.
	checkRefused(t, deepMIME(300), RefuseUnsigned)

	// Signed by the right domain, 40 and 20,000 levels deep (about 1.3 MB,
	// under the sources' size limit): refused before parsing, since each
	// level makes the MIME parser scan the rest of the message again.
	for _, depth := range []int{40, 20000} {
		raw := sign(t, deepMIME(depth), "thephenom.app")
		if len(raw) > int(DefaultMaxSize) {
			t.Fatalf("depth %d makes %d bytes, over the size limit: the case is not the one meant", depth, len(raw))
		}
		checkRefused(t, raw, RefuseMIME)
	}
	// The mailer's own structure, and a few levels more, still parse.
	raw := sign(t, deepMIME(5), "thephenom.app")
	if _, err := Check(context.Background(), Message{ID: "shallow", Received: time.Now(), Raw: raw}, policy); err != nil {
		t.Fatalf("5 levels: %v", err)
	}
}

func TestHostileHugePartIsNeverRead(t *testing.T) {
	dir := t.TempDir()
	huge := build(t, mailOpts{signers: []string{"thephenom.app"}, text: resetText(testCode) + strings.Repeat("A", int(DefaultMaxSize)+1024)})
	if err := os.WriteFile(filepath.Join(dir, "huge.eml"), huge, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Find(context.Background(), &Maildir{Path: dir}, Query{To: testTo})
	if !errors.Is(err, ErrNoMatch) {
		t.Fatalf("a message over %d bytes was read: %v", DefaultMaxSize, err)
	}
	// Just under the limit it is read and checked like any other.
	ok := build(t, mailOpts{signers: []string{"thephenom.app"}})
	if err := os.WriteFile(filepath.Join(dir, "ok.eml"), ok, 0o600); err != nil {
		t.Fatal(err)
	}
	if m, err := Find(context.Background(), &Maildir{Path: dir}, Query{To: testTo}); err != nil || m.ID != "ok.eml" {
		t.Fatalf("the normal message next to it: %v %q", err, m.ID)
	}
}

func TestHostileManySignatures(t *testing.T) {
	// 40 signatures by another domain above the one aligned signature: only
	// the first maxDKIMSignatures are verified, so the aligned one is never
	// reached and the message is refused rather than verified 41 times.
	raw := build(t, mailOpts{signers: []string{"thephenom.app"}})
	for i := 0; i < 40; i++ {
		raw = sign(t, raw, "example.com")
	}
	v := checkRefused(t, raw, "")
	if len(v.Signatures) > maxDKIMSignatures {
		t.Fatalf("%d signatures verified, the bound is %d", len(v.Signatures), maxDKIMSignatures)
	}
	for _, s := range v.Signatures {
		if s.Aligned && s.Result == "pass" {
			t.Fatal("the aligned signature was reached past the bound")
		}
	}
}

func TestHostileFromDoesNotMatchSignature(t *testing.T) {
	tests := []struct {
		name   string
		raw    []byte
		reason string
	}{
		{"From ours, signed only by another domain", build(t, mailOpts{signers: []string{"example.com"}}), RefuseUnaligned},
		{"From ours, signed only by amazonses.com", build(t, mailOpts{signers: []string{"amazonses.com"}}), RefuseUnaligned},
		{"From another domain, signed by it", build(t, mailOpts{from: "Phenom <noreply@example.com>", signers: []string{"example.com"}}), RefuseFromDomain},
		{"our address as a display name", build(t, mailOpts{from: `"noreply@thephenom.app" <noreply@example.com>`, signers: []string{"example.com"}}), RefuseFromDomain},
		{"signed by ours, then From rewritten", bytes.Replace(build(t, mailOpts{signers: []string{"thephenom.app"}}), []byte("From: \"Phenom\" <noreply@thephenom.app>"), []byte("From: \"Phenom\" <noreply@thephenom.app.evil.example>"), 1), ""},
		{"a second From header", append([]byte("From: attacker@example.com\r\n"), build(t, mailOpts{signers: []string{"thephenom.app"}})...), RefuseHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkRefused(t, tt.raw, tt.reason) })
	}
}
