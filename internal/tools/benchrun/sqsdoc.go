package benchrun

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// SQSHeading is the heading of the send queue's section of the doc.
const SQSHeading = "## The send queue (SQS path)"

// SQSBefore are the headings the section goes before when the doc has none
// yet, the first found.
var SQSBefore = []string{"## The Node peer", "## Size", "## Reproduce"}

// ReplaceSection returns doc with the section under heading (from the
// heading line to the next "## " heading or the end) replaced by section.
// Without one, section goes before the first of before found, else at the
// end. The rest of doc is unchanged.
func ReplaceSection(doc, heading, section string, before []string) string {
	if !strings.HasSuffix(section, "\n") {
		section += "\n"
	}
	if i := headingAt(doc, heading); i >= 0 {
		rest := doc[i+len(heading):]
		end := len(doc)
		if j := strings.Index(rest, "\n## "); j >= 0 {
			end = i + len(heading) + j + 1
		}
		return doc[:i] + section + doc[end:]
	}
	for _, b := range before {
		if i := headingAt(doc, b); i >= 0 {
			return doc[:i] + section + doc[i:]
		}
	}
	if doc != "" && !strings.HasSuffix(doc, "\n\n") {
		if strings.HasSuffix(doc, "\n") {
			doc += "\n"
		} else {
			doc += "\n\n"
		}
	}
	return doc + section
}

// headingAt is where the line that is exactly heading starts, -1 if none.
func headingAt(doc, heading string) int {
	from := 0
	for {
		i := strings.Index(doc[from:], heading)
		if i < 0 {
			return -1
		}
		i += from
		atStart := i == 0 || doc[i-1] == '\n'
		atEnd := i+len(heading) == len(doc) || doc[i+len(heading)] == '\n'
		if atStart && atEnd {
			return i
		}
		from = i + 1
	}
}

// writeSQS is the send queue's section.
func (r *Report) writeSQS(d *strings.Builder) {
	w := func(format string, a ...any) { fmt.Fprintf(d, format, a...) }
	w("%s\n\n", SQSHeading)
	s := r.SQS
	w("The send function as Lambda runs it: the bootstrap built as `make lambda` builds it (`-tags %s -trimpath`, stripped, for this machine's architecture) ", standin.LambdaBuildTags)
	w("under aws-lambda-rie, invoked with SQS events of %d send requests each (`BuildSQSEvent`: the records an event source mapping hands over on a first receive; ", BatchSize)
	w("the bodies are internal/service's request JSON, `notice` with every field and `welcome` alternately, each to its own address, no idempotency key, so the message id is the key). ")
	w("Settings: `%s`; the SES account's MaxSendRate is raised to %s/s at the stand-in so that only `MAILER_SERVICE_RATE` paces. ", strings.Join(settingsOf(s), "`, `"), trimFloat(benchMaxSendRate))
	w("SES is %d moto_server processes taking the calls in turn, each behind the stand-in's correcting proxy, and DynamoDB one moto_server per table (the idempotency table, the delivery records): ", sesMotos)
	w("one moto_server is one Python process that answers its requests one after another, where SES and DynamoDB answer one sender's concurrent calls side by side. ")
	w("Every SES call is held %s and every DynamoDB call %s by fault proxies (internal/testenv/standin's FaultProxy), ", ms(msOf(SESLatency)), ms(msOf(DynamoLatency)))
	w("every KMS call %s (the service path makes none); a counting proxy in front of each names and times every call. ", ms(msOf(KMSLatency)))
	w("Each batch's messages must all be sent (an empty `batchItemFailures`), and the SES moto_servers must hold one mail per message they were sent (checked).\n\n")
	if s == nil || (len(s.Concurrent) == 0 && len(s.Pace) == 0) {
		w("Not measured in this run")
		for _, e := range r.Errors {
			if strings.HasPrefix(e, "SQS path") || strings.HasPrefix(e, "sqs") {
				w(": %s", mdCell(e))
			}
		}
		w(".\n\n")
		return
	}
	w("Measured %s on commit %s; 1-minute load average %s before, %s after, on %d cores.\n\n", s.Date.Format("2006-01-02 15:04 MST"), mdCell(orDash(s.Commit)), orDash(s.Load[0]), orDash(s.Load[1]), r.Cores)
	for _, e := range r.Errors {
		if strings.HasPrefix(e, "SQS path") {
			w("**The run failed** (figures below are what was measured before): %s\n\n", mdCell(e))
		}
	}

	var checks []Check
	for _, c := range r.Checks {
		if strings.HasPrefix(c.Figure, "SQS path") {
			checks = append(checks, c)
		}
	}
	if len(checks) > 0 {
		w("| figure | measured | budget | verdict |\n|---|---:|---:|---|\n")
		for _, c := range checks {
			v := c.Verdict()
			if !c.OK() {
				v = "**" + v + "**"
			}
			w("| %s | %s | %s | %s |\n", mdCell(strings.TrimPrefix(c.Figure, "SQS path: ")), c.Measured(), c.Bound(), v)
		}
		w("\n")
	}

	w("%d pairs of batches, each pair a batch sent concurrently (`MAILER_SERVICE_BATCH_PARALLEL=10`) on one RIE and a batch sent one at a time (`=1`) on another, alternating, after one untimed pair (the cold starts, the DKIM check, GetAccount).\n\n", len(s.Concurrent))
	w("| figure | PARALLEL=10 | PARALLEL=1 | how it was obtained |\n|---|---:|---:|---|\n")
	cw, sw := Throughput(s.Concurrent), Throughput(s.Serial)
	w("| **mails per second**, one instance invoked back to back | **%.0f** | %.1f | the batches' messages over the sum of their Invoke round trips |\n", cw, sw)
	pair := func(label string, f func(sqsBatch) float64, how string) {
		var c, se Series
		if f == nil { // each mail's duration_ms
			c, se = mailSeries(s.Concurrent), mailSeries(s.Serial)
			if len(c) == 0 && len(se) == 0 {
				return
			}
			how = "the `duration_ms` of the mailer's `service mail` log line: the request decoded → its outcome"
		} else {
			c, se = series(s.Concurrent, f), series(s.Serial, f)
		}
		clo, chi := c.Range()
		slo, shi := se.Range()
		w("| %s | %s (%s – %s) | %s (%s – %s) | %s |\n", label, ms(c.Median()), ms(clo), ms(chi), ms(se.Median()), ms(slo), ms(shi), how)
	}
	pair("**billed time per mail**, median (min – max)", func(b sqsBatch) float64 { return b.Report.BilledMS / BatchSize },
		"RIE's REPORT `Billed Duration` of the batch's invocation (its `Duration` rounded up to the millisecond, as Lambda bills), over 10")
	if len(s.CannedConcurrent) > 0 {
		c, se := perMail(s.CannedConcurrent), perMail(s.CannedSerial)
		w("| billed time per mail, moto's SendEmail, PutItem and UpdateItem answered by the harness (see below) | %s | %s | the same, %d more pairs |\n", ms(c.Median()), ms(se.Median()), len(s.CannedConcurrent))
	}
	pair("REPORT Duration of a batch", func(b sqsBatch) float64 { return b.Report.DurationMS }, "RIE's own figure: the event handed to the bootstrap → its response")
	pair("Invoke round trip of a batch", func(b sqsBatch) float64 { return b.RoundTripMS }, "the Invoke request as its HTTP client saw it")
	pair("a mail's own duration, median over the batches' mails", nil, "")
	pair("the bootstrap's CPU per batch", func(b sqsBatch) float64 { return b.CPUMS }, "user + system time in /proc/PID/stat over the invocation (10 ms ticks)")
	pair("moto_server's CPU per batch", func(b sqsBatch) float64 { return b.MotoCPUMS }, "likewise, summed over every moto_server process")
	pair("· of which SES's", func(b sqsBatch) float64 { return b.SESMotoCPU }, "the moto_servers that answer SendEmail")
	pk, pks := kibSeries(peaks(s.Concurrent)), kibSeries(peaks(s.Serial))
	plo, phi := pk.Range()
	slo, shi := pks.Range()
	w("| **peak memory of a batch**, median (min – max) | **%.1f MiB** (%.1f – %.1f) | %.1f MiB (%.1f – %.1f) | the bootstrap's `VmHWM` (/proc/PID/status) read after the invocation, reset (`echo 5 > /proc/PID/clear_refs`) just before it; RIE's `Max Memory Used` is only the configured memory size |\n",
		pk.Median(), plo, phi, pks.Median(), slo, shi)
	if fc, fs := kibSeries(peaks(s.FirstConcurrent)), kibSeries(peaks(s.FirstSerial)); len(fc) > 0 && len(fs) > 0 {
		w("| peak memory of the first batch, a cold start's (untimed) | %.1f MiB | %.1f MiB | the bootstrap's `VmHWM` after its first invocation: the process's start and setup included, with the garbage collector's target raised until that batch is handled (cmd/mailer coldgc.go) |\n",
			fc.Median(), fs.Median())
	}
	w("\n")

	if len(s.Calls) > 0 {
		w("The AWS calls of each mail, counted at the stand-ins over the timed batches, and each call's median time at the stand-in beyond the injected latency ")
		w("(moto's own answer with its queueing, and the proxies; one call at a time in the PARALLEL=1 column, which is moto's latency without injection):\n\n")
		w("| call | per mail | injected | beyond it, PARALLEL=10 | beyond it, PARALLEL=1 |\n|---|---:|---:|---:|---:|\n")
		var ops []string
		for op := range s.Calls {
			ops = append(ops, op)
		}
		sort.Strings(ops)
		for _, op := range ops {
			w("| %s | %.2f | %s | %s | %s |\n", op, s.Calls[op], ms(msOf(injected(op))), msOrDash(s.OverConcurrent, op), msOrDash(s.OverSerial, op))
		}
		w("\n")
	}
	r.writeSQSFindings(d)

	w("**Pacing.** Each pacing run is a fresh RIE with `MAILER_SERVICE_RATE` and `MAILER_SERVICE_CONCURRENCY` as below (one instance may send their quotient a second), `PARALLEL=10`, ")
	w("sending batches back to back after one untimed batch and a second's pause; the pacer (internal/pace) lets at most floor(share) sends start in any second, half a turn apart. ")
	w("The rate is the SendEmail arrivals at the SES stand-in in the whole seconds from the first, over those seconds (the pacer's sends bunch at a second's start and wait at its end); ")
	w("the intervals between arrivals are split into those within a batch and those from a batch's last send to the next batch's first.\n\n")
	w("| MAILER_SERVICE_RATE | CONCURRENCY | one instance's share | batches | **measured rate** | off the share | interval within a batch, median | last → next batch's first, median | most in any one second |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, p := range s.Pace {
		pr := PaceRate(p.Sends)
		within, between := BatchGaps(p.Sends, BatchSize)
		off := "—"
		if want := p.PerInstance(); want > 0 && pr > 0 {
			off = fmt.Sprintf("%.1f%%", 100*(pr-want)/want)
		}
		w("| %s/s | %d | %s/s | %d | **%.2f/s** | %s | %s | %s | %d |\n", trimFloat(p.Rate), p.Concurrency, trimFloat(p.PerInstance()), len(p.Batches), pr, off,
			ms(within.Median()), ms(between.Median()), MaxInWindow(p.Sends, time.Second))
	}
	w("\n")
	r.writePaceFindings(d)
	w("Reproduce this section alone: `go run ./tools/benchdoc -only sqs` (after `make lambda`; needs moto_server and bin/aws-lambda-rie). ")
	w("`make bench` runs it with everything else.\n\n")
}

// writeSQSFindings explains the concurrent/serial ratio from the figures.
func (r *Report) writeSQSFindings(d *strings.Builder) {
	s := r.SQS
	se := perMail(s.Serial).Median()
	cb := series(s.Concurrent, func(b sqsBatch) float64 { return b.Report.BilledMS }).Median()
	if cb == 0 || se == 0 {
		return
	}
	w := func(format string, a ...any) { fmt.Fprintf(d, format, a...) }
	// the injected wait of one mail, its calls one after another
	var chain, perBatchCalls float64
	for op, n := range s.Calls {
		chain += n * msOf(injected(op))
		if motoServed(op) {
			perBatchCalls += n * BatchSize
		}
	}
	answers := se - chain
	mc := series(s.Concurrent, func(b sqsBatch) float64 { return b.MotoCPUMS }).Median()
	ms1 := series(s.Serial, func(b sqsBatch) float64 { return b.MotoCPUMS }).Median()
	bc := series(s.Concurrent, func(b sqsBatch) float64 { return b.CPUMS }).Median()
	queue := cb - chain - answers
	sm := series(s.Concurrent, func(b sqsBatch) float64 { return b.SESMotoCPU }).Median()
	w("**Where a concurrent batch's time goes.** One mail's calls, one after another, wait **%s** in injected latency; ", ms(chain))
	w("sent one at a time, a mail is billed %s, so its own answers (moto's, the proxies', the mailer's work) add %s. ", ms(se), ms(answers))
	w("A batch of 10 sent concurrently is billed **%s** (median): that chain and one mail's answers, plus **%s** of waiting in turn. ", ms(cb), ms(queue))
	if c, ok := s.OverConcurrent["SES SendEmail"]; ok {
		w("The turns are taken at moto: a SendEmail is answered %s after its injected latency when the batch's ten arrive together, %s when it comes alone", ms(c), msOrDash(s.OverSerial, "SES SendEmail"))
		if c, ok := s.OverConcurrent["DynamoDB PutItem"]; ok {
			w(" (the idempotency claim's PutItem: %s against %s)", ms(c), msOrDash(s.OverSerial, "DynamoDB PutItem"))
		}
		w(". ")
	}
	if perBatchCalls > 0 {
		w("Each moto_server is one Python process whose requests take turns on its interpreter lock; together they used **%s of CPU per concurrent batch** (SES's %s) for the %.0f calls they answer, %s a call, ",
			ms(mc), ms(sm), perBatchCalls, ms(mc/perBatchCalls))
		w("and %s per batch sent one at a time. ", ms(ms1))
	}
	w("The bootstrap used %s per concurrent batch. All of it ran on %d cores shared with RIE, the proxies, this harness and whatever else ran on the machine (load average %s before, %s after).", ms(bc), r.Cores, orDash(s.Load[0]), orDash(s.Load[1]))
	if cc, cs := perMail(s.CannedConcurrent).Median(), perMail(s.CannedSerial).Median(); cc > 0 && cs > 0 {
		w("\n\nTo take moto out of the path, %d more pairs of batches ran on the same two RIEs with SendEmail, PutItem and UpdateItem answered by the counting proxies themselves after the same injected latency ", len(s.CannedConcurrent))
		w("(a message id; DynamoDB's empty answer to a write that succeeded), as SES and DynamoDB answer one sender's concurrent calls side by side. ")
		w("Billed time per mail: **%s** sent concurrently, %s one at a time, a ratio of **%.2f** (measured). ", ms(cc), ms(cs), cc/cs)
		w("That is the mailer's own floor here: the injected chain of one mail, its work on %d cores, and the Runtime API's round trip", r.Cores)
		if cc/cs < cb/(BatchSize*se) {
			w("; with moto in the path the ratio is %.2f, so what a concurrent batch waits for beyond it is moto's CPU, not the mailer's", cb/(BatchSize*se))
		}
		w(".\n\n")
	} else {
		w("\n\n")
	}
}

// writePaceFindings says what holds the paced rate below its share when
// it is.
func (r *Report) writePaceFindings(d *strings.Builder) {
	for _, p := range r.SQS.Pace {
		want, pr := p.PerInstance(), PaceRate(p.Sends)
		if want <= 0 || pr <= 0 || 100*abs(pr-want)/want <= r.Opts.Budget.SQSPaceErrorPct {
			continue
		}
		within, between := BatchGaps(p.Sends, BatchSize)
		step := 1000 / want
		fmt.Fprintf(d, "**At %s/s the rate falls short of its share** (%.2f/s): within a batch the sends are %s apart (the share's %s), but from a batch's last send to the next batch's first %s pass. ",
			trimFloat(want), pr, ms(within.Median()), ms(step), ms(between.Median()))
		idle := series(p.Batches[1:], func(b sqsBatch) float64 { return b.IdleMS }).Median()
		fmt.Fprintf(d, "That gap is the pipeline, not the pacer: the last mail's SendEmail and idempotency update, the invocation's end, the next's start (this harness takes %s from one answer to the next Invoke), then the next batch's claim and suppression check before its first send. ", ms(idle))
		fmt.Fprintf(d, "Each batch of %d costs %s against the share's %s.\n\n", BatchSize, ms(float64(BatchSize-1)*within.Median()+between.Median()), ms(float64(BatchSize)*step))
	}
}

// motoServed reports whether moto_server answers op (the stand-in's proxy
// answers GetAccount and the suppression list itself).
func motoServed(op string) bool {
	switch op {
	case "SES SendEmail", "SES GetEmailIdentity":
		return true
	}
	return strings.HasPrefix(op, "DynamoDB ")
}

func settingsOf(s *SQSResult) []string {
	if s != nil && len(s.Env) > 0 {
		return s.Env
	}
	return serviceSettings()
}

func mailSeries(bs []sqsBatch) Series {
	var s Series
	for _, b := range bs {
		s = append(s, b.MailMS...)
	}
	return s
}

func injected(op string) time.Duration {
	switch {
	case strings.HasPrefix(op, "SES "):
		return SESLatency
	case strings.HasPrefix(op, "DynamoDB "):
		return DynamoLatency
	case strings.HasPrefix(op, "KMS "):
		return KMSLatency
	}
	return 0
}

func msOrDash(m map[string]float64, k string) string {
	v, ok := m[k]
	if !ok {
		return "—"
	}
	if v < 0 {
		return "< 0"
	}
	return ms(v)
}
