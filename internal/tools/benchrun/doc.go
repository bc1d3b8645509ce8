package benchrun

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// Markdown renders docs/benchmarks.md from the report.
func (r *Report) Markdown() string {
	var d strings.Builder
	o := r.Opts
	w := func(format string, a ...any) { fmt.Fprintf(&d, format, a...) }

	w("# Benchmarks\n\n")
	w("Written by `make bench` (`go run ./tools/benchdoc`, internal/tools/benchrun) from what it measured on the machine below; ")
	w("do not edit by hand. Every figure says how it was obtained.\n\n")
	w("| | |\n|---|---|\n")
	w("| date | %s |\n", r.Date.Format("2006-01-02 15:04 MST"))
	w("| machine | %s, %d cores, %s memory, %s, %s |\n", r.CPU, r.Cores, orDash(r.MemTotal), r.Machine, orDash(r.Kernel))
	if r.Commit != "" {
		w("| commit | %s |\n", mdCell(r.Commit))
	}
	w("| Go | %s |\n", r.GoVer)
	w("| Node (the peer) | %s |\n", orDash(r.NodeVer))
	w("| stand-ins | local-kms (Go, served by the harness) for KMS; %s (Python) behind the stand-in's correcting proxy for SES v2; all on 127.0.0.1 |\n", orDefault(r.MotoVer, "moto_server"))
	w("| event | `%s` (a Cognito-shaped ForgotPassword event, suite 0x0378 ciphertext with a `userpool-id` context) |\n", o.Event)
	if r.LoadStart != "" {
		w("| machine load | 1-minute load average %s at the start, %s at the end, on %d cores (other work on the machine slows every figure) |\n", r.LoadStart, orDash(r.LoadEnd), r.Cores)
	}
	w("\n")

	if len(r.Errors) > 0 {
		w("**Steps that failed in this run** (their figures are missing):\n\n")
		for _, e := range r.Errors {
			w("- %s\n", mdCell(e))
		}
		w("\n")
	}

	// Budget
	w("## Budget\n\n")
	over := r.OverBudget()
	if len(over) == 0 {
		w("Every figure is within budget.\n\n")
	} else {
		w("**%d of %d figures miss the budget**; `make bench` exits non-zero.\n\n", len(over), len(r.Checks))
	}
	w("| figure | measured | budget | verdict |\n|---|---:|---:|---|\n")
	for _, c := range r.Checks {
		v := c.Verdict()
		if !c.OK() {
			v = "**" + v + "**"
		}
		w("| %s | %s | %s | %s |\n", mdCell(c.Figure), c.Measured(), c.Bound(), v)
	}
	w("\nMiB = 2^20 bytes. The budget is `DefaultBudget` in internal/tools/benchrun/budget.go.\n\n")
	r.writeFindings(&d)

	// Cold start
	w("## Cold start\n\n")
	w("Whole processes, timed from process start. The bootstrap is the mailer built exactly as `make lambda` builds it ")
	w("(`-tags %s -trimpath`, stripped) but for this machine's architecture (%s), with production settings: SES delivery, ", standin.LambdaBuildTags, r.Machine)
	w("the DKIM check (started during the setup, its answer awaited before the first send), the suppression look-up, no signing in the mailer, no idempotency table.\n\n")
	w("| figure | median | min – max | runs | how it was obtained |\n|---|---:|---:|---:|---|\n")
	if len(r.RIE) > 0 {
		one := func(f func(rieRun) float64) Series {
			return r.rieSeries(func(x rieRun) []float64 { return []float64{f(x)} })
		}
		row(&d, "bootstrap under aws-lambda-rie: process start → handler ready", one(func(x rieRun) float64 { return x.ReadyMS }),
			"RIE starts the bootstrap on the first Invoke, as Lambda does on a cold start, through `execstamp`, which notes the time and execs the bootstrap in its place; ready is the bootstrap's first `GET /runtime/invocation/next`, seen by a recording proxy in front of RIE's Runtime API")
		row(&d, "**bootstrap under aws-lambda-rie: process start → first event handled**", one(func(x rieRun) float64 { return x.HandledMS }),
			"until the bootstrap posted its first response (`sent`) to the Runtime API: decrypt through local-kms, the DKIM check and SendEmail to moto, all on new connections")
		row(&d, "bootstrap under aws-lambda-rie: first Invoke round trip", one(func(x rieRun) float64 { return x.ClientMS }),
			"the Invoke request as its HTTP client saw it: RIE starting the bootstrap, the init, the event, RIE's answer")
		row(&d, "bootstrap under aws-lambda-rie: RIE's REPORT Duration of the first invocation", one(func(x rieRun) float64 { return x.InvokeMS }),
			"RIE's own figure (its Init Duration does not wait for the runtime, so RIE counts the init in this Duration)")
	}
	if len(r.Invoke) > 0 {
		row(&d, "mailer invoke: process start → handler ready", series(r.Invoke, func(p procRun) float64 { return msOf(p.Ready) }), "until the `mailer ready` log line (written after config, AWS clients and the Encryption SDK are set up and the DKIM check started; each template is parsed on its first use) reached the harness through the stderr pipe")
		row(&d, "**mailer invoke: process start → first event handled**", series(r.Invoke, func(p procRun) float64 { return msOf(p.Line) }), "until its JSON outcome line (`sent`) reached the harness through the stdout pipe")
		row(&d, "mailer invoke: process start → exit", series(r.Invoke, func(p procRun) float64 { return msOf(p.Wall) }), "until the process was reaped")
		row(&d, "mailer invoke: the handler alone", series(r.Invoke, func(p procRun) float64 { return outcomeMS(p, "duration_ms") }), "the outcome's own `duration_ms` (a cold process: first KMS and SES connections, the DKIM check)")
		row(&d, "mailer invoke: CPU time of the process", series(r.Invoke, func(p procRun) float64 { return msOf(p.CPU) }),
			"user + system time (rusage) of the whole cold process, start to exit; a Lambda of 256 MB has a fraction of a vCPU, so there this is nearer the wall time. The cold start runs with the garbage collector's target raised until the first event is handled (cmd/mailer coldgc.go)")
	}
	if len(r.Help) > 0 {
		row(&d, "mailer help: process start → exit", series(r.Help, func(p procRun) float64 { return msOf(p.Wall) }), "the same binary doing nothing but print its usage: the Go runtime, package initialisation and exit, without the setup")
	}
	if len(r.Peer) > 0 {
		row(&d, "Node peer: process start → handler ready", series(r.Peer, func(p procRun) float64 { return outcomeMS(p, "ready_ms") }), "the peer's `ready_ms`: `performance.now()` when its main starts, after the modules loaded (Node's time origin is its process start)")
		row(&d, "Node peer: process start → exit", series(r.Peer, func(p procRun) float64 { return msOf(p.Wall) }), "until the process was reaped")
	}
	w("\n")
	r.writeLatency(&d)
	r.writeInit(&d)

	// Warm invocation
	w("## Warm invocation\n\n")
	inv := r.bench("BenchmarkInvocation")
	if inv == nil {
		w("BenchmarkInvocation did not run.\n\n")
	} else {
		w("The real handler, wired by the mailer's own `newHandler` from the same environment settings, called again and again in one process ")
		w("after a first invocation (as a Lambda execution environment after its first event). ")
		w("Each figure is the mean per invocation of the stage timings the outcome records (`stages`), median of %d runs ", inv.Count())
		w("(`%s`).\n\n", firstCmd(r.GoCmds))
		cols := []*GoBench{inv}
		for _, n := range []string{"BenchmarkInvocationDKIM", "BenchmarkInvocationMaildir"} {
			if b := r.bench(n); b != nil {
				cols = append(cols, b)
			}
		}
		w("| stage |")
		for _, c := range cols {
			w(" %s |", c.Name)
		}
		w("\n|---|")
		for range cols {
			w("---:|")
		}
		w("\n")
		stages := []struct{ label, unit string }{
			{"**total**", "total-ms/op"},
			{"decrypt (Encryption SDK)", "decrypt-ms/op"},
			{"· of which waiting on KMS (local-kms)", "kms-wait-ms/op"},
			{"render", "render-ms/op"},
			{"MIME build (with DKIM signing in the DKIM column)", "mime-ms/op"},
			{"send: waiting on SES (moto) or the Maildir write", "send-ms/op"},
			{"idempotency claim (no table here)", "claim-ms/op"},
			{"**the mailer's own work** = total − KMS wait − send − claim", "own-ms/op"},
		}
		for _, s := range stages {
			w("| %s |", s.label)
			for _, c := range cols {
				if v, ok := c.Median(s.unit); ok {
					w(" %s |", ms(v))
				} else {
					w(" — |")
				}
			}
			w("\n")
		}
		if tot, ok := inv.Median("total-ms/op"); ok && tot > 0 {
			own, _ := inv.Median("own-ms/op")
			kw, _ := inv.Median("kms-wait-ms/op")
			sd, _ := inv.Median("send-ms/op")
			w("\nIn the production invocation, %s of %s (%.0f%%) is waiting on the stand-ins (KMS %s, SES %s) and %s (%.0f%%) is the mailer's own work.\n",
				ms(kw+sd), ms(tot), 100*(kw+sd)/tot, ms(kw), ms(sd), ms(own), 100*own/tot)
		}
		w("The local-kms stand-in runs inside the benchmark process, so its work shares the machine's %d cores with the mailer's.\n", r.Cores)
		if s := r.rieSeries(func(x rieRun) []float64 { return x.WarmMS }); len(s) > 0 {
			lo, hi := s.Range()
			rs := r.rieSeries(func(x rieRun) []float64 { return x.WarmRIEMS })
			w("\nThe same warm path through the real Lambda runtime loop: the bootstrap under aws-lambda-rie, %d invocations after each of the %d cold starts. ", o.Warm, len(r.RIE))
			w("From the event reaching the bootstrap to its response (at the recording proxy): median **%s** (min %s, max %s, %d invocations); ", ms(s.Median()), ms(lo), ms(hi), len(s))
			w("RIE's REPORT `Duration`: median %s.\n", ms(rs.Median()))
		}
		w("\n")
	}

	// Profiles
	for _, p := range r.Profiles {
		w("## CPU profile: %s\n\n", p.About)
		w("%s over %d operations (`%s`): the cumulative CPU time of each function per operation. ", p.Bench, p.Ops, p.Cmd)
		w("Waiting uses no CPU and is not here; sampling makes these figures approximate (about ±10%%).\n\n")
		w("| where | function | CPU per operation | share |\n|---|---|---:|---:|\n")
		for _, row := range p.Rows {
			if !row.Found {
				w("| %s | `%s` | not sampled (under about %s) | — |\n", row.Label, row.Func, ms(10/float64(p.Ops)))
				continue
			}
			w("| %s | `%s` | %s | %.0f%% |\n", row.Label, row.Func, ms(row.MSPerOp), 100*row.Share)
		}
		w("\n")
	}

	r.writeSQS(&d)

	// Peer
	w("## The Node peer\n\n")
	w("`%s` is what a team would otherwise deploy: AWS's documented Node.js sample for the custom email sender trigger ", r.PeerScript)
	w("(`@aws-crypto/client-node` `decrypt` with a `KmsKeyringNode`, commitment policy `REQUIRE_ENCRYPT_ALLOW_DECRYPT`, client and keyring built at module load) ")
	w("plus an `@aws-sdk/client-sesv2` SendEmail of a short HTML and text mail, and the `userpool-id` check. ")
	w("It does less than the mailer: no DKIM check, no templates, no MIME of its own. Both run as whole processes on the same event file, ")
	w("against the same stand-ins, alternating (mailer, peer, mailer, …) after one untimed pair.\n\n")
	if len(r.Invoke) > 0 && len(r.Peer) > 0 {
		mw := series(r.Invoke, func(p procRun) float64 { return msOf(p.Wall) })
		pw := series(r.Peer, func(p procRun) float64 { return msOf(p.Wall) })
		mlo, mhi := mw.Range()
		plo, phi := pw.Range()
		w("| | mailer invoke | Node peer | peer ÷ mailer |\n|---|---:|---:|---:|\n")
		w("| wall time, process start → exit, median of %d | **%s** | **%s** | **%.1f×** |\n", len(mw), ms(mw.Median()), ms(pw.Median()), pw.Median()/mw.Median())
		w("| min – max | %s – %s | %s – %s | |\n", ms(mlo), ms(mhi), ms(plo), ms(phi))
		mh := series(r.Invoke, func(p procRun) float64 { return outcomeMS(p, "duration_ms") })
		ph := series(r.Peer, func(p procRun) float64 { return outcomeMS(p, "duration_ms") })
		w("| the handler alone (its own `duration_ms`), median | %s | %s | %.1f× |\n", ms(mh.Median()), ms(ph.Median()), ph.Median()/mh.Median())
		if len(r.InvokeMem) > 0 && len(r.PeerMem) > 0 {
			mm, pm := kibSeries(r.InvokeMem), kibSeries(r.PeerMem)
			w("| peak resident memory (GNU time `%%M` on the child itself), median of %d | **%.1f MiB** | **%.1f MiB** | mailer = %.0f%% of the peer |\n",
				len(mm), mm.Median(), pm.Median(), 100*mm.Median()/pm.Median())
		}
		w("\nMoto accepted %d mails during the process runs, one per invocation (checked).\n\n", r.MotoMails)
	}

	// Size
	w("## Size\n\n| artifact | size | how |\n|---|---:|---|\n")
	if r.BootstrapSize > 0 {
		w("| dist/bootstrap | %.2f MiB (%d bytes) | `make lambda`: linux/arm64, tags `%s`, `-trimpath`, `-s -w` |\n", mib(r.BootstrapSize), r.BootstrapSize, standin.LambdaBuildTags)
	}
	if r.ZipSize > 0 {
		w("| dist/lambda.zip | %.2f MiB (%d bytes) | `make lambda` (tools/lambdazip) |\n", mib(r.ZipSize), r.ZipSize)
	}
	w("\n")

	// Go benchmarks
	w("## Go benchmarks\n\n")
	w("Every `Benchmark*` of the module, median of the runs (`%s`)", strings.Join(r.GoCmds, "`, then `"))
	w("; BenchmarkLoad is one whole run, so it runs once. What each measures is the first sentence of its doc comment.\n\n")
	w("| package | benchmark | time per op | memory per op | allocations per op | other figures | runs | what it measures |\n")
	w("|---|---|---:|---:|---:|---|---:|---|\n")
	for _, b := range r.sortedBenches() {
		w("| %s | %s | %s | %s | %s | %s | %d | %s |\n", shortPkg(b.Pkg), b.Name, benchNS(b), benchBytes(b), benchAllocs(b), otherUnits(b), b.Count(), mdCell(b.About))
	}
	w("\n")

	// Inbox
	w("## Inbox reader\n\n")
	var inbox []*GoBench
	for _, b := range r.Benches {
		if b.Pkg == InboxPkg {
			inbox = append(inbox, b)
		}
	}
	if len(inbox) == 0 {
		w("%s The harness runs every `Benchmark*` of internal/inbox as soon as there is one.\n\n", orDefault(r.InboxNote, "No inbox reader benchmarks ran."))
	} else {
		w("Every `Benchmark*` of internal/inbox (also in the table above), median of the runs.\n\n")
		w("| benchmark | time per op | memory per op | allocations per op | other figures | what it measures |\n|---|---:|---:|---:|---|---|\n")
		for _, b := range inbox {
			w("| %s | %s | %s | %s | %s | %s |\n", b.Name, benchNS(b), benchBytes(b), benchAllocs(b), otherUnits(b), mdCell(b.About))
		}
		w("\n")
	}

	w("## Reproduce\n\n")
	w("`make bench` (needs moto_server; `make deps` installs aws-lambda-rie, GNU time and the npm packages). ")
	w("It runs `make lambda`, then `go run ./tools/benchdoc`, which prints any figure over budget and exits non-zero after writing this file. ")
	w("Runs: %d cold starts under RIE with %d warm invocations each; %d timed pairs of whole processes (mailer invoke, Node peer) and %d more under GNU time; ", o.ColdRuns, o.Warm, o.PeerRuns, o.MemRuns)
	w("each Go benchmark %d times; a CPU profile over %d invocations; ", o.Count, o.ProfileOps)
	w("on the send queue, %d pairs of SQS batches of %d (concurrent, one at a time), %d more with moto out of the path, and %d pacing runs (`go run ./tools/benchdoc -only sqs` runs these alone). ", o.SQS.Pairs, BatchSize, o.SQS.CannedPairs, len(o.SQS.Pace))
	w("Figures from the stand-ins include their latency (moto is a single Python process); the budget's own-work figure excludes it.\n")
	return d.String()
}

// writeFindings explains over-budget figures from what was measured.
func (r *Report) writeFindings(d *strings.Builder) {
	var notes []string
	inline := r.profileRow("BenchmarkInvocation", "internal/render.(*inliner).inline")
	render := r.profileRow("BenchmarkInvocation", "internal/render.(*Renderer).Render")
	ecdsa := r.profileRow("BenchmarkInvocation", "crypto/ecdsa.VerifyASN1")
	dec := r.profileRow("BenchmarkInvocation", "internal/decrypt.(*Decrypter).Decrypt")
	setup := r.profileRow("BenchmarkNewHandler", "cmd/mailer.newHandler")
	setupInline := r.profileRow("BenchmarkNewHandler", "internal/render.scan")
	renderNew := r.profileRow("BenchmarkNewHandler", "internal/render.New")
	for _, c := range r.Checks {
		if c.OK() || c.Missing {
			continue
		}
		var n string
		switch {
		case strings.HasPrefix(c.Figure, "the mailer's own work"):
			n = "**Own work per warm invocation**: " + r.topProfile(3) + " of CPU per invocation (profile below)."
			if found(render) && found(inline) {
				n += fmt.Sprintf(" Render is %s, of which CSS inlining %s (a structure seen before: scan the mail and apply the plan).", ms(render.MSPerOp), ms(inline.MSPerOp))
			}
			if found(dec) && found(ecdsa) {
				n += fmt.Sprintf(" Decrypt is %s, of which the ECDSA P-384 signature check that Cognito's suite 0x0378 requires is %s (Go's generic P-384 code; no assembly on amd64 or arm64).", ms(dec.MSPerOp), ms(ecdsa.MSPerOp))
			}
			if b := r.bench("BenchmarkDecrypt"); b != nil {
				if own, ok := b.Median("own-ms/op"); ok {
					n += fmt.Sprintf(" BenchmarkDecrypt, the Encryption SDK's decrypt alone (its own work, KMS's wait taken out), is %s: %.0f%% of the budget before the mailer renders, builds or sends anything.", ms(own), 100*own/c.Limit)
				}
			}
		case strings.HasPrefix(c.Figure, "render + MIME"):
			n = "**Render + MIME**:"
			if found(render) && found(inline) {
				n += fmt.Sprintf(" in the invocation profile render takes %s of CPU, %s of it CSS inlining (a scan and the structure's plan).", ms(render.MSPerOp), ms(inline.MSPerOp))
			}
			if b := r.bench("BenchmarkRenderAndMIME"); b != nil {
				if al, ok := b.Median("allocs/op"); ok {
					n += fmt.Sprintf(" BenchmarkRenderAndMIME allocates %s in %.0f allocations per mail.", benchBytes(b), al)
				}
			}
		case strings.Contains(c.Figure, "handler ready"):
			n = "**Process start → handler ready**:"
			if found(setup) {
				n += fmt.Sprintf(" the setup (newHandler) takes %s of CPU", ms(setup.MSPerOp))
				if found(renderNew) {
					n += fmt.Sprintf(", %s of it render.New", ms(renderNew.MSPerOp))
				}
				if found(setupInline) {
					n += fmt.Sprintf(" (scanning for the CSS inliner %s)", ms(setupInline.MSPerOp))
				}
				n += "."
			}
		case strings.HasPrefix(c.Figure, "Node peer ÷ mailer, process start → first event handled"):
			n = "**Cold start with latency**:"
			line := series(r.InvokeLat, func(p procRun) float64 { return msOf(p.Line) }).Median()
			handler := series(r.InvokeLat, func(p procRun) float64 { return outcomeMS(p, "duration_ms") }).Median()
			floor := sumSeries(r.FloorIdentity, r.FloorSend).Median()
			if cl := r.latencyCeiling(); cl > 0 && line > 0 {
				n += fmt.Sprintf(" of the mailer's %s, the DKIM check and then SendEmail take %s through the stand-ins even from a warm client, so no mailer that waits for DKIM SUCCESS before its first send can pass %.2f× here (section \"Cold start with AWS-like round trips\");", ms(line), ms(floor), cl)
				n += fmt.Sprintf(" the rest is %s before the handler starts (the Go runtime, package initialisation, the setup) and %s of the handler beyond the two calls (a cold process's first requests, the decrypt's CPU beside them, the outcome).", ms(line-handler), ms(max(handler-floor, 0)))
			}
			if x := r.exactSpeedup(); x > 0 {
				n += fmt.Sprintf(" With every SES call answered in exactly %s (moto's own time taken out), the ratio is %.2f×.", ms(msOf(SESLatency)), x)
			}
		case strings.HasPrefix(c.Figure, "Node peer ÷ mailer"):
			n = "**Peer speed-up**: " + r.processBreakdown()
			if found(setup) && found(renderNew) {
				n += fmt.Sprintf(" The setup's CPU profile (below) puts %s of its %s in render.New", ms(renderNew.MSPerOp), ms(setup.MSPerOp))
				if found(setupInline) {
					n += fmt.Sprintf(", %s scanning for the CSS inliner", ms(setupInline.MSPerOp))
				}
				n += "."
			}
		case strings.HasPrefix(c.Figure, "Lambda binary's package initialisation"):
			n = "**Package initialisation**:"
			ib := initSeries(r.InitBefore, totalMS).Median()
			if fl := initSeries(r.InitFloor, totalMS); len(fl) > 0 && ib > 0 {
				n += fmt.Sprintf(" the libraries the Lambda cannot do without take %s alone (%.2f× the baseline, %.2f MB allocated, %.0f GC cycles);",
					ms(fl.Median()), fl.Median()/ib, initSeries(r.InitFloor, mbAllocated).Median(), initSeries(r.InitFloor, gcCycles).Median())
				n += fmt.Sprintf(" this tree's inits allocate %.2f MB and run %.0f GC cycles.", initSeries(r.InitAfter, mbAllocated).Median(), initSeries(r.InitAfter, gcCycles).Median())
			}
			if top := topInit(r.InitAfter, 40); len(top) > 0 {
				var extra []string
				inFloor := medianByPackage(r.InitFloor)
				for _, p := range top {
					if _, ok := inFloor[p.Package]; !ok && len(extra) < 4 {
						extra = append(extra, fmt.Sprintf("%s %s", p.Package, ms(p.MS)))
					}
				}
				if len(extra) > 0 {
					n += " The largest initialisers the libraries alone do not have: " + strings.Join(extra, ", ") + "."
				}
			}
		case strings.HasPrefix(c.Figure, "peak memory"), strings.HasPrefix(c.Figure, "mailer ÷ Node peer"):
			n = fmt.Sprintf("**Memory**: the mailer's median peak is %.1f MiB, the peer's %.1f MiB.", kibSeries(r.InvokeMem).Median(), kibSeries(r.PeerMem).Median())
		case strings.HasPrefix(c.Figure, "dist/lambda.zip"):
			n = fmt.Sprintf("**Zip**: dist/bootstrap is %.1f MiB before compression.", mib(r.BootstrapSize))
		}
		if n != "" && !slices.Contains(notes, n) {
			notes = append(notes, n)
		}
	}
	if len(notes) == 0 {
		return
	}
	d.WriteString("What the measurements say about the figures that miss the budget:\n\n")
	for _, n := range notes {
		d.WriteString("- " + n + "\n")
	}
	d.WriteString("\n")
}

// processBreakdown splits the mailer's whole-process time into its parts.
func (r *Report) processBreakdown() string {
	if len(r.Invoke) == 0 {
		return ""
	}
	wall := series(r.Invoke, func(p procRun) float64 { return msOf(p.Wall) }).Median()
	ready := series(r.Invoke, func(p procRun) float64 { return msOf(p.Ready) }).Median()
	handler := series(r.Invoke, func(p procRun) float64 { return outcomeMS(p, "duration_ms") }).Median()
	s := fmt.Sprintf("a mailer process takes %s from start to exit: %s until the handler is ready", ms(wall), ms(ready))
	if len(r.Help) > 0 {
		h := series(r.Help, func(p procRun) float64 { return msOf(p.Wall) }).Median()
		s += fmt.Sprintf(" (a process that only starts and exits, `mailer help`, takes %s; the rest is the setup)", ms(h))
	}
	return s + fmt.Sprintf(", then %s handling the event.", ms(handler))
}

func found(p *ProfileRow) bool { return p != nil && p.Found }

func (r *Report) profileRow(bench, fn string) *ProfileRow {
	for _, p := range r.Profiles {
		if p.Bench != bench {
			continue
		}
		for i := range p.Rows {
			if p.Rows[i].Func == fn {
				return &p.Rows[i]
			}
		}
	}
	return nil
}

// topProfile names the n largest top-level stages of the invocation
// profile (rows not starting with "·", the handler itself left out).
func (r *Report) topProfile(n int) string {
	var rows []ProfileRow
	for _, p := range r.Profiles {
		if p.Bench != "BenchmarkInvocation" {
			continue
		}
		for _, row := range p.Rows {
			if row.Found && !row.isHandle && !strings.HasPrefix(row.Label, "·") {
				rows = append(rows, row)
			}
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].MSPerOp > rows[j].MSPerOp })
	if len(rows) > n {
		rows = rows[:n]
	}
	var s []string
	for _, p := range rows {
		label, _, _ := strings.Cut(p.Label, " (")
		s = append(s, fmt.Sprintf("%s %s", label, ms(p.MSPerOp)))
	}
	if len(s) == 0 {
		return "no profile"
	}
	return "the largest parts are " + strings.Join(s, ", ")
}

func (r *Report) sortedBenches() []*GoBench {
	b := append([]*GoBench(nil), r.Benches...)
	sort.SliceStable(b, func(i, j int) bool { return b[i].Pkg < b[j].Pkg })
	return b
}

func row(d *strings.Builder, label string, s Series, how string) {
	lo, hi := s.Range()
	fmt.Fprintf(d, "| %s | %s | %s – %s | %d | %s |\n", label, ms(s.Median()), ms(lo), ms(hi), len(s), how)
}

func outcomeMS(p procRun, key string) float64 {
	if v, ok := p.Outcome[key].(float64); ok {
		return v
	}
	return 0
}

// ms formats milliseconds.
func ms(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	case v >= 1:
		return fmt.Sprintf("%.2f ms", v)
	case v == 0:
		return "0"
	default:
		return fmt.Sprintf("%.0f µs", v*1000)
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func benchNS(b *GoBench) string {
	v, ok := b.Median("ns/op")
	if !ok {
		return "—"
	}
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2f s", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2f ms", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1f µs", v/1e3)
	}
	return fmt.Sprintf("%.0f ns", v)
}

func benchBytes(b *GoBench) string {
	v, ok := b.Median("B/op")
	if !ok {
		return "—"
	}
	switch {
	case v >= 1<<20:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	case v >= 1024:
		return fmt.Sprintf("%.1f KiB", v/1024)
	}
	return fmt.Sprintf("%.0f B", v)
}

func benchAllocs(b *GoBench) string {
	v, ok := b.Median("allocs/op")
	if !ok {
		return "—"
	}
	return fmt.Sprintf("%.0f", v)
}

func otherUnits(b *GoBench) string {
	var s []string
	for _, u := range b.Units {
		switch u {
		case "ns/op", "B/op", "allocs/op":
			continue
		}
		v, _ := b.Median(u)
		s = append(s, fmt.Sprintf("%s %s", trimFloat(v), u))
	}
	return strings.Join(s, ", ")
}

func trimFloat(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 1:
		return fmt.Sprintf("%.3g", v)
	}
	return fmt.Sprintf("%.3g", v)
}

func shortPkg(p string) string {
	return strings.TrimPrefix(strings.TrimPrefix(p, Module), "/")
}

func firstCmd(c []string) string {
	if len(c) == 0 {
		return ""
	}
	return c[0]
}

func mdCell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}

func orDash(s string) string { return orDefault(s, "—") }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// writeLatency is the section on whole processes with latency injected into
// every KMS and SES call.
func (r *Report) writeLatency(d *strings.Builder) {
	w := func(format string, a ...any) { fmt.Fprintf(d, format, a...) }
	w("## Cold start with AWS-like round trips\n\n")
	w("On 127.0.0.1 a KMS or SES call costs well under a millisecond, which hides what a cold start waits for in a region. ")
	w("Here the same pairs as above (`mailer invoke`, then the Node peer, on the same event, the same settings) ")
	w("talk to local-kms and moto through fault proxies (internal/testenv/standin's FaultProxy) that hold every request ")
	w("%v (KMS) and %v (SES: the DKIM check, the suppression look-up and SendEmail) before forwarding it. ", KMSLatency, SESLatency)
	w("The mailer starts the DKIM check during its setup and runs the suppression look-up (and the template's preparation) while KMS decrypts, ")
	w("so its first event waits for two round trips in a row (KMS, then SendEmail) plus what is left of the DKIM check; the peer makes two calls, KMS then SendEmail, and no checks. ")
	w("Process start → first event handled is until the process's JSON outcome line reached the harness through the stdout pipe.\n\n")
	if len(r.InvokeLat) == 0 && len(r.PeerLat) == 0 {
		w("Not measured in this run.\n\n")
		return
	}
	w("| figure | median | min – max | runs | how it was obtained |\n|---|---:|---:|---:|---|\n")
	row(d, "**mailer invoke: process start → first event handled**", series(r.InvokeLat, func(p procRun) float64 { return msOf(p.Line) }), "the mailer's outcome line")
	row(d, "mailer invoke: the handler alone", series(r.InvokeLat, func(p procRun) float64 { return outcomeMS(p, "duration_ms") }), "the outcome's own `duration_ms`")
	row(d, "**Node peer: process start → first event handled**", series(r.PeerLat, func(p procRun) float64 { return msOf(p.Line) }), "the peer's outcome line")
	row(d, "Node peer: the handler alone", series(r.PeerLat, func(p procRun) float64 { return outcomeMS(p, "duration_ms") }), "the peer's own `duration_ms`")
	if len(r.FloorIdentity) > 0 && len(r.FloorSend) > 0 {
		row(d, "floor: GetEmailIdentity (the DKIM check) through the slow stand-in", r.FloorIdentity, "from this harness's warm client, one call at a time, after the pairs")
		row(d, "floor: SendEmail through the slow stand-in", r.FloorSend, "likewise (a short Simple mail; the stand-in checks the sender's identity with moto first, as SES would refuse an unverified one)")
	}
	if len(r.InvokeExact) > 0 && len(r.PeerExact) > 0 {
		row(d, fmt.Sprintf("mailer invoke: process start → first event handled, SES answering in exactly %v", SESLatency), series(r.InvokeExact, func(p procRun) float64 { return msOf(p.Line) }),
			"the same pairs once more, every SES call answered by the harness's exact proxy "+ms(msOf(SESLatency))+" after it arrived, moto's own time included (the first call of each kind goes to moto and is recorded, the later ones get the recording)")
		row(d, fmt.Sprintf("Node peer: process start → first event handled, SES answering in exactly %v", SESLatency), series(r.PeerExact, func(p procRun) float64 { return msOf(p.Line) }), "likewise")
	}
	w("\n")
	if c := r.latencyCeiling(); c > 0 {
		w("The mailer sends only once SES has said the From domain's DKIM is SUCCESS, so its first mail waits for GetEmailIdentity and then SendEmail, one after the other, whatever else runs beside them. ")
		w("Through these stand-ins the two take %s from a warm client: a mailer that started and decrypted in no time would reach **%.2f×** the peer's median here and no more (the peer waits for KMS, then SendEmail, with no check).\n\n",
			ms(sumSeries(r.FloorIdentity, r.FloorSend).Median()), c)
	}
	if x := r.exactSpeedup(); x > 0 {
		w("Those two calls cost %s more than the %s injected: moto's answer (and, before a SendEmail, the stand-in asking moto whether the sender is verified) comes on top of the injection, and the peer pays it once (SendEmail), the mailer twice. ",
			ms(max(sumSeries(r.FloorIdentity, r.FloorSend).Median()-2*msOf(SESLatency), 0)), ms(2*msOf(SESLatency)))
		w("With every SES call answered in exactly %s, the round trip the budget describes, the peer ÷ mailer ratio is **%.2f×**. The budget is held to the ratio through moto above, not to this one.\n\n", ms(msOf(SESLatency)), x)
	}
}

// exactSpeedup is the Node peer's median over the mailer's with SES
// answering in exactly SESLatency; 0 when not measured.
func (r *Report) exactSpeedup() float64 {
	m := series(r.InvokeExact, func(p procRun) float64 { return msOf(p.Line) })
	p := series(r.PeerExact, func(p procRun) float64 { return msOf(p.Line) })
	if len(m) == 0 || len(p) == 0 || m.Median() == 0 {
		return 0
	}
	return p.Median() / m.Median()
}

// latencyCeiling is the Node peer's median with latency over the SES
// floors' (DKIM check then SendEmail): the best peer ÷ mailer ratio any
// mailer that checks DKIM before its first send can reach here. 0 when not
// measured.
func (r *Report) latencyCeiling() float64 {
	f := sumSeries(r.FloorIdentity, r.FloorSend)
	p := series(r.PeerLat, func(p procRun) float64 { return msOf(p.Line) })
	if len(f) == 0 || len(p) == 0 || f.Median() == 0 {
		return 0
	}
	return p.Median() / f.Median()
}

// writeInit is the section on the Lambda binary's package initialisation.
func (r *Report) writeInit(d *strings.Builder) {
	w := func(format string, a ...any) { fmt.Fprintf(d, format, a...) }
	w("## Package initialisation of the Lambda binary\n\n")
	w("Every package's `init` runs before `main`, on every cold start. Each binary runs `help` with `GODEBUG=inittrace=1` and only PATH in its environment; ")
	w("the figure is the sum of the `ms clock` of every `init` line the Go runtime writes, median of the runs. ")
	w("The baseline is commit %s (the tree before the Lambda build left out the commands only a person runs), ", InitBaseline)
	w("extracted with `git archive` and built in the same run with the same toolchain and flags; the two binaries run alternately.\n\n")
	if len(r.InitBefore) == 0 && len(r.InitAfter) == 0 {
		w("Not measured in this run.\n\n")
		return
	}
	w("| figure | median | min – max | runs | how it was obtained |\n|---|---:|---:|---:|---|\n")
	schemas := func(t InitTrace) float64 { return t.SchemasMS }
	row(d, "**"+InitBaseline+": package initialisation**", initSeries(r.InitBefore, totalMS), fmt.Sprintf("%d packages", packagesOf(r.InitBefore)))
	row(d, InitBaseline+": of which the AWS SDK's `schemas` packages", initSeries(r.InitBefore, schemas), "")
	row(d, "**this tree: package initialisation**", initSeries(r.InitAfter, totalMS), fmt.Sprintf("%d packages", packagesOf(r.InitAfter)))
	row(d, "this tree: of which the AWS SDK's `schemas` packages", initSeries(r.InitAfter, schemas), "")
	if len(r.InitFloor) > 0 {
		row(d, "**the libraries alone: package initialisation**", initSeries(r.InitFloor, totalMS),
			fmt.Sprintf("%d packages: %s, which links only the SDK's KMS, SES v2 and DynamoDB clients, the Encryption SDK with its material providers, and aws-lambda-go (a test holds that the Lambda build links each)", packagesOf(r.InitFloor), InitFloorPackage))
	}
	w("\n")
	if len(r.InitFloor) > 0 {
		w("| binary | allocated by the inits (median) | GC cycles before exit (median) |\n|---|---:|---:|\n")
		for _, b := range []struct {
			name string
			ts   []InitTrace
		}{{InitBaseline, r.InitBefore}, {"this tree", r.InitAfter}, {"the libraries alone", r.InitFloor}} {
			w("| %s | %.2f MB | %.0f |\n", b.name, initSeries(b.ts, mbAllocated).Median(), initSeries(b.ts, gcCycles).Median())
		}
		w("\nThe Go runtime's first heap goal is 4 MB: inits that allocate near it start a GC cycle before `main`, and every init that overlaps it runs slower (its allocations assist the marking).\n\n")
	}
	if top := topInit(r.InitAfter, 10); len(top) > 0 {
		w("The largest initialisers of this tree's Lambda binary (median per package):\n\n| package | init |\n|---|---:|\n")
		for _, p := range top {
			w("| %s | %s |\n", p.Package, ms(p.MS))
		}
		w("\n")
	}
}

func packagesOf(ts []InitTrace) int {
	if len(ts) == 0 {
		return 0
	}
	return ts[0].Packages
}
