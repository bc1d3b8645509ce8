package pace

import (
	"bytes"
	"context"
	"errors"
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

// The bucket, driven by a fake clock: over ten simulated seconds of
// attempts every millisecond, it lets through rate × 10 sends (the first
// at once, the 70th at 69/7 s), never two within 1/rate.
func TestPacerHoldsTheRate(t *testing.T) {
	p := New(&fakeQuota{rate: 14}, 2, 0, nil)
	p.resolve(context.Background())
	start := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	var allowed []time.Time
	for ms := 0; ms < 10_000; ms++ {
		now := start.Add(time.Duration(ms) * time.Millisecond)
		if p.limiter.AllowN(now, 1) {
			allowed = append(allowed, now)
		}
	}
	if len(allowed) != 70 {
		t.Fatalf("%d sends allowed in 10 s at 7/s, want 70", len(allowed))
	}
	minGap := time.Second / 7
	for i := 1; i < len(allowed); i++ {
		if gap := allowed[i].Sub(allowed[i-1]); gap < minGap-time.Millisecond {
			t.Fatalf("sends %d and %d %v apart, under 1/rate = %v", i-1, i, gap, minGap)
		}
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
