// Package timing lets an invocation add up the time it spent waiting on
// remote services, from deep inside client code, so that the handler can
// report its own work apart from the waiting.
//
// MS is the one conversion of a duration to the milliseconds reports carry.
// It must not know what is being timed.
package timing

import (
	"context"
	"sync/atomic"
	"time"
)

type key struct{}

// Wait accumulates waiting time; safe for concurrent use.
type Wait struct{ ns atomic.Int64 }

// WithWait returns a context that collects waiting time into the returned Wait.
func WithWait(ctx context.Context) (context.Context, *Wait) {
	w := &Wait{}
	return context.WithValue(ctx, key{}, w), w
}

// AddWait adds d to the context's Wait, if it has one.
func AddWait(ctx context.Context, d time.Duration) {
	if w, ok := ctx.Value(key{}).(*Wait); ok {
		w.ns.Add(int64(d))
	}
}

// Total is the waiting time collected so far.
func (w *Wait) Total() time.Duration { return time.Duration(w.ns.Load()) }

// MS is d in milliseconds with microsecond precision: how reports, logs and
// metrics give a duration.
func MS(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
