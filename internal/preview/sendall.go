package preview

import (
	"context"
	"fmt"

	"github.com/Phenom-earth/phenom-mailer/internal/render"
	"github.com/Phenom-earth/phenom-mailer/internal/send"
)

// MailSender delivers one message; *send.Sender is one.
type MailSender interface {
	Send(ctx context.Context, m send.Message) (messageID string, err error)
}

// Sent is one sample delivered by SendAll.
type Sent struct {
	Name      string // "<locale>/<Trigger>"
	MessageID string
}

// SendAll sends every sample, in every locale r has, to one address, for
// looking at them in real mail clients. The samples are addressed to `to`
// (footer and reset link included) and tagged purpose=preview. It stops at
// the first failure and returns what was sent before it; errors name the
// sample, never its content.
func SendAll(ctx context.Context, r *render.Renderer, s MailSender, to string) ([]Sent, error) {
	if err := send.CheckRecipient(to); err != nil {
		return nil, fmt.Errorf("preview: --send-to: %w", err)
	}
	var sent []Sent
	for _, smp := range Samples(r.Locales()) {
		smp.Data.Email = to
		m, err := r.Render(smp.Data)
		if err != nil {
			return sent, fmt.Errorf("preview %s: %w", smp.Name(), err)
		}
		id, err := s.Send(ctx, send.Message{
			To:      to,
			Subject: m.Subject,
			HTML:    m.HTML,
			Text:    m.Text,
			Tags:    map[string]string{"purpose": "preview", "trigger": smp.Trigger, "locale": smp.Locale},
		})
		if err != nil {
			return sent, fmt.Errorf("preview %s: send: %w", smp.Name(), err)
		}
		sent = append(sent, Sent{Name: smp.Name(), MessageID: id})
	}
	return sent, nil
}
