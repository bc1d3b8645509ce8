// Package send turns a rendered message into raw MIME, optionally
// DKIM-signs it (go-msgauth), and hands it to a Transport: SES v2 in
// production, a Maildir on a developer's machine.
//
// The MIME writer (mime.go) and its quoted-printable encoder (qp.go) are
// the package's own, against the project's rule of taking a library where
// one exists, because the libraries (enmime and Go's
// mime/quotedprintable) spent about a quarter of the render + MIME budget
// (200 µs per mail, docs/benchmarks.md) on a mail whose shape never
// changes. They are proven against those libraries: the tests hold every
// byte equal to what enmime builds and to what quotedprintable.Writer
// encodes, for the shipped mails and under fuzzing.
//
// It must not know Cognito events, templates or the environment: the From
// address, the DKIM key and the Transport (the SES client) are given to
// Sender.
package send

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-msgauth/dkim"
	"golang.org/x/net/idna"

	"github.com/Phenom-earth/phenom-mailer/internal/failure"
)

// DefaultFrom is the sender when none is configured.
const DefaultFrom = "Phenom <noreply@thephenom.app>"

// MaxSubject bounds the subject in characters (RFC 5322 recommends 78 per line).
const MaxSubject = 200

// Message is one rendered mail to one recipient.
type Message struct {
	To      string // a bare address: "name@example.com"
	Subject string
	HTML    string
	Text    string
	// Tags travel with the mail (SES email tags); names and values are
	// sanitised by the transport that uses them.
	Tags map[string]string
}

// Envelope is what a transport needs besides the raw bytes.
type Envelope struct {
	From mail.Address
	To   string
	Tags map[string]string
}

// Transport delivers raw MIME and returns the provider's message id.
type Transport interface {
	Deliver(ctx context.Context, raw []byte, env Envelope) (messageID string, err error)
}

// Sender builds, signs and delivers messages. It is safe for concurrent use.
type Sender struct {
	From      mail.Address
	Transport Transport
	// DKIM, when set, signs every message before delivery.
	DKIM *dkim.SignOptions
	// Now is the clock for the Date header (time.Now when nil).
	Now func() time.Time
	// RandSeed, when non-zero, makes MIME boundaries and ids repeatable (tests only).
	RandSeed int64
}

// ParseFrom parses a From such as "Phenom <noreply@thephenom.app>".
func ParseFrom(s string) (mail.Address, error) {
	if strings.ContainsAny(s, "\r\n") {
		return mail.Address{}, errors.New("from address contains a line break")
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return mail.Address{}, fmt.Errorf("from address %q: %w", s, err)
	}
	return *a, nil
}

// Domain returns the part of addr after the last "@".
func Domain(addr string) string {
	return strings.ToLower(addr[strings.LastIndexByte(addr, '@')+1:])
}

// CheckRecipient accepts only a bare, single, well-formed address: no display
// name, no line breaks, no list. This is what keeps a user attribute from
// adding a header or a second recipient.
func CheckRecipient(to string) error {
	switch {
	case to == "":
		return failure.Permanent(failure.ReasonEmailMissing, errors.New("the user has no email attribute"))
	case len(to) > 320, !utf8.ValidString(to), strings.ContainsAny(to, "\r\n\t,;<>\" \x00"):
		return failure.Permanent(failure.ReasonEmailInvalid, errors.New("the email attribute is not a single plain address"))
	}
	a, err := mail.ParseAddress(to)
	if err != nil || a.Address != to || a.Name != "" {
		return failure.Permanent(failure.ReasonEmailInvalid, errors.New("the email attribute is not a valid address"))
	}
	return nil
}

// SESRecipient is to as SES takes it: SES "does not support the SMTPUTF8
// extension ... the local part of a destination email address ... may only
// contain 7-bit ASCII characters. If the domain part ... contains non-ASCII
// characters, they must be encoded using Punycode" (SES API v2,
// Destination). A non-ASCII local part is refused; a non-ASCII domain
// becomes its Punycode (IDNA) form, in the To header and the SES
// destination alike.
func SESRecipient(to string) (string, error) {
	if err := CheckRecipient(to); err != nil {
		return "", err
	}
	at := strings.LastIndexByte(to, '@')
	local, domain := to[:at], to[at+1:]
	if !isASCII(local) {
		return "", failure.Permanent(failure.ReasonEmailInvalid, errors.New("the email attribute has non-ASCII characters before the @, which SES cannot send to"))
	}
	if isASCII(domain) {
		return to, nil
	}
	ascii, err := idna.Lookup.ToASCII(domain)
	if err != nil {
		return "", failure.Permanent(failure.ReasonEmailInvalid, errors.New("the email attribute's domain is not a valid internationalized domain name"))
	}
	return local + "@" + ascii, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] > 127 {
			return false
		}
	}
	return true
}

// Send builds the MIME for m, signs it when configured, and delivers it.
func (s *Sender) Send(ctx context.Context, m Message) (string, error) {
	raw, err := s.Build(m)
	if err != nil {
		return "", err
	}
	return s.Deliver(ctx, raw, m)
}

// ReadyTransport is a Transport that can check, before a mail is built,
// that it is able to send from an address.
type ReadyTransport interface {
	Transport
	Ready(ctx context.Context, from mail.Address) error
}

// Ready checks what the transport needs before it can send (for SES, the
// From domain's DKIM), so that the caller can do it concurrently with other
// work; a transport with nothing to check is always ready.
func (s *Sender) Ready(ctx context.Context) error {
	if rt, ok := s.Transport.(ReadyTransport); ok {
		return rt.Ready(ctx, s.From)
	}
	return nil
}

// Deliver hands raw, built from m by Build, to the transport.
func (s *Sender) Deliver(ctx context.Context, raw []byte, m Message) (string, error) {
	to, err := SESRecipient(m.To)
	if err != nil {
		return "", err
	}
	return s.Transport.Deliver(ctx, raw, Envelope{From: s.From, To: to, Tags: m.Tags})
}

// Build returns the raw, signed (when configured) MIME for m:
// multipart/alternative with a text and an HTML part, Date, a unique
// Message-ID and X-Entity-Ref-ID. Whatever m holds, the bytes pass
// CheckWire: CRLF line ends, no line over MaxLine octets, 7-bit only. Both
// parts are quoted-printable, so they decode to exactly m.Text and m.HTML
// (with CRLF line ends, the canonical form of text, RFC 2045 6.7), and the
// subject is folded into RFC 2047 encoded-words when it is not plain short
// ASCII. A DKIM signature, when configured, covers these final bytes.
func (s *Sender) Build(m Message) ([]byte, error) {
	to, err := SESRecipient(m.To)
	if err != nil {
		return nil, err
	}
	if m.Subject == "" || strings.ContainsAny(m.Subject, "\r\n") || utf8.RuneCountInString(m.Subject) > MaxSubject {
		return nil, failure.Permanent(failure.ReasonRenderFailed, errors.New("subject is empty, too long or has a line break"))
	}
	if m.Text == "" || m.HTML == "" {
		return nil, failure.Permanent(failure.ReasonRenderFailed, errors.New("message lacks a text or an HTML part"))
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	ref, err := s.newID()
	if err != nil {
		return nil, failure.Retryable(failure.ReasonInternal, err)
	}
	raw, err := s.encode(to, m, now(), ref)
	if err != nil {
		return nil, failure.Permanent(failure.ReasonMIMEFailed, err)
	}
	if s.DKIM != nil {
		var signed bytes.Buffer
		signed.Grow(len(raw) + 1024)
		if err := dkim.Sign(&signed, bytes.NewReader(raw), s.DKIM); err != nil {
			return nil, failure.Permanent(failure.ReasonDKIMSignFailed, fmt.Errorf("dkim sign: %w", err))
		}
		raw = signed.Bytes()
	}
	// A guard, not a repair: only a configuration the builder cannot fold
	// (a From display name with one 1,000-character word) gets here.
	if err := CheckWire(raw); err != nil {
		return nil, failure.Permanent(failure.ReasonMIMEFailed, err)
	}
	return raw, nil
}

func (s *Sender) newID() (string, error) {
	var b [16]byte
	if s.RandSeed != 0 {
		for i := range b {
			b[i] = byte(s.RandSeed >> (8 * (i % 8)))
		}
		return hex.EncodeToString(b[:]), nil
	}
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("message id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// DKIMHeaderKeys are the header fields the mailer signs (RFC 6376 5.4.1).
var DKIMHeaderKeys = []string{"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type", "X-Entity-Ref-ID"}
