package reset

import (
	"context"
	"fmt"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/inbox"
	"github.com/Phenom-earth/phenom-mailer/internal/timing"
)

// Read stage names, in order.
const (
	StageFindMail  = "find_mail"
	StageCheckMail = "check_mail"
)

// ReadConfig is one read: find the newest mail to an address from the
// expected sender, then check it.
type ReadConfig struct {
	Source inbox.Source
	// Query is what to look for: To, From (inbox.DefaultFrom when empty), Since.
	Query     inbox.Query
	LookupTXT func(ctx context.Context, name string) ([]string, error)
	// Wait, when positive, keeps looking that long with Backoff; otherwise
	// the source is looked at once.
	Wait    time.Duration
	Backoff inbox.Backoff

	// Progress, when set, is told of each stage as it ends.
	Progress func(Stage)
	// Now is a seam for tests (time.Now when nil).
	Now func() time.Time
}

// ReadReport is what a read did.
type ReadReport struct {
	Stages []Stage `json:"stages"`
	// Mail is the checked mail's verdict; nil when none was found.
	Mail *inbox.Verdict `json:"mail,omitempty"`
	// Code is the code read from a trusted mail, "" otherwise.
	Code    string  `json:"code,omitempty"`
	TotalMS float64 `json:"total_ms"`
}

// Read finds the mail (StageFindMail) and checks it (StageCheckMail). The
// report holds the stages done so far; the error wraps inbox.ErrNoMatch
// (no mail, or none in time) or inbox.ErrUntrusted, or is the source's.
func Read(ctx context.Context, cfg ReadConfig) (*ReadReport, error) {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	rep := &ReadReport{Stages: []Stage{}}
	stage := stages{list: &rep.Stages, now: now, progress: cfg.Progress}
	start := now()
	defer func() { rep.TotalMS = timing.MS(now().Sub(start)) }()

	t0 := now()
	var m inbox.Message
	var err error
	if cfg.Wait > 0 {
		wctx, cancel := context.WithTimeout(ctx, cfg.Wait)
		m, err = inbox.Wait(wctx, cfg.Source, cfg.Query, cfg.Backoff)
		cancel()
	} else {
		m, err = inbox.Find(ctx, cfg.Source, cfg.Query)
	}
	if err != nil {
		stage.add(StageFindMail, t0, err, "")
		return rep, err
	}
	stage.add(StageFindMail, t0, nil, fmt.Sprintf("%s, received %s", m.ID, m.Received.UTC().Format(time.RFC3339)))

	t0 = now()
	v, err := inbox.Check(ctx, m, inbox.Policy{From: cfg.Query.From, LookupTXT: cfg.LookupTXT})
	rep.Mail = v
	if err != nil {
		stage.add(StageCheckMail, t0, err, "")
		return rep, err
	}
	stage.add(StageCheckMail, t0, nil, "trusted")
	rep.Code = v.Code
	return rep, nil
}
