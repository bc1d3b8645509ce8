// Package trace answers "did this person get their mail, and if not, why?"
// from the delivery record (package delivery), SES's account-level
// suppression list and the failed-events queue (Lambda's on-failure records
// of Cognito events that failed every attempt, failed.go): for each
// matching mail, the invocation of the mailer,
// SES accepting it, every event SES reported, and a verdict, as a story
// for an operator or as JSON, one object per mail per line.
//
// Nothing it prints holds a code, a temporary password or a full address:
// the record holds none, a failed event's payload is never printed (its
// error message is scrubbed), and the only address printed is the one the
// operator typed.
//
// It must not know the command line or the environment: cmd/mailer passes
// the store, the SES client and what the operator asked.
package trace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/Phenom-earth/phenom-mailer/internal/delivery"
	"github.com/Phenom-earth/phenom-mailer/internal/redact"
)

// Store reads the delivery record (*delivery.Store).
type Store interface {
	ByRecipient(ctx context.Context, addr string, since time.Time) ([]delivery.Mail, error)
	ByMessageID(ctx context.Context, messageID string) ([]delivery.Mail, error)
	ByRequestID(ctx context.Context, requestID string) ([]delivery.Mail, error)
}

// Suppressions looks an address up on SES's account-level suppression list.
type Suppressions interface {
	// Suppressed returns the entry, or nil when the address is not listed.
	Suppressed(ctx context.Context, addr string) (*Suppression, error)
}

// Suppression is an entry of the suppression list.
type Suppression struct {
	Reason string    `json:"reason"` // BOUNCE or COMPLAINT
	Since  time.Time `json:"since"`
}

// Query selects the mails: by address (with Since), by SES message id or by
// request id; exactly one.
type Query struct {
	To        string
	Since     time.Time
	MessageID string
	RequestID string
}

// Report is the answer to a Query.
type Report struct {
	Query Query
	Mails []delivery.Mail
	// Suppression is the address's suppression-list entry (by address only).
	Suppression *Suppression
	// SuppressionNote says why the list could not be checked, when it could not.
	SuppressionNote string
	// Failed are the failed-events queue's records that match (by address
	// or request id); those of a request in Mails are shown on that mail.
	Failed []FailedEvent
	// FailedNote says why the queue was not (fully) read, when it was not.
	FailedNote string
	// RecordNote says the delivery record was not read, when it was not.
	RecordNote string
}

// Found reports whether anything was found: a mail, a suppression entry or
// a failed event.
func (r Report) Found() bool { return len(r.Mails) > 0 || r.Suppression != nil || len(r.Failed) > 0 }

// Run answers q. store may be nil when only the failed-events queue is
// configured (a query by message id then needs the store); failed may be
// nil when no queue is, and sup when the list is not checked.
func Run(ctx context.Context, store Store, sup Suppressions, failed FailedQueue, q Query) (Report, error) {
	r := Report{Query: q}
	var err error
	if store == nil {
		if q.MessageID != "" {
			return r, errors.New("trace: a message id is looked up in the delivery record, and none is configured")
		}
		r.RecordNote = "the delivery record was not read (none is configured)"
		store = noStore{}
	}
	switch {
	case q.To != "":
		q.To = strings.ToLower(strings.TrimSpace(q.To))
		r.Query.To = q.To
		r.Mails, err = store.ByRecipient(ctx, q.To, q.Since)
		if err != nil {
			return r, err
		}
		if sup == nil {
			r.SuppressionNote = "the suppression list was not checked"
			break
		}
		s, serr := sup.Suppressed(ctx, q.To)
		if serr != nil {
			r.SuppressionNote = "could not check SES's suppression list: " + clip(redact.Emails(serr.Error()), 300)
		} else {
			r.Suppression = s
		}
	case q.MessageID != "":
		r.Mails, err = store.ByMessageID(ctx, q.MessageID)
	case q.RequestID != "":
		r.Mails, err = store.ByRequestID(ctx, q.RequestID)
	default:
		return r, errors.New("trace: give an address, a message id or a request id")
	}
	if err != nil {
		return r, err
	}
	if q.To != "" || q.RequestID != "" {
		if failed == nil {
			r.FailedNote = "the failed-events queue was not checked (none is configured)"
		} else {
			r.Failed, r.FailedNote = findFailed(ctx, failed, q)
		}
	}
	return r, nil
}

type noStore struct{}

func (noStore) ByRecipient(context.Context, string, time.Time) ([]delivery.Mail, error) {
	return nil, nil
}
func (noStore) ByMessageID(context.Context, string) ([]delivery.Mail, error) { return nil, nil }
func (noStore) ByRequestID(context.Context, string) ([]delivery.Mail, error) { return nil, nil }

// placeFailed attaches each failed event to the first mail with an attempt
// of its request (preferring one SES never accepted); the rest have no
// attempt in the record.
func (r Report) placeFailed() (onMail map[int]*FailedEvent, alone []FailedEvent) {
	onMail = map[int]*FailedEvent{}
	for i := range r.Failed {
		f := &r.Failed[i]
		at := -1
		for j, m := range r.Mails {
			if _, taken := onMail[j]; taken {
				continue
			}
			for _, a := range m.Attempts {
				if a.RequestID == f.RequestID && (at < 0 || m.MessageID == "") {
					at = j
				}
			}
		}
		if at < 0 {
			alone = append(alone, *f)
			continue
		}
		onMail[at] = f
	}
	return onMail, alone
}

// mailVerdict is Verdict, unless the mail's event failed every attempt
// before SES accepted anything.
func mailVerdict(m delivery.Mail, f *FailedEvent) string {
	if f != nil && m.MessageID == "" {
		return FailedVerdict(*f)
	}
	return Verdict(m)
}

// RemoveCommand is the AWS CLI command that takes addr off the account's
// suppression list; with addr "" it has a placeholder.
func RemoveCommand(addr string) string {
	if addr == "" {
		return "aws sesv2 delete-suppressed-destination --email-address '<address>'"
	}
	return "aws sesv2 delete-suppressed-destination --email-address '" + strings.ReplaceAll(addr, "'", `'\''`) + "'"
}

// Verdict sums a mail up in a few words.
func Verdict(m delivery.Mail) string {
	var last *delivery.Event
	delivered, complained := false, false
	for i := range m.Events {
		e := &m.Events[i]
		switch e.Type {
		case "Delivery":
			delivered = true
		case "Complaint":
			complained = true
		}
		if e.Type != "Send" {
			last = e
		}
	}
	switch {
	case complained:
		return "delivered, then reported as spam by the recipient"
	case last != nil && last.Type == "Bounce" && last.BounceSubType == "OnAccountSuppressionList":
		return "not delivered: SES dropped it, the address is on the account's suppression list"
	case last != nil && last.Type == "Bounce" && last.BounceType == "Transient":
		return "not delivered: bounced (transient), SES stopped retrying"
	case last != nil && last.Type == "Bounce":
		return "not delivered: bounced (" + strings.ToLower(last.BounceType) + ")"
	case delivered:
		return "delivered to the receiving server"
	case last != nil && last.Type == "Reject":
		return "not delivered: SES rejected it (" + last.RejectReason + ")"
	case last != nil && last.Type == "Rendering Failure":
		return "not delivered: SES could not render it"
	case last != nil && last.Type == "DeliveryDelay":
		return "delayed: SES is still trying" + until(last.ExpirationTime)
	case m.MessageID != "" && len(m.Events) > 0:
		return "accepted by SES, no delivery report yet"
	}
	if len(m.Attempts) == 0 {
		return "unknown"
	}
	a := m.Attempts[len(m.Attempts)-1]
	switch a.Outcome {
	case "sent":
		return "accepted by SES, no event from SES yet"
	case "duplicate":
		return "a repeated delivery of an event already handled"
	case "suppressed":
		return "not sent: the address is on SES's suppression list (" + a.SuppressionReason + ")"
	case "refused":
		return "not sent: refused (" + a.Reason + "), a retry cannot help"
	case "failed":
		return "not sent: failed (" + a.Reason + "); Lambda retries a failed invocation twice"
	}
	return a.Outcome
}

func until(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return " until " + stamp(t)
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000 UTC") }

// needsRemoval reports whether the mail shows the address on the list.
func needsRemoval(m delivery.Mail) bool {
	for _, a := range m.Attempts {
		if a.Outcome == "suppressed" || a.SuppressionReason != "" {
			return true
		}
	}
	for _, e := range m.Events {
		if e.Type == "Bounce" && (e.BounceSubType == "OnAccountSuppressionList" || e.BounceType == "Permanent") || e.Type == "Complaint" {
			return true
		}
	}
	return false
}

// WriteText writes the report as a story for an operator.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	subject := ""
	switch {
	case r.Query.To != "":
		subject = "to " + r.Query.To
		if !r.Query.Since.IsZero() {
			subject += " since " + stamp(r.Query.Since)
		}
	case r.Query.MessageID != "":
		subject = "with SES message id " + r.Query.MessageID
	default:
		subject = "of request " + r.Query.RequestID
	}
	onMail, alone := r.placeFailed()
	switch {
	case r.RecordNote != "":
		fmt.Fprintf(&b, "Note: %s.\n", r.RecordNote)
	case len(r.Mails) == 0:
		fmt.Fprintf(&b, "No mail %s in the delivery record.\n", subject)
	default:
		fmt.Fprintf(&b, "%d mail(s) %s:\n", len(r.Mails), subject)
	}
	removal := false
	for i, m := range r.Mails {
		fmt.Fprintf(&b, "\nMail %d of %d", i+1, len(r.Mails))
		if rc := m.Recipient(); rc != "" {
			fmt.Fprintf(&b, " to %s", rc)
		}
		if m.MessageID != "" {
			fmt.Fprintf(&b, ", SES message id %s", m.MessageID)
		}
		fmt.Fprintf(&b, "\n  verdict: %s\n", mailVerdict(m, onMail[i]))
		for _, a := range m.Attempts {
			fmt.Fprintf(&b, "  %s  %s\n", stamp(a.Time), attemptLine(a))
		}
		for _, e := range m.Events {
			fmt.Fprintf(&b, "  %s  %s\n", stamp(e.Time), eventLine(e))
		}
		if f := onMail[i]; f != nil {
			for _, l := range failedLines(*f) {
				fmt.Fprintf(&b, "  %s\n", l)
			}
			fmt.Fprintf(&b, "  what to do: %s\n", FailedAdvice)
		}
		removal = removal || needsRemoval(m)
	}
	if len(alone) > 0 {
		fmt.Fprintf(&b, "\n%d event(s) %s in the failed-events queue with no attempt in the delivery record "+
			"(the record is not configured, or its write failed):\n", len(alone), subject)
	}
	for i, f := range alone {
		fmt.Fprintf(&b, "\nFailed event %d of %d", i+1, len(alone))
		if f.Trigger != "" {
			fmt.Fprintf(&b, ": a %s event", f.Trigger)
			if f.Pool != "" {
				fmt.Fprintf(&b, " of pool %s", f.Pool)
			}
			if f.ClientID != "" {
				fmt.Fprintf(&b, " (client %s)", f.ClientID)
			}
		}
		if f.Recipient != "" {
			fmt.Fprintf(&b, " to %s", f.Recipient)
		}
		fmt.Fprintf(&b, "\n  verdict: %s\n", FailedVerdict(f))
		for _, l := range failedLines(f) {
			fmt.Fprintf(&b, "  %s\n", l)
		}
		fmt.Fprintf(&b, "  what to do: %s\n", FailedAdvice)
	}
	if r.FailedNote != "" {
		fmt.Fprintf(&b, "\nNote: %s.\n", r.FailedNote)
	}
	switch {
	case r.Suppression != nil:
		fmt.Fprintf(&b, "\n%s is on the account's suppression list since %s, reason %s: SES accepts mail to it and drops it.\n",
			r.Query.To, stamp(r.Suppression.Since), r.Suppression.Reason)
		fmt.Fprintf(&b, "When the address works again (the mailbox exists, the user asked), remove it:\n  %s\n", RemoveCommand(r.Query.To))
	case r.Query.To != "" && r.SuppressionNote == "":
		fmt.Fprintf(&b, "\n%s is not on the account's suppression list.\n", r.Query.To)
	case r.SuppressionNote != "":
		fmt.Fprintf(&b, "\nNote: %s.\n", r.SuppressionNote)
		if removal {
			fmt.Fprintf(&b, "The record shows the address on the suppression list; if it still is, remove it once the address works again:\n  %s\n", RemoveCommand(r.Query.To))
		}
	}
	if r.Query.To == "" && removal {
		fmt.Fprintf(&b, "\nThe address may be on the account's suppression list. Check with `mailer trace --to ADDRESS`; to remove it:\n  %s\n", RemoveCommand(""))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func attemptLine(a delivery.Attempt) string {
	var b strings.Builder
	fmt.Fprintf(&b, "the mailer handled a %s event", orUnknown(a.Trigger))
	if a.Pool != "" {
		fmt.Fprintf(&b, " of pool %s", a.Pool)
	}
	if a.ClientID != "" {
		fmt.Fprintf(&b, " (client %s)", a.ClientID)
	}
	fmt.Fprintf(&b, ", request %s: %s", a.RequestID, a.Outcome)
	if a.Reason != "" {
		fmt.Fprintf(&b, " (%s)", a.Reason)
	}
	switch a.Outcome {
	case "sent":
		b.WriteString("; SES accepted it")
		if a.MessageID != "" {
			b.WriteString(" as message " + a.MessageID)
		}
	case "duplicate":
		b.WriteString("; nothing sent again")
	}
	if a.SuppressionReason != "" {
		fmt.Fprintf(&b, "; the address was on the suppression list (%s", a.SuppressionReason)
		if !a.SuppressionSince.IsZero() {
			fmt.Fprintf(&b, " since %s", stamp(a.SuppressionSince))
		}
		b.WriteString(")")
	}
	return b.String()
}

func eventLine(e delivery.Event) string {
	var b strings.Builder
	switch e.Type {
	case "Send":
		b.WriteString("SES: sending (Send)")
	case "Delivery":
		b.WriteString("SES: delivered")
		if e.SMTPResponse != "" {
			fmt.Fprintf(&b, "; the receiving server answered %q", e.SMTPResponse)
		}
		if e.RemoteMTAIP != "" {
			fmt.Fprintf(&b, " (server %s)", e.RemoteMTAIP)
		}
		if e.ProcessingTimeMS > 0 {
			fmt.Fprintf(&b, " after %.1f s", float64(e.ProcessingTimeMS)/1000)
		}
		if e.ReportingMTA != "" {
			fmt.Fprintf(&b, ", reported by %s", e.ReportingMTA)
		}
	case "Bounce":
		fmt.Fprintf(&b, "SES: bounced, %s/%s", orUnknown(e.BounceType), orUnknown(e.BounceSubType))
		if e.Status != "" {
			fmt.Fprintf(&b, ", status %s", e.Status)
		}
		if e.DiagnosticCode != "" {
			fmt.Fprintf(&b, ", %q", e.DiagnosticCode)
		}
		switch {
		case e.BounceSubType == "OnAccountSuppressionList":
			b.WriteString(" (SES did not try: the address is on the suppression list)")
		case e.BounceType == "Permanent":
			b.WriteString(" (SES adds the address to the suppression list)")
		}
	case "Complaint":
		b.WriteString("SES: the recipient reported it as spam")
		if e.ComplaintType != "" {
			fmt.Fprintf(&b, " (feedback type %s)", e.ComplaintType)
		}
		if e.ComplaintSubType != "" {
			fmt.Fprintf(&b, " (%s)", e.ComplaintSubType)
		}
	case "Reject":
		fmt.Fprintf(&b, "SES: rejected (%s); nothing was sent", e.RejectReason)
	case "Rendering Failure":
		fmt.Fprintf(&b, "SES: could not render template %s: %s", e.TemplateName, e.ErrorMessage)
	case "DeliveryDelay":
		fmt.Fprintf(&b, "SES: delivery delayed (%s)", orUnknown(e.DelayType))
		if e.DiagnosticCode != "" {
			fmt.Fprintf(&b, ", %q", e.DiagnosticCode)
		}
		b.WriteString("; SES keeps trying" + until(e.ExpirationTime))
	default:
		fmt.Fprintf(&b, "SES: %s", e.Type)
	}
	return b.String()
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// jsonMail is one line of --json output.
type jsonMail struct {
	Kind      string             `json:"kind"` // "mail", or "failed_event" for one with no attempt in the record
	MessageID string             `json:"message_id,omitempty"`
	Recipient string             `json:"recipient,omitempty"`
	Verdict   string             `json:"verdict"`
	Attempts  []delivery.Attempt `json:"attempts"`
	Events    []delivery.Event   `json:"events"`
	// FailedEvent is the failed-events queue's record of the request.
	FailedEvent *FailedEvent `json:"failed_event,omitempty"`
	Advice      string       `json:"advice,omitempty"`
}

// jsonNote carries a note about a source that was not read.
type jsonNote struct {
	Kind string `json:"kind"` // "note"
	Note string `json:"note"`
}

type jsonSuppression struct {
	Kind          string       `json:"kind"` // "suppression"
	EmailAddress  string       `json:"email_address,omitempty"`
	Listed        bool         `json:"listed"`
	Suppression   *Suppression `json:"suppression,omitempty"`
	RemoveCommand string       `json:"remove_command,omitempty"`
	Note          string       `json:"note,omitempty"`
}

// WriteJSON writes one JSON object per mail per line (a failed event with
// no attempt in the record is a mail of kind "failed_event"), then one
// "note" object per source that could not be read, then, when the query
// was by address, one object about the suppression list.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	onMail, alone := r.placeFailed()
	for i, m := range r.Mails {
		jm := jsonMail{Kind: "mail", MessageID: m.MessageID, Recipient: m.Recipient(), Verdict: mailVerdict(m, onMail[i]),
			Attempts: m.Attempts, Events: m.Events, FailedEvent: onMail[i]}
		if jm.FailedEvent != nil {
			jm.Advice = FailedAdvice
		}
		if jm.Attempts == nil {
			jm.Attempts = []delivery.Attempt{}
		}
		if jm.Events == nil {
			jm.Events = []delivery.Event{}
		}
		if err := enc.Encode(jm); err != nil {
			return err
		}
	}
	for i := range alone {
		f := alone[i]
		jm := jsonMail{Kind: "failed_event", Recipient: f.Recipient, Verdict: FailedVerdict(f),
			Attempts: []delivery.Attempt{}, Events: []delivery.Event{}, FailedEvent: &f, Advice: FailedAdvice}
		if err := enc.Encode(jm); err != nil {
			return err
		}
	}
	for _, n := range []string{r.RecordNote, r.FailedNote} {
		if n != "" {
			if err := enc.Encode(jsonNote{Kind: "note", Note: n}); err != nil {
				return err
			}
		}
	}
	if r.Query.To == "" {
		return nil
	}
	js := jsonSuppression{Kind: "suppression", EmailAddress: r.Query.To, Listed: r.Suppression != nil,
		Suppression: r.Suppression, Note: r.SuppressionNote}
	if r.Suppression != nil {
		js.RemoveCommand = RemoveCommand(r.Query.To)
	}
	return enc.Encode(js)
}

// SESAPI is the SES v2 call SESSuppressions makes.
type SESAPI interface {
	GetSuppressedDestination(ctx context.Context, in *sesv2.GetSuppressedDestinationInput, optFns ...func(*sesv2.Options)) (*sesv2.GetSuppressedDestinationOutput, error)
}

// SESSuppressions reads the account-level suppression list through SES v2
// GetSuppressedDestination. NotFoundException (404) is SES's answer for an
// address that is not listed; any other failure is an error.
type SESSuppressions struct{ Client SESAPI }

// Suppressed implements Suppressions.
func (s SESSuppressions) Suppressed(ctx context.Context, addr string) (*Suppression, error) {
	out, err := s.Client.GetSuppressedDestination(ctx, &sesv2.GetSuppressedDestinationInput{EmailAddress: &addr})
	var nf *sestypes.NotFoundException
	if errors.As(err, &nf) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("suppression list: %w", err)
	}
	if out.SuppressedDestination == nil {
		return nil, errors.New("suppression list: an answer without SuppressedDestination")
	}
	d := out.SuppressedDestination
	sup := &Suppression{Reason: string(d.Reason)}
	if d.LastUpdateTime != nil {
		sup.Since = d.LastUpdateTime.UTC()
	}
	return sup, nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
