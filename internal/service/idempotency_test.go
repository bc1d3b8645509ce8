package service

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/idempotency"
	"github.com/Phenom-earth/phenom-mailer/internal/send"
	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// These tests claim keys in moto's DynamoDB through the real
// idempotency.Store: the conditional writes are a real server's.

// gateSender delivers each mail with a new message id; while gate is set,
// Deliver signals entered and waits for gate to close.
type gateSender struct {
	mu      sync.Mutex
	n       int
	sent    []send.Message
	gate    chan struct{}
	entered chan struct{}
}

func (g *gateSender) Build(m send.Message) ([]byte, error) { return []byte(m.Subject), nil }
func (g *gateSender) Deliver(_ context.Context, _ []byte, m send.Message) (string, error) {
	g.mu.Lock()
	gate, entered := g.gate, g.entered
	g.mu.Unlock()
	if gate != nil {
		entered <- struct{}{}
		<-gate
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n++
	g.sent = append(g.sent, m)
	return fmt.Sprintf("0100-msg-%d", g.n), nil
}

func (g *gateSender) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.sent)
}

func idempotentHandler(t *testing.T) (*Handler, *gateSender) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := standin.MotoForTest(t)
	if err := m.CreateIdempotencyTable(ctx, "mailer-idempotency"); err != nil {
		t.Fatal(err)
	}
	h, _ := newTestHandler(t)
	g := &gateSender{}
	h.Sender = g
	h.Deduper = &idempotency.Store{Client: m.DynamoClient(), Table: "mailer-idempotency"}
	return h, g
}

func keyed(t *testing.T, key, heading string) []byte {
	t.Helper()
	r := request()
	r["idempotency_key"] = key
	data(r)["heading"] = heading
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// In flight, sent, conflicting: the three answers a repeated key gets.
func TestIdempotencyKeyLifecycle(t *testing.T) {
	h, g := idempotentHandler(t)
	ctx := context.Background()
	src := Source{Kind: SourceURL, CallerARN: "arn:aws:iam::123456789012:user/hasura"}
	req := keyed(t, "export-42", "Ready")

	// The first request is in SES's hands when the second arrives.
	g.gate, g.entered = make(chan struct{}), make(chan struct{})
	first := make(chan Result)
	go func() { first <- h.Handle(ctx, req, src) }()
	<-g.entered
	res := h.Handle(ctx, req, src)
	if res.Outcome != OutcomeDuplicate || res.Reason != "in_progress" || !res.Requeue() || res.HTTP().Status != 409 {
		t.Fatalf("while in flight: %+v, HTTP %d", res, res.HTTP().Status)
	}
	close(g.gate)
	g.mu.Lock()
	g.gate = nil
	g.mu.Unlock()
	sent := <-first
	if sent.Outcome != OutcomeSent || sent.MessageID == "" {
		t.Fatalf("first request: %+v", sent)
	}

	// The same key and the same request, however laid out: the first
	// message id, 200, and no second mail.
	var r map[string]any
	if err := json.Unmarshal(req, &r); err != nil {
		t.Fatal(err)
	}
	relaid, _ := json.MarshalIndent(r, "", "  ")
	for _, b := range [][]byte{req, relaid} {
		res = h.Handle(ctx, b, src)
		if res.Outcome != OutcomeDuplicate || res.Reason != "already_sent" || res.MessageID != sent.MessageID || res.Requeue() {
			t.Fatalf("after sent: %+v, want duplicate of %s", res, sent.MessageID)
		}
		if hr := res.HTTP(); hr.Status != 200 || !json.Valid(hr.Body) || !strings.Contains(string(hr.Body), `"message_id":"`+sent.MessageID+`"`) {
			t.Fatalf("after sent: HTTP %d %s", hr.Status, hr.Body)
		}
	}

	// The same key with another request: refused, 422, never retried.
	res = h.Handle(ctx, keyed(t, "export-42", "Another heading"), src)
	if res.Outcome != OutcomeRefused || res.Reason != "idempotency_conflict" || res.Requeue() || res.HTTP().Status != 422 {
		t.Fatalf("conflict: %+v, HTTP %d", res, res.HTTP().Status)
	}
	if n := g.count(); n != 1 {
		t.Fatalf("%d mails sent, want 1", n)
	}
}

// Keys are scoped per caller: two callers may use the same key.
func TestIdempotencyKeysAreScopedPerCaller(t *testing.T) {
	h, g := idempotentHandler(t)
	ctx := context.Background()
	req := keyed(t, "k-1", "Ready")
	for _, arn := range []string{"arn:aws:iam::123456789012:user/hasura", "arn:aws:sts::123456789012:assumed-role/backend/s1"} {
		if res := h.Handle(ctx, req, Source{Kind: SourceURL, CallerARN: arn}); res.Outcome != OutcomeSent {
			t.Fatalf("%s: %+v", arn, res)
		}
	}
	// On SQS the service tag names the caller.
	for _, svc := range []string{"hasura", "chat"} {
		r := request()
		r["idempotency_key"], r["tags"] = "k-1", map[string]any{"service": svc}
		b, _ := json.Marshal(r)
		if res := h.Handle(ctx, b, Source{Kind: SourceSQS, MessageID: "m-" + svc}); res.Outcome != OutcomeSent {
			t.Fatalf("sqs %s: %+v", svc, res)
		}
	}
	if n := g.count(); n != 4 {
		t.Fatalf("%d mails sent, want 4", n)
	}
}

// Without a key, an SQS message's id is the key: a redelivery of the same
// message does not send again, another message with the same body does.
// The URL and the CLI send once per call.
func TestNoKeyOnSQSUsesTheMessageID(t *testing.T) {
	h, g := idempotentHandler(t)
	ctx := context.Background()
	b := body(t, request())
	first := h.Handle(ctx, b, Source{Kind: SourceSQS, MessageID: "m-1"})
	again := h.Handle(ctx, b, Source{Kind: SourceSQS, MessageID: "m-1"})
	other := h.Handle(ctx, b, Source{Kind: SourceSQS, MessageID: "m-2"})
	if first.Outcome != OutcomeSent || again.Outcome != OutcomeDuplicate || again.MessageID != first.MessageID || again.Requeue() || other.Outcome != OutcomeSent {
		t.Fatalf("first %+v\nagain %+v\nother %+v", first, again, other)
	}
	for i := 0; i < 2; i++ {
		if res := h.Handle(ctx, b, Source{Kind: SourceURL, CallerARN: "arn:aws:iam::123456789012:user/hasura"}); res.Outcome != OutcomeSent {
			t.Fatalf("url without a key, call %d: %+v", i, res)
		}
	}
	if n := g.count(); n != 4 {
		t.Fatalf("%d mails sent, want 4", n)
	}
}
