package pace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/service"
)

// The send service's handler takes a *Pacer.
var _ service.Pacer = (*Pacer)(nil)

// fakeQuota is a QuotaSource that counts its calls.
type fakeQuota struct {
	rate  float64
	err   error
	calls atomic.Int32
}

func (f *fakeQuota) MaxSendRate(context.Context) (float64, error) {
	f.calls.Add(1)
	return f.rate, f.err
}

func TestRateIsTheSmallerOfCapAndQuotaOverConcurrency(t *testing.T) {
	for _, c := range []struct {
		name        string
		quota       float64
		concurrency int
		cap         float64
		want        float64
	}{
		{"quota only", 14, 2, 0, 7},
		{"cap below quota", 14, 2, 10, 5},
		{"cap above quota", 14, 4, 100, 3.5},
		{"negative cap is no cap", 14, 1, -1, 14},
		{"concurrency 0 is 1", 14, 0, 0, 14},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := &fakeQuota{rate: c.quota}
			p := New(q, c.concurrency, c.cap, nil)
			if got := p.Rate(); math.Abs(got-c.want) > 1e-9 {
				t.Fatalf("Rate() = %v, want %v", got, c.want)
			}
			if err := p.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := q.calls.Load(); n != 1 {
				t.Fatalf("quota read %d times, want once", n)
			}
		})
	}
}

// The window, driven by a fake clock: over ten simulated seconds of
// attempts every millisecond, it lets through rate × 10 sends, and never
// more than rate in any one second.
func TestPacerHoldsTheRate(t *testing.T) {
	p := New(&fakeQuota{rate: 14}, 2, 0, nil)
	p.resolve(context.Background())
	start := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	var allowed []time.Time
	for ms := 0; ms < 10_000; ms++ {
		now := start.Add(time.Duration(ms) * time.Millisecond)
		if ok, _ := p.window.take(now); ok {
			allowed = append(allowed, now)
		}
	}
	if len(allowed) != 70 {
		t.Fatalf("%d sends allowed in 10 s at 7/s, want 70", len(allowed))
	}
	assertAtMostPerSecond(t, allowed, 7)
}

// assertAtMostPerSecond fails when more than max of the sorted times fall
// in any one-second span.
func assertAtMostPerSecond(t *testing.T, times []time.Time, max int) {
	t.Helper()
	for i := range times {
		n := 0
		for j := i; j < len(times) && times[j].Sub(times[i]) < time.Second; j++ {
			n++
		}
		if n > max {
			t.Fatalf("%d sends in the second from %v, over %d", n, times[i].Format("15:04:05.000"), max)
		}
	}
}

// Sends that come in batches with pauses between them (an SQS batch of
// ten, then 136 ms of pipeline before the next batch's first send, as make
// bench measured) still reach the rate: the pause's turns are not lost,
// yet no second holds more than the rate. A token bucket with a burst of
// 1 reached 17 of 20 here.
func TestPacerCatchesUpAfterPauses(t *testing.T) {
	for _, rate := range []float64{20, 7, 7.5, 3.5, 0.5} {
		t.Run(fmt.Sprint(rate), func(t *testing.T) {
			w := newWindow(rate)
			now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
			var sent []time.Time
			for len(sent) < 400 {
				// A batch: ten sends asked for at once, each taking its turn.
				for i := 0; i < 10; i++ {
					ok, at := w.take(now)
					for !ok {
						now = at
						ok, at = w.take(now)
					}
					sent = append(sent, now)
				}
				now = now.Add(136 * time.Millisecond)
			}
			perSecond := math.Floor(rate)
			if rate < 1 {
				perSecond = 1
			}
			assertAtMostPerSecond(t, sent, int(perSecond))
			// Over whole spans from the first send: as many as the
			// window holds (floor(rate) a second; below 1/s, one a turn).
			want := rate
			if rate >= 1 {
				want = math.Floor(rate)
			}
			secs := math.Floor(sent[len(sent)-1].Sub(sent[0]).Seconds())
			n := 0
			for _, s := range sent {
				if s.Sub(sent[0]).Seconds() < secs {
					n++
				}
			}
			if got := float64(n) / secs; got < want*0.97 || got > want*1.03 {
				t.Fatalf("held %.2f/s over %v s, want %v/s within 3%%", got, secs, want)
			}
		})
	}
}

func TestWaitReturnsWhenContextEnds(t *testing.T) {
	p := New(&fakeQuota{rate: 1}, 1, 0, nil) // one send a second
	ctx := context.Background()
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	// The next turn is a second away: a context ending sooner fails at once.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := p.Wait(short); err == nil {
		t.Fatal("Wait succeeded though its turn comes after the deadline")
	}
	cancelled, cancel2 := context.WithCancel(ctx)
	cancel2()
	if err := p.Wait(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait on a cancelled context = %v, want context.Canceled", err)
	}
}

func TestQuotaErrorFallsBack(t *testing.T) {
	for _, c := range []struct {
		name string
		cap  float64
		want float64
	}{
		{"cap over concurrency", 10, 2.5},
		{"no cap: 1/s over concurrency", 0, 0.25},
	} {
		t.Run(c.name, func(t *testing.T) {
			var logs bytes.Buffer
			q := &fakeQuota{err: errors.New("AccessDenied")}
			p := New(q, 4, c.cap, slog.New(slog.NewJSONHandler(&logs, nil)))
			if got := p.Rate(); math.Abs(got-c.want) > 1e-9 {
				t.Fatalf("Rate() = %v, want %v", got, c.want)
			}
			for i := 0; i < 2; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
				_ = p.Wait(ctx)
				cancel()
			}
			if n := strings.Count(logs.String(), `"level":"WARN"`); n != 1 {
				t.Fatalf("%d warnings, want one:\n%s", n, logs.String())
			}
			if !strings.Contains(logs.String(), "AccessDenied") || q.calls.Load() != 1 {
				t.Fatalf("calls %d, log %s", q.calls.Load(), logs.String())
			}
		})
	}
}

func TestZeroQuotaFallsBack(t *testing.T) {
	p := New(&fakeQuota{rate: 0}, 1, 3, nil)
	if got := p.Rate(); got != 3 {
		t.Fatalf("Rate() = %v, want the cap 3", got)
	}
}
