package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/delivery"
	"github.com/Phenom-earth/phenom-mailer/internal/failure"
	"github.com/Phenom-earth/phenom-mailer/internal/redact"
	"github.com/Phenom-earth/phenom-mailer/internal/send"
)

// The outcomes of one mail.
const (
	OutcomeSent       = "sent"       // the mail was accepted for delivery
	OutcomeDuplicate  = "duplicate"  // this mail was already handled (or is in flight)
	OutcomeRefused    = "refused"    // permanent: a retry cannot help, nothing was sent
	OutcomeFailed     = "failed"     // retryable: nothing was sent, a later attempt may succeed
	OutcomeSuppressed = "suppressed" // permanent: the recipient is on SES's suppression list, nothing was sent
)

// Verdict is what Run's error makes of a mail.
type Verdict struct {
	Outcome string
	Reason  string
	// MessageID is, for a duplicate, the first send's message id (when
	// the claim knew it).
	MessageID string
	// Error is the error's text for a failed or refused mail, scrubbed of
	// the recipient and the code.
	Error string
	// Suppression is the recipient's suppression-list entry (outcome
	// suppressed).
	Suppression *send.Suppression
	// Level is the level of the mail's log line.
	Level slog.Level
}

// Judge classifies Run's error: nil is sent; a *SuppressedError
// suppressed; a duplicate claim duplicate, with its status as reason
// ("already_sent", "in_progress"; "already_handled" when it does not say);
// any other error refused when permanent, else failed (failure.Classify).
// to and code are scrubbed from the error's text.
func Judge(err error, to, code string) Verdict {
	var se *SuppressedError
	switch {
	case err == nil:
		return Verdict{Outcome: OutcomeSent, Level: slog.LevelInfo}
	case errors.As(err, &se):
		return Verdict{Outcome: OutcomeSuppressed, Reason: se.Reason(), Suppression: &se.Entry, Level: slog.LevelWarn}
	case errors.Is(err, failure.ErrDuplicate):
		v := Verdict{Outcome: OutcomeDuplicate, Reason: string(failure.ReasonAlreadyHandled), Level: slog.LevelInfo}
		var d interface{ DuplicateOf() (string, string) }
		if errors.As(err, &d) {
			v.Reason, v.MessageID = d.DuplicateOf()
		}
		return v
	}
	reason, permanent := failure.Classify(err)
	v := Verdict{Outcome: OutcomeFailed, Reason: reason, Error: Scrub(err.Error(), to, code), Level: slog.LevelError}
	if permanent {
		v.Outcome, v.Level = OutcomeRefused, slog.LevelWarn
	}
	return v
}

// Recorder keeps the delivery record of each mail (see package delivery).
type Recorder interface {
	RecordAttempt(ctx context.Context, a delivery.Attempt) error
}

// RecordTimeout bounds the delivery-record write. It runs after the outcome
// is known (the mail is sent or not by then), so it never delays or fails a
// send; it may run up to RecordTimeout past the context's own deadline,
// which is why the Lambda wiring keeps more than that back from Lambda's.
const RecordTimeout = time.Second

// Record writes a, the last stage of a mail, on a budget of its own
// (RecordTimeout, and at most RecordTimeout past ctx's deadline). The
// error names no address: the recipient is hashed before it leaves this
// process, and the text is scrubbed of a.Recipient.
func Record(ctx context.Context, r Recorder, a delivery.Attempt) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), RecordTimeout)
	defer cancel()
	if dl, ok := ctx.Deadline(); ok {
		var c2 context.CancelFunc
		rctx, c2 = context.WithDeadline(rctx, dl.Add(RecordTimeout))
		defer c2()
	}
	if err := r.RecordAttempt(rctx, a); err != nil {
		return errors.New(Scrub(err.Error(), a.Recipient, ""))
	}
	return nil
}

// Scrub removes the recipient and the code from an error text (SES, for
// one, quotes the recipient in MessageRejected) and bounds it to 1,024
// bytes. The address goes in any case, and percent-encoded as a request
// URL carries it (the suppression look-up's path); a code shorter than 4
// characters is left, it would match too much.
func Scrub(msg, email, code string) string {
	if email != "" {
		masked := redact.Email(email)
		msg = strings.ReplaceAll(msg, email, masked)
		if lower := strings.ToLower(email); lower != email {
			msg = strings.ReplaceAll(msg, lower, masked)
		}
		msg = addressPattern(email).ReplaceAllLiteralString(msg, masked)
	}
	if len(code) >= 4 {
		msg = strings.ReplaceAll(msg, code, "[redacted]")
	}
	return Truncate(msg, 1024)
}

// addressPattern matches addr in any case, each character that is not
// unreserved in a URL also in its %XX form.
func addressPattern(addr string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("(?i)")
	for _, r := range addr {
		lit := regexp.QuoteMeta(string(r))
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.~", r)) {
			b.WriteString(lit)
			continue
		}
		b.WriteString("(?:" + lit + "|")
		for _, c := range []byte(string(r)) {
			fmt.Fprintf(&b, "%%%02X", c)
		}
		b.WriteString(")")
	}
	return regexp.MustCompile(b.String())
}

// Truncate bounds s to n bytes and "...", never cutting a UTF-8 character
// in half (a character the cut would split is dropped whole).
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}
