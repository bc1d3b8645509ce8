package standin

import (
	"bytes"
	"context"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-msgauth/dkim"
)

// ReceiptRule plays SES inbound for mail that moto's SES accepted: nothing
// local delivers receipt-rule copies, so it polls moto's sent mail and,
// for each new Raw message, prepends the headers SES inbound adds
// (X-SES-Spam-Verdict, X-SES-Virus-Verdict, Received-SPF, and
// Authentication-Results with the DKIM result it computes itself), then
// does what the rule's actions do: puts the copy into Bucket under
// Prefix+messageId (S3 action) and delivers it over LMTP to LMTPAddr (a
// mailbox, as WorkMail would).
type ReceiptRule struct {
	Moto           *Moto
	Bucket, Prefix string
	// LMTPAddr, when set, also receives each copy, for every recipient.
	LMTPAddr string
	// LookupTXT resolves DKIM keys for the Authentication-Results verdict
	// (nil: no DKIM verdict header).
	LookupTXT func(name string) ([]string, error)
	// Interval between polls of moto (50 ms when zero).
	Interval time.Duration

	mu     sync.Mutex
	seen   map[string]bool
	errs   []error
	copies int
	stop   chan struct{}
	done   chan struct{}
}

// Start polls until Stop.
func (r *ReceiptRule) Start() {
	r.seen = map[string]bool{}
	r.stop, r.done = make(chan struct{}), make(chan struct{})
	iv := r.Interval
	if iv <= 0 {
		iv = 50 * time.Millisecond
	}
	go func() {
		defer close(r.done)
		for {
			r.Poll(context.Background())
			select {
			case <-r.stop:
				return
			case <-time.After(iv):
			}
		}
	}()
}

// Stop ends polling and returns the errors met (none when all went well).
func (r *ReceiptRule) Stop() []error {
	close(r.stop)
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.errs
}

// Copies is how many messages were relayed.
func (r *ReceiptRule) Copies() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.copies
}

// Poll relays what is new once.
func (r *ReceiptRule) Poll(ctx context.Context) {
	sent, err := r.Moto.SentEmails()
	if err != nil {
		r.fail(err)
		return
	}
	for _, s := range sent {
		r.mu.Lock()
		if r.seen == nil {
			r.seen = map[string]bool{}
		}
		done := r.seen[s.MessageID] || s.Raw == nil
		r.seen[s.MessageID] = true
		r.mu.Unlock()
		if done {
			continue
		}
		inbound := r.inboundCopy(s)
		if r.Bucket != "" {
			if err := r.Moto.PutObject(ctx, r.Bucket, r.Prefix+s.MessageID, inbound); err != nil {
				r.fail(err)
			}
		}
		if r.LMTPAddr != "" {
			for _, rcpt := range s.Destinations {
				addr := rcpt
				if a, err := mail.ParseAddress(rcpt); err == nil {
					addr = a.Address
				}
				if err := DeliverLMTP(ctx, r.LMTPAddr, bareAddress(s.Source), addr, inbound); err != nil {
					r.fail(fmt.Errorf("receipt rule: lmtp to %s: %w", addr, err))
				}
			}
		}
		r.mu.Lock()
		r.copies++
		r.mu.Unlock()
	}
}

func (r *ReceiptRule) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) < 20 {
		r.errs = append(r.errs, err)
	}
}

func bareAddress(s string) string {
	if a, err := mail.ParseAddress(s); err == nil {
		return a.Address
	}
	return s
}

// inboundCopy is the raw message with SES inbound's headers on top; the
// original bytes follow unchanged.
func (r *ReceiptRule) inboundCopy(s SentEmail) []byte {
	from := bareAddress(s.Source)
	dom := from[strings.LastIndexByte(from, '@')+1:]
	var h strings.Builder
	fmt.Fprintf(&h, "Return-Path: <%s>\r\n", from)
	fmt.Fprintf(&h, "Received: from standin-ses (standin-ses [127.0.0.1])\r\n by inbound-smtp.standin.localhost with SMTP id %s\r\n for <%s>;\r\n %s\r\n",
		s.MessageID, strings.Join(s.Destinations, ">, <"), time.Now().UTC().Format(time.RFC1123Z))
	h.WriteString("X-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: PASS\r\n")
	fmt.Fprintf(&h, "Received-SPF: pass (spf=pass) client-ip=127.0.0.1; envelope-from=%s;\r\n", from)
	if r.LookupTXT != nil {
		verdict := "none"
		if vs, err := dkim.VerifyWithOptions(bytes.NewReader(s.Raw), &dkim.VerifyOptions{LookupTXT: r.LookupTXT, MaxVerifications: 8}); err == nil {
			for _, v := range vs {
				if v.Err == nil && strings.EqualFold(v.Domain, dom) {
					verdict = "pass"
					break
				}
				verdict = "fail"
			}
		}
		fmt.Fprintf(&h, "Authentication-Results: amazonses.com;\r\n spf=pass (spf=pass) smtp.mailfrom=%s;\r\n dkim=%s header.i=@%s;\r\n dmarc=%s header.from=%s;\r\n",
			from, verdict, dom, map[bool]string{true: "pass", false: "fail"}[verdict == "pass"], dom)
	}
	return append([]byte(h.String()), s.Raw...)
}
