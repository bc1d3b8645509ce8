// Package pace holds the send service to SES's sending rate: each Lambda
// instance of the send function takes its share of the account's
// MaxSendRate (GetAccount's SendQuota, read once and cached), capped by a
// configured rate, so that the function's maximum concurrency times the
// per-instance rate never passes what SES allows.
//
// Pacing is a sliding window (window.go): a Wait returns when the next send
// may start without more than rate × 1 s sends in any second. SES
// throttling that still happens (another sender on the account) is the
// caller's to retry.
package pace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
)

// QuotaSource tells the account's maximum send rate, in mails per second.
type QuotaSource interface {
	MaxSendRate(ctx context.Context) (float64, error)
}

// AccountGetter is the SES v2 call SESQuota makes (a *sesv2.Client).
type AccountGetter interface {
	GetAccount(ctx context.Context, in *sesv2.GetAccountInput, optFns ...func(*sesv2.Options)) (*sesv2.GetAccountOutput, error)
}

// SESQuota reads the account's SendQuota.MaxSendRate with GetAccount. A
// rate read once is kept for the life of the value (it changes when AWS
// raises the quota, rarely, and a new Lambda instance reads it again); a
// failed read is not kept, the next call asks again.
type SESQuota struct {
	Client AccountGetter

	mu   sync.Mutex
	rate float64 // 0 until read
}

// MaxSendRate returns the account's maximum send rate.
func (q *SESQuota) MaxSendRate(ctx context.Context) (float64, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.rate > 0 {
		return q.rate, nil
	}
	out, err := q.Client.GetAccount(ctx, &sesv2.GetAccountInput{})
	if err != nil {
		return 0, fmt.Errorf("pace: SES GetAccount: %w", err)
	}
	if out.SendQuota == nil || !(out.SendQuota.MaxSendRate > 0) {
		return 0, errors.New("pace: SES GetAccount gave no SendQuota.MaxSendRate")
	}
	q.rate = out.SendQuota.MaxSendRate
	return q.rate, nil
}

// quotaTimeout bounds the first quota read.
const quotaTimeout = 5 * time.Second

// Pacer holds sends to a per-instance rate. Its zero value is not usable:
// make one with New. It is safe for concurrent use.
type Pacer struct {
	quota       QuotaSource
	concurrency int
	cap         float64 // +Inf when no cap
	logger      *slog.Logger

	once   sync.Once
	rate   float64
	window *window
}

// New returns a Pacer for one of concurrency instances sharing the
// account: its rate is min(capPerSecond, the quota's MaxSendRate) /
// concurrency, with capPerSecond <= 0 meaning no cap and concurrency < 1
// meaning 1. The quota is read on the first Wait (or Rate); when it cannot
// be read, that is logged once as a warning and the rate is
// capPerSecond / concurrency, or 1 / concurrency without a cap (SES's
// sandbox rate: the least any account has).
func New(quota QuotaSource, concurrency int, capPerSecond float64, logger *slog.Logger) *Pacer {
	if concurrency < 1 {
		concurrency = 1
	}
	if !(capPerSecond > 0) || math.IsInf(capPerSecond, 1) {
		capPerSecond = math.Inf(1)
	}
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Pacer{quota: quota, concurrency: concurrency, cap: capPerSecond, logger: logger}
}

// resolve reads the quota once and sets the limiter.
func (p *Pacer) resolve(ctx context.Context) {
	p.once.Do(func() {
		total := p.cap
		var qerr error
		if p.quota == nil {
			qerr = errors.New("pace: no quota source")
		} else {
			qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), quotaTimeout)
			max, err := p.quota.MaxSendRate(qctx)
			cancel()
			switch {
			case err != nil:
				qerr = err
			case !(max > 0) || math.IsInf(max, 0):
				qerr = fmt.Errorf("pace: quota gave max send rate %v", max)
			default:
				total = math.Min(total, max)
			}
		}
		if qerr != nil {
			if math.IsInf(total, 1) {
				total = 1
			}
			p.logger.LogAttrs(ctx, slog.LevelWarn, "pace: the SES send quota could not be read; pacing to the fallback rate",
				slog.String("error", qerr.Error()), slog.Float64("account_rate", total), slog.Int("concurrency", p.concurrency))
		}
		p.rate = total / float64(p.concurrency)
		p.window = newWindow(p.rate)
	})
}

// Wait blocks until the next send may start, or returns an error when ctx
// ends first or its deadline comes before the turn (then no turn is
// taken).
func (p *Pacer) Wait(ctx context.Context) error {
	p.resolve(ctx)
	if err := p.window.wait(ctx); err != nil {
		return fmt.Errorf("pace: %w", err)
	}
	return nil
}

// Rate is this instance's rate in mails per second (reading the quota if
// no Wait has yet).
func (p *Pacer) Rate() float64 {
	p.resolve(context.Background())
	return p.rate
}
