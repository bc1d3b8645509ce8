// Package inbox reads a reset mail from a copy of a test account's inbox and
// decides whether to trust it.
//
// A Source (S3 bucket of SES receipt-rule copies, an IMAP mailbox, a Maildir
// or folder of .eml files) lists raw messages with the time the source
// recorded for each. Find picks the newest message addressed to the expected
// recipient, from the expected sender, received after the request; Check
// verifies it: DKIM over the raw bytes with a passing signature aligned with
// the From domain (go-msgauth), SES verdict headers when present, then parses
// it with enmime and extracts the code from its labelled line, cross-checked
// with the HTML part and the reset link. Wait polls with backoff.
//
// Open builds a Source from its spec (--source) with the dependencies the
// caller passes (the IMAP password, the S3 client). The package must not
// know the command line, the environment, Cognito or the round trip (package
// reset), and nothing here logs. No error or Verdict field carries a mail
// body; the code is only in Verdict.Code.
package inbox

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"net/textproto"
	"sort"
	"strings"
	"time"
)

// DefaultFrom is the sender a reset mail must come from unless told otherwise.
const DefaultFrom = "noreply@thephenom.app"

// DefaultMaxSize bounds a message a source will read (larger ones are
// skipped): reset mails are a few tens of KiB; SES allows 40 MB.
const DefaultMaxSize = 2 << 20

// DefaultSkew is the clock skew allowed between this machine, the source and
// the sender when judging "received after the request".
const DefaultSkew = 5 * time.Second

// Message is one raw message as a source holds it.
type Message struct {
	// ID names it in the source: the S3 key, the IMAP UID, the file name.
	ID string
	// Received is when the source recorded it: S3 LastModified, IMAP
	// INTERNALDATE, the file's modification time.
	Received time.Time
	// Raw is the message byte for byte, never re-serialised (DKIM verifies
	// only over the bytes as received).
	Raw []byte
}

// Source lists messages.
type Source interface {
	// Fetch returns the messages the source recorded at or after since,
	// newest first. Messages over the source's size limit are left out, and
	// so is every message whose ID skip (when not nil) answers true for:
	// skip is asked before the body is read.
	Fetch(ctx context.Context, since time.Time, skip func(id string) bool) ([]Message, error)
	// String names the source for reports, without secrets.
	String() string
}

// Query is what makes a message match.
type Query struct {
	// To is the recipient address (required).
	To string
	// From is the expected sender address (DefaultFrom when empty).
	From string
	// Since is the request time: only mail received at or after it,
	// less Skew, counts. Zero means any time.
	Since time.Time
	// Skew is the allowance for clock differences (DefaultSkew when zero;
	// negative means none).
	Skew time.Duration
	// Before holds the IDs of messages the source already had when the
	// request was made (see Snapshot): they never count, however close
	// their time is to the request's.
	Before map[string]bool
}

func (q Query) from() string {
	if q.From == "" {
		return DefaultFrom
	}
	return q.From
}

func (q Query) skew() time.Duration {
	switch {
	case q.Skew < 0:
		return 0
	case q.Skew == 0:
		return DefaultSkew
	}
	return q.Skew
}

// earliest is the first instant that counts.
func (q Query) earliest() time.Time {
	if q.Since.IsZero() {
		return time.Time{}
	}
	return q.Since.Add(-q.skew())
}

// Skip reasons: why a message did not match.
const (
	SkipUnreadable = "unreadable_header"
	SkipFrom       = "other_sender"
	SkipTo         = "other_recipient"
	SkipOld        = "received_before_request"
	SkipDate       = "date_before_request"
	SkipNoDate     = "no_date"
	SkipBefore     = "present_before_request"
)

// Match tells whether m matches q, and if not, why (a Skip reason).
func Match(m Message, q Query) (bool, string) {
	if q.Before[m.ID] {
		return false, SkipBefore
	}
	h, err := readHeader(m.Raw)
	if err != nil {
		return false, SkipUnreadable
	}
	from, err := singleAddress(h, "From")
	if err != nil || !strings.EqualFold(from, q.from()) {
		return false, SkipFrom
	}
	if !addressedTo(h, q.To) {
		return false, SkipTo
	}
	if t := q.earliest(); !t.IsZero() {
		if m.Received.Before(t) {
			return false, SkipOld
		}
		d, err := mail.ParseDate(h.Get("Date"))
		if err != nil {
			return false, SkipNoDate
		}
		if d.Before(t) {
			return false, SkipDate
		}
	}
	return true, ""
}

func readHeader(raw []byte) (textproto.MIMEHeader, error) {
	r := textproto.NewReader(bufio.NewReader(io.LimitReader(bytes.NewReader(raw), 256<<10)))
	h, err := r.ReadMIMEHeader()
	if err != nil && !(errors.Is(err, io.EOF) && len(h) > 0) {
		return nil, err
	}
	return h, nil
}

// singleAddress returns the one address of a header that must occur once
// with one address.
func singleAddress(h textproto.MIMEHeader, name string) (string, error) {
	vs := h.Values(name)
	if len(vs) != 1 {
		return "", fmt.Errorf("%d %s headers", len(vs), name)
	}
	list, err := mail.ParseAddressList(vs[0])
	if err != nil || len(list) != 1 {
		return "", fmt.Errorf("%s is not one address", name)
	}
	return list[0].Address, nil
}

func addressedTo(h textproto.MIMEHeader, to string) bool {
	for _, name := range []string{"To", "Cc", "Delivered-To", "X-Original-To"} {
		for _, v := range h.Values(name) {
			list, err := mail.ParseAddressList(v)
			if err != nil {
				continue
			}
			for _, a := range list {
				if strings.EqualFold(a.Address, to) {
					return true
				}
			}
		}
	}
	return false
}

// ErrNoMatch means no message matched (yet).
var ErrNoMatch = errors.New("no matching mail")

// NoMatchError says what was looked at.
type NoMatchError struct {
	Source string
	// Seen is how many messages the source listed in the last look;
	// Skipped counts them by Skip reason.
	Seen    int
	Skipped map[string]int
	// Looks is how many times the source was asked.
	Looks int
	// Since is the earliest time that counted (zero: any).
	Since time.Time
}

func (e *NoMatchError) Error() string {
	var parts []string
	keys := make([]string, 0, len(e.Skipped))
	for k := range e.Skipped {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d %s", e.Skipped[k], k))
	}
	s := fmt.Sprintf("no matching mail in %s after %d look(s): %d message(s) listed", e.Source, e.Looks, e.Seen)
	if !e.Since.IsZero() {
		s += " as received since " + e.Since.UTC().Format(time.RFC3339)
	}
	if len(parts) > 0 {
		s += " (skipped: " + strings.Join(parts, ", ") + ")"
	}
	return s
}

func (e *NoMatchError) Is(target error) bool { return target == ErrNoMatch }

// Find asks src once and returns the newest message matching q.
func Find(ctx context.Context, src Source, q Query) (Message, error) {
	nm := &NoMatchError{Source: src.String(), Skipped: map[string]int{}, Looks: 1, Since: q.earliest()}
	var skip func(string) bool
	if len(q.Before) > 0 {
		skip = func(id string) bool {
			if q.Before[id] {
				nm.Skipped[SkipBefore]++
				nm.Seen++
				return true
			}
			return false
		}
	}
	msgs, err := src.Fetch(ctx, q.earliest(), skip)
	if err != nil {
		return Message{}, fmt.Errorf("read %s: %w", src, err)
	}
	sort.SliceStable(msgs, func(i, j int) bool { return msgs[i].Received.After(msgs[j].Received) })
	nm.Seen += len(msgs)
	for _, m := range msgs {
		ok, why := Match(m, q)
		if ok {
			return m, nil
		}
		nm.Skipped[why]++
	}
	return Message{}, nm
}

// Snapshot lists the IDs of the messages src holds now that Find could
// pick for q: taken just before a request, it keeps mail from an earlier
// request (which may lie within the skew allowance) out of the answer.
func Snapshot(ctx context.Context, src Source, q Query) (map[string]bool, error) {
	ids := map[string]bool{}
	_, err := src.Fetch(ctx, q.earliest(), func(id string) bool {
		ids[id] = true
		return true // no body is read
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", src, err)
	}
	return ids, nil
}

// Backoff is the polling schedule of Wait.
type Backoff struct {
	Initial, Max time.Duration
	Factor       float64
	// OnError, when set, hears of each failed look that Wait retries (a
	// source error: it never holds a message body).
	OnError func(look int, err error)
}

// DefaultBackoff starts at 250 ms and grows by half up to 5 s.
var DefaultBackoff = Backoff{Initial: 250 * time.Millisecond, Max: 5 * time.Second, Factor: 1.5}

// Wait asks src until a message matches q or ctx ends, sleeping by b
// between looks. A source error that persists is returned; a passing one
// (a refused connection, a timeout) is retried.
func Wait(ctx context.Context, src Source, q Query, b Backoff) (Message, error) {
	if b.Initial <= 0 {
		onError := b.OnError
		b = DefaultBackoff
		b.OnError = onError
	}
	delay := b.Initial
	looks := 0
	var last error
	failures := 0
	for {
		looks++
		m, err := Find(ctx, src, q)
		if err == nil {
			return m, nil
		}
		var nm *NoMatchError
		if errors.As(err, &nm) {
			nm.Looks = looks
			failures = 0
		} else {
			if ctx.Err() != nil {
				if last == nil {
					last = err
				}
				break
			}
			failures++
			if failures >= 5 {
				return Message{}, err
			}
			if b.OnError != nil {
				b.OnError(looks, err)
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return Message{}, last
		case <-time.After(delay):
		}
		delay = time.Duration(float64(delay) * b.Factor)
		if delay > b.Max {
			delay = b.Max
		}
	}
	return Message{}, last
}
