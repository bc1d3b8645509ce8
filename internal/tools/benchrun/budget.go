package benchrun

import (
	"fmt"
	"math"
)

// Check is one figure held to its budget.
type Check struct {
	Figure string
	Value  float64
	Limit  float64
	Unit   string // "ms", "µs", "MiB", "×"
	// AtLeast: the figure must be at least Limit (a speed-up); otherwise at
	// most Limit.
	AtLeast bool
	// Missing: the figure was not measured (a step failed); it counts as a
	// failed check.
	Missing bool
}

// OK reports whether the figure is within budget.
func (c Check) OK() bool {
	if c.Missing {
		return false
	}
	if c.AtLeast {
		return c.Value >= c.Limit
	}
	return c.Value <= c.Limit
}

// Verdict says "within budget" or by how much the figure misses it.
func (c Check) Verdict() string {
	switch {
	case c.Missing:
		return "not measured"
	case c.OK():
		return "within budget"
	case c.AtLeast:
		return fmt.Sprintf("short by %s (%.0f%%)", num(c.Limit-c.Value, c.Unit), 100*(c.Limit-c.Value)/c.Limit)
	default:
		return fmt.Sprintf("over by %s (+%.0f%%)", num(c.Value-c.Limit, c.Unit), 100*(c.Value-c.Limit)/c.Limit)
	}
}

// Bound is the budget as text: "≤ 2 ms", "≥ 5×".
func (c Check) Bound() string {
	if c.AtLeast {
		return "≥ " + num(c.Limit, c.Unit)
	}
	return "≤ " + num(c.Limit, c.Unit)
}

// Measured is the value as text.
func (c Check) Measured() string {
	if c.Missing {
		return "—"
	}
	return num(c.Value, c.Unit)
}

func num(v float64, unit string) string {
	var s string
	switch {
	case v == math.Trunc(v) && math.Abs(v) < 1e6:
		s = fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 100:
		s = fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		s = fmt.Sprintf("%.1f", v)
	default:
		s = fmt.Sprintf("%.2f", v)
	}
	if unit == "×" {
		return s + "×"
	}
	return s + " " + unit
}

// Budget is the project's performance budget (issue 7).
type Budget struct {
	OwnWorkMS        float64 // the mailer's own work per warm invocation
	RenderMIMEMicros float64 // render plus MIME build per mail
	ReadyMS          float64 // process start to handler ready
	ZipMiB           float64 // dist/lambda.zip
	PeakMiB          float64 // peak memory of one invocation
	PeerSpeedup      float64 // Node peer's median wall time / the mailer's
	PeerMemoryRatio  float64 // the mailer's peak memory / the Node peer's
	// LatencySpeedup: the Node peer's process start → first event handled
	// over the mailer's, with KMSLatency and SESLatency injected (issue 13)
	LatencySpeedup float64
	// InitRatio: the Lambda binary's package initialisation over
	// InitBaseline's (issue 13)
	InitRatio float64
	// SQSParallelRatio: billed time per mail of a send-queue batch sent
	// concurrently (MAILER_SERVICE_BATCH_PARALLEL=10) over one at a time
	// (=1) (issue 12)
	SQSParallelRatio float64
	// SQSBatchPeakMiB: the bootstrap's peak resident set during a batch of
	// 10 sent concurrently (issue 12)
	SQSBatchPeakMiB float64
	// SQSPaceErrorPct: how far the paced send rate may be from
	// MAILER_SERVICE_RATE, in percent of it (issue 12)
	SQSPaceErrorPct float64
}

// DefaultBudget is the budget make bench enforces.
var DefaultBudget = Budget{
	OwnWorkMS:        2,
	RenderMIMEMicros: 200,
	ReadyMS:          50,
	ZipMiB:           12,
	PeakMiB:          64,
	PeerSpeedup:      5,
	PeerMemoryRatio:  0.5,
	LatencySpeedup:   6,
	InitRatio:        0.5,
	SQSParallelRatio: 0.25,
	SQSBatchPeakMiB:  64,
	SQSPaceErrorPct:  10,
}
