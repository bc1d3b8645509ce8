package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/failure"
	"github.com/Phenom-earth/phenom-mailer/internal/send"
	"github.com/Phenom-earth/phenom-mailer/internal/timing"
)

// checks are what does not depend on the claim or the code, running while
// the mail is claimed and its code decrypted: the sender's readiness (the
// From domain's DKIM, cached) and the suppression look-up. Either may be
// nil.
type checks struct {
	ready *async[struct{}]
	supp  *async[*send.Suppression]
	stop  context.CancelFunc
}

// startChecks starts the checks the pipeline is configured for.
func (p *Pipeline) startChecks(ctx context.Context, to string) *checks {
	checkCtx, stop := context.WithCancel(ctx)
	c := &checks{stop: stop}
	if rs, ok := p.Sender.(ReadySender); ok {
		c.ready = goAsync(func() (struct{}, error) { return struct{}{}, rs.Ready(checkCtx) })
	}
	if p.Suppression != nil {
		sctx, scancel := context.WithTimeout(checkCtx, SuppressionBudget(ctx, p.SuppressionTimeout))
		c.supp = goAsync(func() (*send.Suppression, error) {
			defer scancel()
			return p.Suppression.Suppressed(sctx, to)
		})
	}
	return c
}

// await reads the checks' answers: a sender that is not ready fails the
// mail, a suppressed recipient refuses it, a failed look-up is logged and
// the mail is sent unchecked.
func (p *Pipeline) await(ctx context.Context, c *checks, rep *Report, to string) error {
	st := &rep.Stages
	if c.ready != nil {
		_, rerr := c.ready.wait()
		st.Ready = timing.MS(c.ready.took)
		if rerr != nil {
			return rerr
		}
	}
	if c.supp != nil {
		s, serr := c.supp.wait()
		st.Suppression = timing.MS(c.supp.took)
		switch {
		case serr != nil:
			rep.SuppressionCheckFailed = true
			p.warn(ctx, "suppression check failed; the mail is sent unchecked", errors.New(Scrub(serr.Error(), to, rep.Code)))
		case s != nil:
			return &SuppressedError{Entry: *s}
		}
	}
	return nil
}

// SuppressionBudget is the look-up's budget: d (DefaultSuppressionTimeout
// when zero), and at most half of what is left before ctx's deadline, so
// that a slow look-up leaves time to send.
func SuppressionBudget(ctx context.Context, d time.Duration) time.Duration {
	if d <= 0 {
		d = DefaultSuppressionTimeout
	}
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl) / 2; left < d {
			d = left
		}
	}
	return d
}

// SuppressedError ends a mail whose recipient is on the suppression list:
// outcome suppressed, a permanent refusal.
type SuppressedError struct{ Entry send.Suppression }

func (e *SuppressedError) Error() string {
	return fmt.Sprintf("the recipient is on the SES account-level suppression list (%s, since %s)", e.Entry.Reason, e.Entry.LastUpdate.Format(time.RFC3339))
}

// Reason is the outcome's reason after the list entry's.
func (e *SuppressedError) Reason() string {
	if e.Entry.Reason == "COMPLAINT" {
		return string(failure.ReasonSuppressedComplaint)
	}
	return string(failure.ReasonSuppressedBounce)
}

// async is the result of a call running in its own goroutine.
type async[T any] struct {
	done chan struct{}
	v    T
	err  error
	took time.Duration
}

func goAsync[T any](f func() (T, error)) *async[T] {
	a := &async[T]{done: make(chan struct{})}
	go func() {
		defer close(a.done)
		t0 := time.Now()
		a.v, a.err = f()
		a.took = time.Since(t0)
	}()
	return a
}

func (a *async[T]) wait() (T, error) {
	<-a.done
	return a.v, a.err
}
