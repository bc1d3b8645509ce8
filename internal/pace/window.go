package pace

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"
)

// window lets at most n sends start in any span: n = floor(rate) in any
// second for a rate of 1 or more, one in 1/rate below that. SES counts its
// maximum send rate in mails per second, so a pacer that never lets more
// than the rate through in any second never passes it, however the sends
// bunch up. A token bucket with a burst of 1 holds the same bound but
// wastes the turns that fall in a pause (between two SQS batches: the last
// mail's SendEmail, the next batch's claim), so that an instance sending as
// fast as it may reached only 83–85% of its rate (make bench, "The send
// queue"); one with a larger burst catches up, but then lets rate + burst
// through in one second. The window keeps the bound and catches up within
// its span. Two sends are also at least half a turn (1/(2·rate)) apart, so
// that a batch does not reach SES as one burst.
//
// A fractional rate's fraction is not used (3.5/s paces at 3 in any
// second): what the count cannot hold exactly it leaves unsent.
type window struct {
	n    int
	span time.Duration
	gap  time.Duration

	mu    sync.Mutex
	times []time.Time // the start of the last n sends, a ring
	next  int         // the ring's oldest slot, where the next send goes
	last  time.Time
}

func newWindow(rate float64) *window {
	w := &window{n: 1, span: time.Duration(float64(time.Second) / rate)}
	if rate >= 1 {
		w.n, w.span = int(math.Floor(rate)), time.Second
	}
	w.gap = time.Duration(float64(time.Second) / (2 * rate))
	w.times = make([]time.Time, w.n)
	return w
}

// take starts a send at now when the window has room, and otherwise tells
// when it will (when the oldest of the last n sends leaves the span, and
// half a turn after the last).
func (w *window) take(now time.Time) (ok bool, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	at = now
	if oldest := w.times[w.next]; !oldest.IsZero() && oldest.Add(w.span).After(at) {
		at = oldest.Add(w.span)
	}
	if !w.last.IsZero() && w.last.Add(w.gap).After(at) {
		at = w.last.Add(w.gap)
	}
	if at.After(now) {
		return false, at
	}
	w.times[w.next], w.last = now, now
	w.next = (w.next + 1) % w.n
	return true, now
}

// wait blocks until a send may start and takes its turn; it fails at once
// when ctx's deadline comes before the turn, and when ctx ends.
func (w *window) wait(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		ok, at := w.take(time.Now())
		if ok {
			return nil
		}
		if dl, has := ctx.Deadline(); has && dl.Before(at) {
			return fmt.Errorf("the next turn, in %v, comes after the deadline", time.Until(at).Round(time.Millisecond))
		}
		t := time.NewTimer(time.Until(at))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
