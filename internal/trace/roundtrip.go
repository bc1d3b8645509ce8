package trace

import (
	"context"
	"regexp"
	"strings"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/delivery"
)

// sesMessageIDHeader matches the Message-ID SES gives every mail it sends:
// "<MESSAGEID@email.amazonses.com>" (us-east-1) or "<MESSAGEID@REGION.amazonses.com>".
var sesMessageIDHeader = regexp.MustCompile(`^<?([0-9A-Za-z-]{10,200})@(?:email|[a-z]{2}-[a-z]+-\d)\.amazonses\.com>?$`)

// SESMessageID returns the SES message id in a Message-ID header, or "".
func SESMessageID(header string) string {
	m := sesMessageIDHeader.FindStringSubmatch(strings.TrimSpace(header))
	if m == nil {
		return ""
	}
	return m[1]
}

// MailReport is what the delivery record says about the mail a round trip
// read: how it was found, SES accepting it, and SES's events.
type MailReport struct {
	MessageID string `json:"message_id"`
	// FoundBy is "message-id header" (SES's Message-ID of the mail read) or
	// "recipient" (the newest mail sent to the address since the request).
	FoundBy     string    `json:"found_by"`
	Accepted    time.Time `json:"accepted,omitzero"`
	Trigger     string    `json:"trigger,omitempty"`
	RequestID   string    `json:"request_id,omitempty"`
	Delivered   time.Time `json:"delivered,omitzero"`
	Server      string    `json:"server,omitempty"` // the receiving server: its IP, or the recipient's domain
	SMTP        string    `json:"smtp_response,omitempty"`
	Verdict     string    `json:"verdict"`
	EventTypes  []string  `json:"events"`
	Description string    `json:"-"`
}

// RoundTripMail finds, in the delivery record, the mail a round trip read:
// by the SES message id in its Message-ID header when there is one, else
// the newest mail sent to addr since since. It waits up to wait for an SES
// event that settles the mail (delivery, bounce, complaint, reject), since
// the events travel through SNS and SQS. It returns nil when the record
// holds no such mail.
func RoundTripMail(ctx context.Context, store Store, messageIDHeader, addr string, since time.Time, wait time.Duration) (*MailReport, error) {
	deadline := time.Now().Add(wait)
	for {
		m, foundBy, err := findMail(ctx, store, messageIDHeader, addr, since)
		if err != nil {
			return nil, err
		}
		if m != nil && (settled(*m) || !time.Now().Before(deadline)) {
			return report(*m, foundBy, addr), nil
		}
		if m == nil && !time.Now().Before(deadline) {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func findMail(ctx context.Context, store Store, header, addr string, since time.Time) (*delivery.Mail, string, error) {
	if id := SESMessageID(header); id != "" {
		mails, err := store.ByMessageID(ctx, id)
		if err != nil || len(mails) > 0 {
			if len(mails) == 0 {
				return nil, "", err
			}
			return &mails[0], "message-id header", err
		}
	}
	mails, err := store.ByRecipient(ctx, addr, since)
	if err != nil {
		return nil, "", err
	}
	for i := len(mails) - 1; i >= 0; i-- {
		for _, a := range mails[i].Attempts {
			if a.Outcome == "sent" && mails[i].MessageID != "" {
				return &mails[i], "recipient", nil
			}
		}
	}
	return nil, "", nil
}

func settled(m delivery.Mail) bool {
	for _, e := range m.Events {
		switch e.Type {
		case "Delivery", "Bounce", "Complaint", "Reject", "Rendering Failure":
			return true
		}
	}
	return false
}

func report(m delivery.Mail, foundBy, addr string) *MailReport {
	r := &MailReport{MessageID: m.MessageID, FoundBy: foundBy, Verdict: Verdict(m), EventTypes: []string{}}
	for _, a := range m.Attempts {
		if a.Outcome == "sent" {
			r.Accepted, r.Trigger, r.RequestID = a.Time, a.Trigger, a.RequestID
		}
	}
	for _, e := range m.Events {
		r.EventTypes = append(r.EventTypes, e.Type)
		if e.Type == "Delivery" && r.Delivered.IsZero() {
			r.Delivered, r.SMTP = e.Time, e.SMTPResponse
			r.Server = e.RemoteMTAIP
			if r.Server == "" {
				if at := strings.LastIndexByte(addr, '@'); at >= 0 {
					r.Server = "the mail server of " + strings.ToLower(addr[at+1:])
				}
			}
		}
	}
	var b strings.Builder
	b.WriteString("SES message " + m.MessageID + " (found by " + foundBy + ")")
	if !r.Accepted.IsZero() {
		b.WriteString("; accepted " + stamp(r.Accepted))
	}
	if !r.Delivered.IsZero() {
		b.WriteString("; delivered " + stamp(r.Delivered) + " to " + r.Server)
		if r.SMTP != "" {
			b.WriteString(" (" + r.SMTP + ")")
		}
	} else {
		b.WriteString("; " + r.Verdict)
	}
	r.Description = b.String()
	return r
}
