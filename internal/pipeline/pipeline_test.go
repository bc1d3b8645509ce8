package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/failure"
	"github.com/Phenom-earth/phenom-mailer/internal/send"
)

// journal records the stages in the order they ran.
type journal struct {
	mu    sync.Mutex
	steps []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.steps = append(j.steps, s)
}

func (j *journal) list() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.steps)
}

type fakeSender struct {
	j        *journal
	readyErr error
	sendErr  error
}

func (s *fakeSender) Build(m send.Message) ([]byte, error) {
	s.j.add("build")
	return []byte(m.Subject), nil
}
func (s *fakeSender) Deliver(context.Context, []byte, send.Message) (string, error) {
	s.j.add("deliver")
	return "msg-1", s.sendErr
}
func (s *fakeSender) Ready(context.Context) error { s.j.add("ready"); return s.readyErr }

type fakeSuppression struct {
	j     *journal
	entry *send.Suppression
	err   error
}

func (f *fakeSuppression) Suppressed(context.Context, string) (*send.Suppression, error) {
	f.j.add("suppression")
	return f.entry, f.err
}

type fakePacer struct {
	j   *journal
	err error
}

func (p *fakePacer) Wait(context.Context) error { p.j.add("pace"); return p.err }

type fakeKeys struct{ j *journal }

func (k *fakeKeys) Sent(_ context.Context, key, id string) error {
	k.j.add("sent " + key + " " + id)
	return nil
}
func (k *fakeKeys) Release(_ context.Context, key string) error {
	k.j.add("release " + key)
	return nil
}

// setup is a pipeline with every part, and a mail whose stages write to
// the journal.
func setup() (*Pipeline, *Mail, *journal, *fakeSender) {
	j := &journal{}
	snd := &fakeSender{j: j}
	p := &Pipeline{Sender: snd, Suppression: &fakeSuppression{j: j}, Pacer: &fakePacer{j: j}}
	m := &Mail{
		To:       "ada@example.com",
		Validate: func() error { j.add("validate"); return nil },
		Claim: &Claim{Key: "k", Keys: &fakeKeys{j: j}, Take: func(_ context.Context, key string) error {
			j.add("claim " + key)
			return nil
		}},
		Decrypt: func(context.Context) (string, error) { j.add("decrypt"); return "123456", nil },
		Render: func(code string) (send.Message, error) {
			j.add("render " + code)
			return send.Message{To: "ada@example.com", Subject: "s"}, nil
		},
	}
	return p, m, j, snd
}

// without returns steps less the concurrent checks, whose place in the
// journal is not fixed.
func without(steps []string) []string {
	return slices.DeleteFunc(slices.Clone(steps), func(s string) bool { return s == "ready" || s == "suppression" })
}

func TestRunGoesThroughTheStagesInOrder(t *testing.T) {
	p, m, j, _ := setup()
	rep, err := p.Run(context.Background(), m)
	if err != nil || rep.MessageID != "msg-1" || rep.Code != "123456" {
		t.Fatalf("Run = %+v, %v", rep, err)
	}
	want := []string{"validate", "claim k", "decrypt", "render 123456", "build", "pace", "deliver", "sent k msg-1"}
	if got := without(j.list()); !slices.Equal(got, want) {
		t.Fatalf("stages %v\nwant     %v", got, want)
	}
	all := j.list()
	for _, check := range []string{"ready", "suppression"} {
		i := slices.Index(all, check)
		if i < 0 || i > slices.Index(all, "deliver") {
			t.Fatalf("%s did not run before deliver: %v", check, all)
		}
	}
}

func TestRunWithoutOptionalStages(t *testing.T) {
	j := &journal{}
	p := &Pipeline{Sender: &fakeSender{j: j}}
	m := &Mail{To: "ada@example.com", Render: func(code string) (send.Message, error) {
		j.add("render " + code)
		return send.Message{}, nil
	}}
	if _, err := p.Run(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if got, want := without(j.list()), []string{"render ", "build", "deliver"}; !slices.Equal(got, want) || !slices.Contains(j.list(), "ready") {
		t.Fatalf("stages %v, want %v and ready", j.list(), want)
	}
}

func TestRunStopsAtTheFirstFailure(t *testing.T) {
	refused := failure.Permanent(failure.ReasonRenderFailed, errors.New("bad"))
	for _, tt := range []struct {
		name   string
		break_ func(p *Pipeline, m *Mail, s *fakeSender)
		want   []string
		is     func(error) bool
	}{
		{"validate", func(p *Pipeline, m *Mail, _ *fakeSender) { m.Validate = func() error { return refused } },
			nil, func(err error) bool { return errors.Is(err, refused) }},
		{"decrypt releases the claim", func(p *Pipeline, m *Mail, _ *fakeSender) {
			m.Decrypt = func(context.Context) (string, error) { return "", refused }
		}, []string{"claim k", "release k"}, func(err error) bool { return errors.Is(err, refused) }},
		{"not ready", func(p *Pipeline, m *Mail, s *fakeSender) {
			s.readyErr = failure.Retryable(failure.ReasonDKIMNotReady, errors.New("pending"))
		}, []string{"validate", "claim k", "decrypt", "render 123456", "build", "release k"}, func(err error) bool {
			r, perm := failure.Classify(err)
			return r == "dkim_not_ready" && !perm
		}},
		{"suppressed is marked sent", func(p *Pipeline, m *Mail, _ *fakeSender) {
			p.Suppression.(*fakeSuppression).entry = &send.Suppression{Reason: "COMPLAINT"}
		}, []string{"validate", "claim k", "decrypt", "render 123456", "build", "sent k "}, func(err error) bool {
			var se *SuppressedError
			return errors.As(err, &se) && se.Reason() == "suppressed_complaint"
		}},
		{"pacer ends: throttled, retryable", func(p *Pipeline, m *Mail, _ *fakeSender) {
			p.Pacer.(*fakePacer).err = context.DeadlineExceeded
		}, []string{"validate", "claim k", "decrypt", "render 123456", "build", "pace", "release k"}, func(err error) bool {
			r, perm := failure.Classify(err)
			return r == "ses_throttled" && !perm && errors.Is(err, context.DeadlineExceeded)
		}},
		{"send fails: released", func(p *Pipeline, m *Mail, s *fakeSender) {
			s.sendErr = failure.Retryable(failure.ReasonSESThrottled, errors.New("slow down"))
		}, []string{"validate", "claim k", "decrypt", "render 123456", "build", "pace", "deliver", "release k"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, m, j, s := setup()
			tt.break_(p, m, s)
			_, err := p.Run(context.Background(), m)
			if err == nil || (tt.is != nil && !tt.is(err)) {
				t.Fatalf("Run error = %v", err)
			}
			got := without(j.list())
			if tt.name != "validate" {
				if !slices.Equal(got[max(0, len(got)-len(tt.want)):], tt.want) {
					t.Fatalf("stages %v, want them to end with %v", got, tt.want)
				}
			} else if len(got) != 0 {
				t.Fatalf("a mail that failed validation went on: %v", got)
			}
		})
	}
}

func TestClaimErrors(t *testing.T) {
	conflict := failure.Permanent(failure.ReasonIdempotencyConflict, errors.New("other request"))
	for _, tt := range []struct {
		take      error
		reason    string
		duplicate bool
	}{
		{fmt.Errorf("wrapped: %w", failure.ErrDuplicate), "", true},
		{conflict, "idempotency_conflict", false},
		{errors.New("dynamodb: connection refused"), "idempotency_unavailable", false},
	} {
		p, m, j, _ := setup()
		m.Claim.Take = func(context.Context, string) error { return tt.take }
		_, err := p.Run(context.Background(), m)
		if got := errors.Is(err, failure.ErrDuplicate); got != tt.duplicate {
			t.Errorf("%v: duplicate %v", tt.take, got)
		}
		if r, _ := failure.Classify(err); tt.reason != "" && r != tt.reason {
			t.Errorf("%v: reason %q, want %q", tt.take, r, tt.reason)
		}
		if s := without(j.list()); slices.ContainsFunc(s, func(x string) bool {
			return strings.HasPrefix(x, "sent") || strings.HasPrefix(x, "release") || x == "deliver"
		}) {
			t.Errorf("%v: an unclaimed mail was sent or settled: %v", tt.take, s)
		}
	}
}

// A failed suppression look-up sends the mail unchecked, says so, and its
// warning names neither the recipient nor the code.
func TestSuppressionLookupFailure(t *testing.T) {
	var logs strings.Builder
	p, m, _, _ := setup()
	p.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	p.Suppression.(*fakeSuppression).err = errors.New("GET /v2/email/suppression/addresses/ada%40example.com (code 123456): 500")
	rep, err := p.Run(context.Background(), m)
	if err != nil || !rep.SuppressionCheckFailed {
		t.Fatalf("Run = %+v, %v", rep, err)
	}
	if strings.Contains(logs.String(), "ada%40example.com") || strings.Contains(logs.String(), "123456") || !strings.Contains(logs.String(), "suppression check failed") {
		t.Fatalf("log: %s", logs.String())
	}
}

func TestSuppressionBudget(t *testing.T) {
	if got := SuppressionBudget(context.Background(), 0); got != DefaultSuppressionTimeout {
		t.Fatalf("no deadline: %v", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if got := SuppressionBudget(ctx, 0); got > 500*time.Millisecond {
		t.Fatalf("a second left: %v, want at most half", got)
	}
}

type dup struct{ status, id string }

func (d dup) Error() string                 { return "duplicate" }
func (d dup) Is(err error) bool             { return err == failure.ErrDuplicate }
func (d dup) DuplicateOf() (string, string) { return d.status, d.id }

func TestJudge(t *testing.T) {
	for _, tt := range []struct {
		err                      error
		outcome, reason, message string
		level                    slog.Level
	}{
		{nil, OutcomeSent, "", "", slog.LevelInfo},
		{&SuppressedError{Entry: send.Suppression{Reason: "BOUNCE"}}, OutcomeSuppressed, "suppressed_bounce", "", slog.LevelWarn},
		{dup{"already_sent", "0100-x"}, OutcomeDuplicate, "already_sent", "0100-x", slog.LevelInfo},
		{fmt.Errorf("x: %w", failure.ErrDuplicate), OutcomeDuplicate, "already_handled", "", slog.LevelInfo},
		{failure.Permanent(failure.ReasonEmailInvalid, errors.New("to ada@example.com")), OutcomeRefused, "email_invalid", "", slog.LevelWarn},
		{errors.New("boom for ada@example.com"), OutcomeFailed, "internal", "", slog.LevelError},
	} {
		v := Judge(tt.err, "ada@example.com", "")
		if v.Outcome != tt.outcome || v.Reason != tt.reason || v.MessageID != tt.message || v.Level != tt.level {
			t.Errorf("Judge(%v) = %+v", tt.err, v)
		}
		if strings.Contains(v.Error, "ada@example.com") {
			t.Errorf("Judge(%v).Error names the recipient: %q", tt.err, v.Error)
		}
	}
}
