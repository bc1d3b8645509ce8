package benchrun

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// InitBaseline is the commit whose Lambda binary the package-initialisation
// figure is compared with: main just before the Lambda build left out the
// CLI's commands (issue 13, item 5). It stays fixed so that every later run
// compares with the same tree.
const InitBaseline = "7aa1185"

// InitFloorPackage is the program that links only the libraries the
// Lambda build cannot do without (its package comment says which): its
// package initialisation is the floor under the Lambda binary's.
const InitFloorPackage = "internal/tools/benchrun/initfloor"

// buildInitFloor builds InitFloorPackage as buildMailer builds the mailer.
func buildInitFloor(ctx context.Context, goCmd, root, out string, log io.Writer) error {
	env := append(os.Environ(), "CGO_ENABLED=0")
	_, err := goTool(ctx, goCmd, root, env, log, "build", "-tags", standin.LambdaBuildTags, "-trimpath", "-buildvcs=false",
		"-ldflags=-s -w -buildid=", "-o", out, "./"+InitFloorPackage)
	return err
}

// InitTrace is one run's package initialisation, from GODEBUG=inittrace=1.
type InitTrace struct {
	TotalMS   float64 // summed over every package's init
	SchemasMS float64 // of which the AWS SDK's schemas packages
	Packages  int
	ByPackage map[string]float64 // each package's init, ms
	// Bytes is what the inits allocated, summed. Past the runtime's first
	// heap goal (4 MB) a GC cycle runs during the initialisation and slows
	// every init it overlaps.
	Bytes int64
	// GCs counts the GC cycles that ended before the process exited
	// (GODEBUG=gctrace=1 lines; `help` exits right after the inits).
	GCs int
}

// ParseInitTrace sums the "init PKG @T ms, D ms clock, …" lines the Go
// runtime writes with GODEBUG=inittrace=1; other lines are ignored.
func ParseInitTrace(out string) (InitTrace, error) {
	var t InitTrace
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// gc N @Ts P%: ... (GODEBUG=gctrace=1)
		if len(f) >= 3 && f[0] == "gc" && strings.HasPrefix(f[2], "@") {
			t.GCs++
			continue
		}
		// init PKG @T ms, D ms clock, B bytes, A allocs
		if len(f) < 7 || f[0] != "init" || !strings.HasPrefix(f[2], "@") || f[6] != "clock," {
			continue
		}
		d, err := strconv.ParseFloat(f[4], 64)
		if err != nil {
			return t, fmt.Errorf("inittrace line %q: %w", sc.Text(), err)
		}
		if len(f) >= 9 && f[8] == "bytes," {
			b, err := strconv.ParseInt(f[7], 10, 64)
			if err != nil {
				return t, fmt.Errorf("inittrace line %q: %w", sc.Text(), err)
			}
			t.Bytes += b
		}
		t.TotalMS += d
		t.Packages++
		if t.ByPackage == nil {
			t.ByPackage = map[string]float64{}
		}
		t.ByPackage[f[1]] += d
		if strings.HasPrefix(f[1], "github.com/aws/aws-sdk-go-v2/") && strings.HasSuffix(f[1], "/schemas") {
			t.SchemasMS += d
		}
	}
	if t.Packages == 0 {
		return t, fmt.Errorf("no inittrace lines in %q", tail(out, 500))
	}
	return t, nil
}

// runInitTrace runs bin `help` n times with GODEBUG=inittrace=1,gctrace=1
// and only PATH in its environment (package initialisation does not read
// it).
func runInitTrace(ctx context.Context, bin string, n int) ([]InitTrace, error) {
	var out []InitTrace
	for i := 0; i < n; i++ {
		cmd := exec.CommandContext(ctx, bin, "help")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "GODEBUG=inittrace=1,gctrace=1"}
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		if err := cmd.Run(); err != nil {
			return out, fmt.Errorf("%s help: %w\n%s", bin, err, tail(stderr.String(), 1000))
		}
		t, err := ParseInitTrace(stderr.String())
		if err != nil {
			return out, err
		}
		out = append(out, t)
	}
	return out, nil
}

// runInitTraces runs the baseline's, this tree's and the floor's binaries
// n times each, in turn, so that the machine's changes fall on all three.
func runInitTraces(ctx context.Context, n int, base, bin, floor string) (before, after, flo []InitTrace, err error) {
	for i := 0; i < n; i++ {
		for _, run := range []struct {
			bin string
			to  *[]InitTrace
		}{{base, &before}, {bin, &after}, {floor, &flo}} {
			t, err := runInitTrace(ctx, run.bin, 1)
			if err != nil {
				return before, after, flo, err
			}
			*run.to = append(*run.to, t...)
		}
	}
	return before, after, flo, nil
}

// buildBaseline extracts the InitBaseline tree with git archive into
// scratch and builds its mailer exactly as buildMailer builds this one.
func buildBaseline(ctx context.Context, goCmd, root, scratch, out string, log io.Writer) error {
	dir := filepath.Join(scratch, "baseline")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	archive := exec.CommandContext(ctx, "git", "-C", root, "archive", "--format=tar", InitBaseline)
	extract := exec.CommandContext(ctx, "tar", "-x", "-C", dir)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		return err
	}
	extract.Stdin = pipe
	var aerr, xerr bytes.Buffer
	archive.Stderr, extract.Stderr = &aerr, &xerr
	if err := extract.Start(); err != nil {
		return err
	}
	if err := archive.Run(); err != nil {
		_ = extract.Wait()
		return fmt.Errorf("git archive %s: %w: %s", InitBaseline, err, strings.TrimSpace(aerr.String()))
	}
	if err := extract.Wait(); err != nil {
		return fmt.Errorf("tar: %w: %s", err, strings.TrimSpace(xerr.String()))
	}
	return buildMailer(ctx, goCmd, dir, out, log)
}

// totalMS, mbAllocated and gcCycles read one InitTrace for initSeries.
func totalMS(t InitTrace) float64     { return t.TotalMS }
func mbAllocated(t InitTrace) float64 { return float64(t.Bytes) / 1e6 }
func gcCycles(t InitTrace) float64    { return float64(t.GCs) }

func initSeries(ts []InitTrace, f func(InitTrace) float64) Series {
	var s Series
	for _, t := range ts {
		s = append(s, f(t))
	}
	return s
}

// topInit is the n packages with the largest median init over ts, largest
// first, with their medians.
func topInit(ts []InitTrace, n int) []InitShare {
	per := map[string]Series{}
	for _, t := range ts {
		for p, d := range t.ByPackage {
			per[p] = append(per[p], d)
		}
	}
	var out []InitShare
	for p, s := range per {
		for len(s) < len(ts) {
			s = append(s, 0) // not initialised in that run
		}
		out = append(out, InitShare{p, s.Median()})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].MS != out[j].MS {
			return out[i].MS > out[j].MS
		}
		return out[i].Package < out[j].Package
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// medianByPackage is the packages initialised in ts, with their median
// init time.
func medianByPackage(ts []InitTrace) map[string]float64 {
	out := map[string]float64{}
	for _, p := range topInit(ts, int(^uint(0)>>1)) {
		out[p.Package] = p.MS
	}
	return out
}

// InitShare is one package's median init time.
type InitShare struct {
	Package string
	MS      float64
}
