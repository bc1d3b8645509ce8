// Command benchdoc is `make bench`: it measures the mailer (Go benchmarks,
// whole processes against the stand-ins on 127.0.0.1, the Node peer, sizes,
// peak memory, package initialisation against the tree before the Lambda
// build's split), checks the figures against the budget and writes
// docs/benchmarks.md from what it measured (internal/tools/benchrun). It prints
// every figure that misses the budget and by how much, and exits 1 then,
// after writing the doc; 2 when a step failed. With -only sqs it runs the
// send queue's step alone and rewrites only that section of the doc.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
	"github.com/Phenom-earth/phenom-mailer/internal/tools/benchrun"
)

func main() {
	root, err := standin.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchdoc:", err)
		os.Exit(2)
	}
	o := benchrun.DefaultOptions(root)
	flag.StringVar(&o.Out, "o", o.Out, "file to write (relative to the repository root)")
	flag.IntVar(&o.Count, "count", o.Count, "runs of each Go benchmark (the median is reported)")
	flag.IntVar(&o.ColdRuns, "cold", o.ColdRuns, "cold starts of the bootstrap under aws-lambda-rie")
	flag.IntVar(&o.Warm, "warm", o.Warm, "warm invocations after each cold start")
	flag.IntVar(&o.PeerRuns, "pairs", o.PeerRuns, "timed pairs of whole processes (mailer invoke, Node peer)")
	flag.IntVar(&o.MemRuns, "mem", o.MemRuns, "pairs run under GNU time for peak memory")
	flag.IntVar(&o.InitRuns, "init", o.InitRuns, "GODEBUG=inittrace=1 runs of each Lambda binary (this tree's and the baseline's)")
	flag.IntVar(&o.ProfileOps, "profile-ops", o.ProfileOps, "invocations in the CPU profile")
	if g := os.Getenv("GO"); g != "" {
		o.Go = g
	}
	flag.StringVar(&o.Go, "go", o.Go, "the go command")
	skip := flag.String("skip", "", "comma-separated steps not to run (processes, sqs, go, profile), for working on the harness; the run then fails")
	flag.StringVar(&o.Only, "only", "", "run one step alone: sqs (the send queue) replaces only its section of the doc, leaving the rest as it is; coldstart (inittrace, mailer invoke and the Node peer with and without injected latency) prints its figures and writes no doc")
	flag.StringVar(&o.CompareBin, "compare", "", "with -only coldstart: an older mailer build to time interleaved with this tree's")
	flag.IntVar(&o.SQS.Pairs, "sqs-pairs", o.SQS.Pairs, "timed pairs of SQS batches (10 messages sent concurrently, then one at a time)")
	flag.IntVar(&o.SQS.CannedPairs, "sqs-canned-pairs", o.SQS.CannedPairs, "more pairs with SendEmail and the idempotency writes answered by the harness (moto out of the path)")
	flag.Parse()
	o.Skip = map[string]bool{}
	for _, s := range strings.Split(*skip, ",") {
		if s = strings.TrimSpace(s); s != "" {
			o.Skip[s] = true
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch o.Only {
	case "", "sqs":
	case "coldstart":
		cs, err := benchrun.RunColdStart(ctx, o)
		for _, l := range cs.Summary() {
			fmt.Println(l)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchdoc:", err)
			os.Exit(2)
		}
		return
	default:
		fmt.Fprintf(os.Stderr, "benchdoc: -only %q: sqs and coldstart are known\n", o.Only)
		os.Exit(2)
	}
	rep, err := benchrun.Run(ctx, o)
	over := rep.OverBudget()
	for _, l := range over {
		fmt.Fprintln(os.Stderr, "OVER BUDGET:", l)
	}
	switch {
	case err != nil:
		fmt.Fprintln(os.Stderr, "benchdoc:", err)
		os.Exit(2)
	case len(over) > 0:
		fmt.Fprintf(os.Stderr, "benchdoc: %d figure(s) over budget (see %s)\n", len(over), o.Out)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "benchdoc: every figure within budget (%s)\n", o.Out)
}
