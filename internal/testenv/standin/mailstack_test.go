package standin

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

func TestDNSServesTXT(t *testing.T) {
	long := "v=DKIM1; k=rsa; p=" + strings.Repeat("A", 600)
	d, err := StartDNS(map[string]string{"mailer._domainkey.thephenom.app": long})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if !strings.HasPrefix(d.Addr, "127.0.0.1:") {
		t.Fatalf("DNS listens on %s", d.Addr)
	}
	for _, network := range []string{"udp", "tcp"} {
		r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dd net.Dialer
			return dd.DialContext(ctx, network, d.Addr)
		}}
		got, err := r.LookupTXT(context.Background(), "Mailer._domainkey.thephenom.app.")
		if err != nil || len(got) != 1 || got[0] != long {
			t.Fatalf("%s: %d records, %v (the 255-byte strings must join into one record)", network, len(got), err)
		}
		_, err = r.LookupTXT(context.Background(), "other._domainkey.thephenom.app.")
		var de *net.DNSError
		if !errors.As(err, &de) || !de.IsNotFound {
			t.Fatalf("%s: unknown name: %v", network, err)
		}
	}
}

// TestDovecotLMTPToIMAP: a message delivered over LMTP is read back over
// IMAP byte for byte.
func TestDovecotLMTPToIMAP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := StartDovecot(ctx, map[string]string{"test-staging@thephenom.app": "imap-test-pw"})
	if errors.Is(err, ErrDovecotMissing) {
		SkipOrFail(t, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	raw := []byte("From: noreply@thephenom.app\r\nTo: test-staging@thephenom.app\r\nSubject: hi\r\n\r\n.leading dot\r\nbody\r\n")
	if err := d.Deliver(ctx, "noreply@thephenom.app", "test-staging@thephenom.app", raw); err != nil {
		t.Fatalf("%v\n%s", err, d.Log())
	}
	c, err := imapclient.DialInsecure(d.IMAPAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("test-staging@thephenom.app", "imap-test-pw").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	sec := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{sec}}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("fetch: %d, %v", len(msgs), err)
	}
	got := string(msgs[0].FindBodySection(sec))
	if !strings.HasSuffix(got, string(raw)) {
		t.Fatalf("IMAP returned other bytes than were delivered:\n%q", got)
	}
	if err := c.Login("test-staging@thephenom.app", "wrong").Wait(); err == nil {
		t.Error("a second login with a wrong password succeeded")
	}
}
