package service

import (
	"context"
	"strings"
	"testing"

	"github.com/Phenom-earth/phenom-mailer/internal/render"
	"github.com/Phenom-earth/phenom-mailer/internal/send"
	"github.com/Phenom-earth/phenom-mailer/templates"
)

// memSender keeps what it would send.
type memSender struct{ sent []send.Message }

func (m *memSender) Build(msg send.Message) ([]byte, error) { return []byte(msg.Subject), nil }
func (m *memSender) Deliver(_ context.Context, _ []byte, msg send.Message) (string, error) {
	m.sent = append(m.sent, msg)
	return "msg-1", nil
}

func newTestHandler(t testing.TB) (*Handler, *memSender) {
	t.Helper()
	r, err := render.New(templates.FS, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := &memSender{}
	return &Handler{Renderer: r, Sender: s, Environment: "test"}, s
}

func TestHandleSendsANotice(t *testing.T) {
	h, s := newTestHandler(t)
	res := h.Handle(context.Background(), []byte(`{"template":"notice","to":"ada@example.com","locale":"es",
		"data":{"subject":"Hola","heading":"Listo","paragraphs":["uno"]},"tags":{"service":"hasura"}}`), Source{Kind: SourceCLI})
	if res.Outcome != OutcomeSent || res.MessageID != "msg-1" {
		t.Fatalf("result %+v", res)
	}
	if len(s.sent) != 1 || s.sent[0].Tags["service"] != "hasura" || s.sent[0].Tags["template"] != "notice" || s.sent[0].Tags["environment"] != "test" {
		t.Fatalf("sent %d mails, tags %v", len(s.sent), s.sent[0].Tags)
	}
}

func TestHandleReportsEveryProblem(t *testing.T) {
	h, s := newTestHandler(t)
	res := h.Handle(context.Background(), []byte(`{"template":"notice","to":"not an address",
		"data":{"heading":"x","paragraphs":["a"],"button":{"label":"b","url":"http://example.com"}},"tags":{"template":"x"}}`), Source{Kind: SourceURL})
	want := []string{"to: ", "data.subject: required", "data.button.url: must be an absolute https URL", "tags.template: "}
	if res.Outcome != OutcomeRefused || res.Reason != "request_invalid" || len(res.Errors) != len(want) {
		t.Fatalf("result %+v", res)
	}
	for i, w := range want {
		if !strings.HasPrefix(res.Errors[i], w) {
			t.Errorf("problem %d = %q, want prefix %q", i, res.Errors[i], w)
		}
	}
	if len(s.sent) != 0 {
		t.Fatal("a refused request was sent")
	}
	if r := res.HTTP(); r.Status != 400 {
		t.Fatalf("status %d", r.Status)
	}
}
