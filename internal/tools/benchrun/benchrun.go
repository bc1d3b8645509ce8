// Package benchrun is `make bench`: it measures the mailer (and whatever
// the inbox reader benchmarks), holds the figures to the project's budget,
// and writes docs/benchmarks.md from what it measured. Nothing in the doc
// is typed by hand.
//
// What it measures:
//
//   - every Go benchmark of the module (`go test -list '^Benchmark' ./...`),
//     each -count times (the median is reported), except BenchmarkLoad,
//     which is one whole 1,001-delivery run and runs once;
//   - a CPU profile of the warm production invocation (BenchmarkInvocation),
//     read for where the mailer's own work goes;
//   - whole processes against stand-ins on 127.0.0.1 (local-kms served here,
//     moto_server behind the stand-in's proxy): the real bootstrap under
//     aws-lambda-rie from a cold start (RIE's own Init Duration and
//     Duration), then warm invocations of the same process; and `mailer
//     invoke` alternating with the Node peer (bench/node-peer.js) on the same
//     event file, timed from process start to exit, and again under GNU time
//     for each child's own peak resident set (%M); then the same pairs
//     with KMSLatency and SESLatency injected into every call by fault
//     proxies, to the first event handled, and once more with every SES
//     call answered exactly SESLatency after it arrived (exactProxy: moto's
//     own time taken out, for explaining the figure, not for the budget);
//   - the send queue (issue 12): the bootstrap under aws-lambda-rie with
//     MAILER_SERVICE=true, invoked with SQS events of 10 send requests
//     against moto (SES v2, DynamoDB) behind fault proxies holding every
//     SES call SESLatency and every DynamoDB or KMS call DynamoLatency or
//     KMSLatency: mails per second, billed time per mail with the batch
//     sent concurrently against one at a time, the batch's peak memory,
//     and the paced rate against MAILER_SERVICE_RATE (sqs.go);
//   - the package initialisation of the Lambda binary (GODEBUG=inittrace=1,
//     summed), this tree's against InitBaseline's, built in the same run;
//   - the sizes of dist/bootstrap and dist/lambda.zip (make lambda).
//
// Speed is never asserted in a unit test: only this check enforces the
// budget.
package benchrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// Module is this module's path.
const Module = "github.com/Phenom-earth/phenom-mailer"

// onceOnly are benchmarks that make one long run whatever b.N is: they run
// once, not Count times.
var onceOnly = map[string]bool{"BenchmarkLoad": true}

// InboxPkg is the inbox reader's package: its benchmarks get a section of
// their own, and the doc says so when there are none yet.
const InboxPkg = Module + "/internal/inbox"

// Options says what to run.
type Options struct {
	Root  string // repository root
	Out   string // the doc to write, relative to Root unless absolute
	Go    string // the go command
	Count int    // runs of each Go benchmark (median reported)
	// ColdRuns is how many cold starts of the bootstrap under RIE, each a
	// fresh RIE and bootstrap, with Warm warm invocations after each.
	ColdRuns, Warm int
	// PeerRuns is how many timed pairs (mailer invoke, Node peer),
	// alternating, after one untimed pair; MemRuns pairs run under GNU time.
	PeerRuns, MemRuns int
	// InitRuns is how many GODEBUG=inittrace=1 runs of each Lambda binary
	// (this tree's and InitBaseline's, alternating).
	InitRuns int
	// ProfileOps is how many invocations the CPU profile covers.
	ProfileOps int
	Event      string // event file, relative to Root
	// Skip names steps not to run ("processes", "sqs", "go", "profile"), for
	// working on the harness; their figures are then missing.
	Skip map[string]bool
	// CompareBin, for RunColdStart only: an older build of the mailer
	// timed interleaved with this tree's.
	CompareBin string
	// Only names the one step to run ("sqs"): its section of Out is
	// replaced and the rest of the file is left as it is.
	Only   string
	SQS    SQSOptions
	Budget Budget
	Log    io.Writer
}

// DefaultOptions are make bench's.
func DefaultOptions(root string) Options {
	return Options{
		Root: root, Out: "docs/benchmarks.md", Go: "go", Count: 5,
		ColdRuns: 11, Warm: 20, PeerRuns: 15, MemRuns: 5, InitRuns: 21, ProfileOps: 1500,
		Event:  filepath.Join(standin.EventsDir, "ForgotPassword.json"),
		SQS:    DefaultSQSOptions,
		Budget: DefaultBudget, Log: os.Stderr,
	}
}

// runOnly runs the one step o.Only names and replaces its section of the
// doc, leaving the rest of the file as it is.
func (r *Report) runOnly(ctx context.Context, scratch string, logf func(string, ...any), fail func(string, error)) error {
	o := r.Opts
	if o.Only != "sqs" {
		return fmt.Errorf("-only %q: the steps that can run alone are: sqs", o.Only)
	}
	logf("the send queue (SQS path) under aws-lambda-rie")
	if err := r.runSQS(ctx, scratch); err != nil {
		fail("SQS path", err)
	}
	r.LoadEnd = loadAverage()
	r.Checks = r.sqsChecks(o.Budget)
	out := o.Out
	if !filepath.IsAbs(out) {
		out = filepath.Join(o.Root, out)
	}
	old, err := os.ReadFile(out)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var sec strings.Builder
	r.writeSQS(&sec)
	if err := os.WriteFile(out, []byte(ReplaceSection(string(old), SQSHeading, sec.String(), SQSBefore)), 0o644); err != nil {
		return err
	}
	logf("wrote the %q section of %s", SQSHeading, out)
	if len(r.Errors) > 0 {
		return errors.New(strings.Join(r.Errors, "; "))
	}
	return nil
}

// Report is everything measured.
type Report struct {
	Date     time.Time
	Machine  string
	CPU      string
	Cores    int
	MemTotal string
	Kernel   string
	GoVer    string
	NodeVer  string
	MotoVer  string
	Opts     Options
	// 1-minute load averages at the start and the end of the run
	LoadStart, LoadEnd string
	// Commit is the measured commit, with " plus uncommitted changes"
	// when the work tree differed from it.
	Commit string

	// Go benchmarks
	GoCmds    []string
	Benches   []*GoBench
	InboxNote string // when internal/inbox has no benchmarks (yet)

	// CPU profiles of the warm invocation and of the setup
	Profiles []*Profile

	// processes
	RIE       []rieRun
	Invoke    []procRun // timed mailer invoke runs
	Help      []procRun // mailer help: the runtime alone
	Peer      []procRun // timed Node peer runs
	InvokeLat []procRun // mailer invoke with KMSLatency and SESLatency injected
	PeerLat   []procRun // the Node peer likewise
	// InvokeExact, PeerExact: the same pairs with every SES call answered
	// exactly SESLatency after it arrived (exactProxy), moto's time taken out
	InvokeExact, PeerExact []procRun
	// package initialisation of the Lambda binary: InitBaseline's, this
	// tree's, and InitFloorPackage's (the libraries alone)
	InitBefore, InitAfter, InitFloor []InitTrace
	// FloorIdentity, FloorSend: GetEmailIdentity and SendEmail through the
	// slow SES stand-in from a warm client (stack.sesFloor), the two calls
	// a cold first event waits for one after the other
	FloorIdentity, FloorSend Series
	InvokeMem                []int64 // KiB
	PeerMem                  []int64 // KiB
	MotoMails                int     // mails moto accepted during the process runs
	WantMails                int
	PeerScript               string

	BootstrapSize, ZipSize int64

	// SQS is the send queue's figures (issue 12), nil when not measured.
	SQS *SQSResult

	Errors []string // steps that failed; the doc lists them
	Checks []Check
}

// Run measures everything, checks the budget and writes the doc. The error
// is set when a step failed (the doc is still written); over-budget figures
// are in the report's Checks.
func Run(ctx context.Context, o Options) (*Report, error) {
	r := &Report{Date: time.Now().UTC(), Opts: o, PeerScript: "bench/node-peer.js"}
	r.machine(ctx)
	logf := func(format string, a ...any) { fmt.Fprintf(o.Log, "bench: "+format+"\n", a...) }
	fail := func(step string, err error) {
		logf("%s: %v", step, err)
		r.Errors = append(r.Errors, step+": "+firstLine(err.Error()))
	}

	scratch, err := os.MkdirTemp("", "phenom-bench-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(scratch)

	if o.Only != "" {
		return r, r.runOnly(ctx, scratch, logf, fail)
	}

	// Sizes of the Lambda artifacts (make lambda builds them first).
	if r.BootstrapSize, err = fileSize(filepath.Join(o.Root, "dist", "bootstrap")); err != nil {
		fail("binary size (run make lambda)", err)
	}
	if r.ZipSize, err = fileSize(filepath.Join(o.Root, "dist", "lambda.zip")); err != nil {
		fail("zip size (run make lambda)", err)
	}

	for _, s := range []string{"processes", "sqs", "go", "profile"} {
		if o.Skip[s] {
			fail(s, errors.New("skipped (-skip)"))
		}
	}
	if !o.Skip["processes"] {
		logf("whole processes against the stand-ins")
		if err := r.runProcesses(ctx, scratch); err != nil {
			fail("process runs", err)
		}
	}
	if !o.Skip["sqs"] {
		logf("the send queue (SQS path) under aws-lambda-rie")
		if err := r.runSQS(ctx, scratch); err != nil {
			fail("SQS path", err)
		}
	}
	if !o.Skip["go"] {
		logf("Go benchmarks")
		if err := r.runGoBenches(ctx); err != nil {
			fail("Go benchmarks", err)
		}
	}
	if !o.Skip["profile"] {
		for _, p := range profiles(o.ProfileOps) {
			logf("CPU profile of %s (%d operations)", p.Bench, p.Ops)
			if err := p.run(ctx, o.Go, o.Root, scratch, o.Log); err != nil {
				fail("CPU profile of "+p.Bench, err)
				continue
			}
			r.Profiles = append(r.Profiles, p)
		}
	}

	r.LoadEnd = loadAverage()
	r.Checks = r.check(o.Budget)
	out := o.Out
	if !filepath.IsAbs(out) {
		out = filepath.Join(o.Root, out)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return r, err
	}
	if err := os.WriteFile(out, []byte(r.Markdown()), 0o644); err != nil {
		return r, err
	}
	logf("wrote %s", out)
	if len(r.Errors) > 0 {
		return r, errors.New(strings.Join(r.Errors, "; "))
	}
	return r, nil
}

// runGoBenches discovers and runs every Go benchmark of the module.
func (r *Report) runGoBenches(ctx context.Context) error {
	o := r.Opts
	var errs []string
	out, err := goTool(ctx, o.Go, o.Root, nil, io.Discard, "test", "-list", "^Benchmark", "./...")
	if err != nil {
		// A package that does not build lists nothing; the others still run.
		errs = append(errs, "listing: "+firstLine(err.Error()))
	}
	list := ParseBenchList(out)
	var pkgs []string
	for p := range list {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	if len(list[InboxPkg]) == 0 {
		if dirExists(pkgDir(o.Root, Module, InboxPkg)) {
			r.InboxNote = "internal/inbox has no Benchmark* functions yet (or did not build): no inbox reader figures in this run."
		} else {
			r.InboxNote = "internal/inbox does not exist yet: no inbox reader figures in this run."
		}
	}
	var repeated, once []string
	var repPkgs, oncePkgs []string
	for _, p := range pkgs {
		rel := "./" + strings.TrimPrefix(strings.TrimPrefix(p, Module), "/") + "/"
		hasRep, hasOnce := false, false
		for _, n := range list[p] {
			if onceOnly[n] {
				once, hasOnce = append(once, n), true
			} else {
				repeated, hasRep = append(repeated, n), true
			}
		}
		if hasRep {
			repPkgs = append(repPkgs, rel)
		}
		if hasOnce {
			oncePkgs = append(oncePkgs, rel)
		}
	}
	run := func(names, pkgs []string, extra ...string) {
		if len(names) == 0 {
			return
		}
		args := append([]string{"test", "-run=^$", "-bench=" + benchRegexp(names), "-benchmem"}, extra...)
		args = append(args, pkgs...)
		r.GoCmds = append(r.GoCmds, "go "+shellJoin(args))
		out, err := goTool(ctx, o.Go, o.Root, nil, o.Log, args...)
		if err != nil {
			errs = append(errs, firstLine(err.Error()))
		}
		r.Benches = append(r.Benches, ParseBenchOutput(out)...)
	}
	run(repeated, repPkgs, fmt.Sprintf("-count=%d", o.Count))
	run(once, oncePkgs, "-benchtime=1x", "-count=1")
	for _, b := range r.Benches {
		if b.About == "" {
			b.About = benchDocs(pkgDir(o.Root, Module, b.Pkg))[b.Name]
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// runProcesses times whole processes against the stand-ins.
func (r *Report) runProcesses(ctx context.Context, scratch string) error {
	o := r.Opts
	rie, err := findRIE(o.Root)
	if err != nil {
		return err
	}
	timeBin, err := findGNUTime()
	if err != nil {
		return err
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return fmt.Errorf("node is missing: %w", err)
	}
	if _, err := os.Stat(filepath.Join(o.Root, "node_modules", "@aws-sdk", "client-sesv2", "package.json")); err != nil {
		return fmt.Errorf("the Node peer's packages are missing (make deps runs npm ci): %w", err)
	}
	event := filepath.Join(o.Root, o.Event)
	eventJSON, err := os.ReadFile(event)
	if err != nil {
		return err
	}
	bin := filepath.Join(scratch, "bootstrap")
	if err := buildMailer(ctx, o.Go, o.Root, bin, o.Log); err != nil {
		return err
	}
	// Package initialisation of this tree's Lambda binary and of the
	// baseline's, built alike, alternating.
	base := filepath.Join(scratch, "bootstrap-baseline")
	if err := buildBaseline(ctx, o.Go, o.Root, scratch, base, o.Log); err != nil {
		return fmt.Errorf("the baseline %s: %w", InitBaseline, err)
	}
	floor := filepath.Join(scratch, "initfloor")
	if err := buildInitFloor(ctx, o.Go, o.Root, floor, o.Log); err != nil {
		return err
	}
	if r.InitBefore, r.InitAfter, r.InitFloor, err = runInitTraces(ctx, o.InitRuns, base, bin, floor); err != nil {
		return err
	}
	stamp := filepath.Join(scratch, "execstamp")
	if _, err := goTool(ctx, o.Go, o.Root, append(os.Environ(), "CGO_ENABLED=0"), o.Log, "build", "-o", stamp, "./internal/tools/benchrun/execstamp"); err != nil {
		return err
	}
	st, err := startStack(ctx, scratch)
	if err != nil {
		return err
	}
	defer st.close()

	// Cold starts of the real bootstrap under RIE, each then warm.
	for i := 0; i < o.ColdRuns; i++ {
		res, err := runRIE(ctx, rie, stamp, bin, scratch, st.mailerEnv(), eventJSON, o.Warm)
		if err != nil {
			return fmt.Errorf("bootstrap under aws-lambda-rie: %w", err)
		}
		r.RIE = append(r.RIE, res)
		r.WantMails += 1 + o.Warm
	}

	mailer := []string{bin, "invoke", "--event", event}
	var pairIn func(timeBin string, mailerEnv, peerEnv []string) (procRun, procRun, error)
	peer := []string{node, filepath.Join(o.Root, "bench", "node-peer.js"), "--event", event}
	pair := func(timeBin string) (procRun, procRun, error) {
		return pairIn(timeBin, st.mailerEnv(), st.peerEnv())
	}
	pairIn = func(timeBin string, mailerEnv, peerEnv []string) (procRun, procRun, error) {
		m, err := runProc(ctx, mailer, mailerEnv, o.Root, `"mailer ready"`, timeBin, scratch)
		if err == nil {
			err = m.sent("mailer invoke")
		}
		if err != nil {
			return m, procRun{}, err
		}
		p, err := runProc(ctx, peer, peerEnv, o.Root, "", timeBin, scratch)
		if err == nil {
			err = p.sent("the Node peer")
		}
		r.WantMails += 2
		return m, p, err
	}
	// One untimed pair first: both programs then start from a warm page cache.
	if _, _, err := pair(""); err != nil {
		return err
	}
	for i := 0; i < o.PeerRuns; i++ {
		m, p, err := pair("")
		if err != nil {
			return err
		}
		r.Invoke, r.Peer = append(r.Invoke, m), append(r.Peer, p)
	}
	for i := 0; i < o.MemRuns; i++ {
		m, p, err := pair(timeBin)
		if err != nil {
			return err
		}
		r.InvokeMem, r.PeerMem = append(r.InvokeMem, m.PeakKiB), append(r.PeerMem, p.PeakKiB)
	}
	// The same pairs with latency injected into every KMS and SES call.
	for i := 0; i < o.PeerRuns; i++ {
		m, p, err := pairIn("", st.withLatency(st.mailerEnv()), st.withLatency(st.peerEnv()))
		if err != nil {
			return fmt.Errorf("with injected latency: %w", err)
		}
		r.InvokeLat, r.PeerLat = append(r.InvokeLat, m), append(r.PeerLat, p)
	}
	// Once more, with SES answering in exactly SESLatency.
	for i := 0; i < o.PeerRuns; i++ {
		m, p, err := pairIn("", st.withExactLatency(st.mailerEnv()), st.withExactLatency(st.peerEnv()))
		if err != nil {
			return fmt.Errorf("with SES answering in exactly %v: %w", SESLatency, err)
		}
		r.InvokeExact, r.PeerExact = append(r.InvokeExact, m), append(r.PeerExact, p)
	}
	r.WantMails -= st.exactSES.Replayed(sendEmailKind) // answered without moto
	if r.FloorIdentity, r.FloorSend, err = st.sesFloor(ctx, o.PeerRuns); err != nil {
		return fmt.Errorf("the SES stand-in's floor: %w", err)
	}
	r.WantMails += len(r.FloorSend) // each floor run sends one mail
	for i := 0; i < o.PeerRuns; i++ {
		h, err := runProc(ctx, []string{bin, "help"}, st.mailerEnv(), o.Root, "", "", scratch)
		if err != nil || h.Exit != 0 {
			return fmt.Errorf("mailer help: exit %d: %v", h.Exit, err)
		}
		h.Outcome = nil
		r.Help = append(r.Help, h)
	}
	mails, err := st.moto.SentEmails()
	if err != nil {
		return err
	}
	r.MotoMails = len(mails)
	if r.MotoMails != r.WantMails {
		return fmt.Errorf("moto accepted %d mails, want %d (one per invocation)", r.MotoMails, r.WantMails)
	}
	return nil
}

// Derived figures (medians, in ms or MiB); ok is false when not measured.

func (r *Report) rieSeries(f func(rieRun) []float64) Series {
	var s Series
	for _, x := range r.RIE {
		s = append(s, f(x)...)
	}
	return s
}

// series is f of each of xs (process runs, SQS batches).
func series[T any](xs []T, f func(T) float64) Series {
	var s Series
	for _, x := range xs {
		s = append(s, f(x))
	}
	return s
}

func kibSeries(v []int64) Series {
	var s Series
	for _, x := range v {
		s = append(s, float64(x)/1024)
	}
	return s
}

func (r *Report) bench(name string) *GoBench {
	for _, b := range r.Benches {
		if b.Name == name {
			return b
		}
	}
	return nil
}

func (r *Report) benchMetric(name, unit string) (float64, bool) {
	if b := r.bench(name); b != nil {
		return b.Median(unit)
	}
	return 0, false
}

// check holds the figures to the budget.
func (r *Report) check(b Budget) []Check {
	var cs []Check
	add := func(fig string, v float64, ok bool, limit float64, unit string, atLeast bool) {
		cs = append(cs, Check{Figure: fig, Value: v, Limit: limit, Unit: unit, AtLeast: atLeast, Missing: !ok})
	}
	own, ok := r.benchMetric("BenchmarkInvocation", "own-ms/op")
	add("the mailer's own work per warm invocation (BenchmarkInvocation: total − KMS wait − SES send − claim)", own, ok, b.OwnWorkMS, "ms", false)
	rm, ok := r.benchMetric("BenchmarkRenderAndMIME", "ns/op")
	add("render + MIME build per mail (BenchmarkRenderAndMIME)", rm/1e3, ok, b.RenderMIMEMicros, "µs", false)
	s := r.rieSeries(func(x rieRun) []float64 { return []float64{x.ReadyMS} })
	add("process start → handler ready, bootstrap under aws-lambda-rie (median)", s.Median(), len(s) > 0, b.ReadyMS, "ms", false)
	ready := series(r.Invoke, func(p procRun) float64 { return msOf(p.Ready) })
	add("process start → handler ready, mailer invoke (median)", ready.Median(), len(ready) > 0 && !hasZero(ready), b.ReadyMS, "ms", false)
	add("dist/lambda.zip", float64(r.ZipSize)/(1<<20), r.ZipSize > 0, b.ZipMiB, "MiB", false)
	mm := kibSeries(r.InvokeMem)
	add("peak memory of one invocation, mailer invoke (GNU time %M, median)", mm.Median(), len(mm) > 0, b.PeakMiB, "MiB", false)
	mw := series(r.Invoke, func(p procRun) float64 { return msOf(p.Wall) })
	pw := series(r.Peer, func(p procRun) float64 { return msOf(p.Wall) })
	speed := 0.0
	if mw.Median() > 0 {
		speed = pw.Median() / mw.Median()
	}
	add("Node peer ÷ mailer, median wall time of a whole process", speed, len(mw) > 0 && len(pw) > 0, b.PeerSpeedup, "×", true)
	ml := series(r.InvokeLat, func(p procRun) float64 { return msOf(p.Line) })
	pl := series(r.PeerLat, func(p procRun) float64 { return msOf(p.Line) })
	lat := 0.0
	if ml.Median() > 0 {
		lat = pl.Median() / ml.Median()
	}
	add(fmt.Sprintf("Node peer ÷ mailer, process start → first event handled, with %v per KMS and %v per SES call injected", KMSLatency, SESLatency),
		lat, len(ml) > 0 && len(pl) > 0 && !hasZero(ml) && !hasZero(pl), b.LatencySpeedup, "×", true)
	ib := initSeries(r.InitBefore, totalMS)
	ia := initSeries(r.InitAfter, totalMS)
	ir := 0.0
	if ib.Median() > 0 {
		ir = ia.Median() / ib.Median()
	}
	add("Lambda binary's package initialisation, this tree ÷ "+InitBaseline+" (GODEBUG=inittrace=1, summed, median)", ir, len(ia) > 0 && len(ib) > 0, b.InitRatio, "×", false)
	pm := kibSeries(r.PeerMem)
	ratio := 0.0
	if pm.Median() > 0 {
		ratio = mm.Median() / pm.Median()
	}
	add("mailer ÷ Node peer, peak memory", ratio, len(mm) > 0 && len(pm) > 0, b.PeerMemoryRatio, "×", false)
	return append(cs, r.sqsChecks(b)...)
}

func hasZero(s Series) bool {
	for _, v := range s {
		if v == 0 {
			return true
		}
	}
	return false
}

// OverBudget lists the checks that failed, one line each.
func (r *Report) OverBudget() []string {
	var out []string
	for _, c := range r.Checks {
		if !c.OK() {
			out = append(out, fmt.Sprintf("%s: %s, budget %s: %s", c.Figure, c.Measured(), c.Bound(), c.Verdict()))
		}
	}
	return out
}

func findRIE(root string) (string, error) {
	p := filepath.Join(root, "bin", "aws-lambda-rie")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p, nil
	}
	return "", errors.New("aws-lambda-rie not found (make deps installs it into bin/)")
}

// findGNUTime finds GNU time (Debian package time), not the shell keyword.
func findGNUTime() (string, error) {
	for _, p := range []string{"/usr/bin/time", "/bin/time"} {
		out, err := exec.Command(p, "--version").CombinedOutput()
		if err == nil && strings.Contains(string(out), "GNU") {
			return p, nil
		}
	}
	return "", errors.New("GNU time is missing (make deps installs Debian's package time)")
}

func fileSize(p string) (int64, error) {
	st, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " ^$|()*?[]'\"\\") {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		} else {
			q[i] = a
		}
	}
	return strings.Join(q, " ")
}

// machine fills in what the figures were measured on.
func (r *Report) machine(ctx context.Context) {
	r.CPU, r.Cores = "unknown CPU", runtime.NumCPU()
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				if _, v, ok := strings.Cut(l, ":"); ok {
					r.CPU = strings.TrimSpace(v)
					break
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "MemTotal:") {
				var kb int64
				fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, "MemTotal:")), "%d", &kb)
				r.MemTotal = fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
			}
		}
	}
	r.LoadStart = loadAverage()
	r.Commit = commitOf(ctx, r.Opts.Root)
	r.Machine = runtime.GOOS + "/" + runtime.GOARCH
	r.Kernel = cmdOut(ctx, "uname", "-sr")
	r.GoVer = strings.TrimPrefix(cmdOut(ctx, r.Opts.Go, "version"), "go version ")
	if r.GoVer == "" {
		r.GoVer = runtime.Version()
	}
	r.NodeVer = cmdOut(ctx, "node", "--version")
	r.MotoVer = cmdOut(ctx, "moto_server", "--version")
}

// commitOf names the checked-out commit of root and whether the work tree
// (docs/benchmarks.md aside) has changes.
func commitOf(ctx context.Context, root string) string {
	c := cmdOut(ctx, "git", "-C", root, "log", "-1", "--format=%h %s")
	if c == "" {
		return ""
	}
	out, err := exec.CommandContext(ctx, "git", "-C", root, "status", "--porcelain", "--", ".", ":!docs/benchmarks.md").Output()
	if err == nil && len(strings.TrimSpace(string(out))) > 0 {
		c += " (plus uncommitted changes)"
	}
	return c
}

// loadAverage is the 1-minute load average, "" when unknown.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

func cmdOut(ctx context.Context, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return ""
	}
	return firstLine(string(out))
}
