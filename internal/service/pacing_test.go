package service

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/Phenom-earth/phenom-mailer/internal/send"
)

// orderLog records the pacer's waits and the sender's deliveries in order.
type orderLog struct {
	mu    sync.Mutex
	steps []string
}

func (o *orderLog) add(s string) { o.mu.Lock(); o.steps = append(o.steps, s); o.mu.Unlock() }

type loggedPacer struct {
	log *orderLog
	err error
}

func (p *loggedPacer) Wait(context.Context) error { p.log.add("pace"); return p.err }

type loggedSender struct{ log *orderLog }

func (s *loggedSender) Build(m send.Message) ([]byte, error) { s.log.add("build"); return nil, nil }
func (s *loggedSender) Deliver(context.Context, []byte, send.Message) (string, error) {
	s.log.add("deliver")
	return "0100-x", nil
}

// The pacer is waited on before each deliver, never for a refused request.
func TestPacerIsCalledBeforeDeliver(t *testing.T) {
	h, _ := newTestHandler(t)
	log := &orderLog{}
	h.Sender, h.Pacer = &loggedSender{log: log}, &loggedPacer{log: log}
	ctx := context.Background()
	if res := h.Handle(ctx, body(t, request()), Source{Kind: SourceCLI}); res.Outcome != OutcomeSent {
		t.Fatal(res)
	}
	bad := request()
	bad["to"] = "nobody"
	if res := h.Handle(ctx, body(t, bad), Source{Kind: SourceCLI}); res.Outcome != OutcomeRefused {
		t.Fatal(res)
	}
	if got := log.steps; len(got) != 3 || got[0] != "build" || got[1] != "pace" || got[2] != "deliver" {
		t.Fatalf("steps %v, want [build pace deliver]", got)
	}
}

// A wait that cannot end in time is a throttling: nothing is sent, the
// SQS message goes back to the queue, the URL answers 429.
func TestPacerThatRunsOutOfTime(t *testing.T) {
	h, _ := newTestHandler(t)
	log := &orderLog{}
	h.Sender, h.Pacer = &loggedSender{log: log}, &loggedPacer{log: log, err: errors.New("rate: Wait(n=1) would exceed context deadline")}
	res := h.Handle(context.Background(), body(t, request()), Source{Kind: SourceSQS, MessageID: "m-1"})
	if res.Outcome != OutcomeFailed || res.Reason != "ses_throttled" || !res.Requeue() {
		t.Fatalf("result %+v", res)
	}
	if r := res.HTTP(); r.Status != 429 || r.Headers["Retry-After"] != "1" {
		t.Fatalf("HTTP %d %v", r.Status, r.Headers)
	}
	for _, s := range log.steps {
		if s == "deliver" {
			t.Fatal("a paced-out mail was sent")
		}
	}
}

func TestRequeue(t *testing.T) {
	for _, tt := range []struct {
		res  Result
		want bool
	}{
		{Result{Outcome: OutcomeSent}, false},
		{Result{Outcome: OutcomeFailed, Reason: "ses_throttled"}, true},
		{Result{Outcome: OutcomeFailed, Reason: "internal"}, true},
		{Result{Outcome: OutcomeDuplicate, Reason: "in_progress"}, true},
		{Result{Outcome: OutcomeDuplicate, Reason: "already_sent"}, false},
		{Result{Outcome: OutcomeRefused, Reason: "idempotency_conflict"}, false},
		{Result{Outcome: OutcomeRefused, Reason: "request_invalid"}, false},
		{Result{Outcome: OutcomeSuppressed, Reason: "suppressed_bounce"}, false},
	} {
		if got := tt.res.Requeue(); got != tt.want {
			t.Errorf("%s %s: Requeue() = %v, want %v", tt.res.Outcome, tt.res.Reason, got, tt.want)
		}
	}
}
