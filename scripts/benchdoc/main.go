// Command benchdoc runs the project's Go benchmarks and writes
// docs/benchmarks.md from what it measured: the machine, the Go version, the
// date, and the median of repeated runs of each benchmark. `make bench` runs
// it; the file is never edited by hand.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// packages holds the benchmarks, with what each one measures.
var packages = []string{"./cmd/mailer/", "./internal/render/"}

var about = map[string]string{
	"BenchmarkRenderAndMIME":     "render the ForgotPassword templates and build the MIME (no DKIM): the mailer's own work per mail after decrypt",
	"BenchmarkRender":            "render the ForgotPassword templates only",
	"BenchmarkInvocation":        "one warm invocation of the real handler: ESDK decrypt through local-kms, render, MIME, DKIM sign (RSA-2048), SES v2 SendEmail to moto; all on 127.0.0.1",
	"BenchmarkInvocationMaildir": "the same invocation delivering into a Maildir instead of moto",
	"BenchmarkLoad":              "1,001 deliveries (910 distinct events, 91 delivered twice) at a concurrency of 50 through the real handler with the idempotency table on moto's DynamoDB; one whole run per op. Bound by moto (a Python server), not by the mailer",
}

func main() {
	out := flag.String("o", "docs/benchmarks.md", "file to write")
	count := flag.Int("count", 5, "runs of each benchmark (the median is reported)")
	flag.Parse()
	if err := run(*out, *count, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "benchdoc:", err)
		os.Exit(1)
	}
}

// result holds every run's value of each unit ("ns/op", "B/op",
// "allocs/op" and custom metrics such as "p99-ms").
type result struct {
	units  []string
	values map[string][]float64
}

var line = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

func run(outPath string, count int, log io.Writer) error {
	args := append([]string{"test", "-run=^$", "-bench=.", "-benchmem", "-count=" + strconv.Itoa(count)}, packages...)
	cmd := exec.Command("go", args...)
	var buf bytes.Buffer
	cmd.Stdout = io.MultiWriter(&buf, log)
	cmd.Stderr = log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	results := map[string]*result{}
	var order []string
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		r := results[m[1]]
		if r == nil {
			r = &result{values: map[string][]float64{}}
			results[m[1]] = r
			order = append(order, m[1])
		}
		f := strings.Fields(m[2])
		for i := 0; i+1 < len(f); i += 2 {
			unit := f[i+1]
			if _, ok := r.values[unit]; !ok {
				r.units = append(r.units, unit)
			}
			r.values[unit] = append(r.values[unit], num(f[i]))
		}
	}
	if len(order) == 0 {
		return fmt.Errorf("no benchmark results in the output")
	}
	var doc strings.Builder
	fmt.Fprintf(&doc, "# Benchmarks\n\nWritten by `make bench` (`go run ./scripts/benchdoc`) from what it measured; do not edit by hand.\n\n")
	fmt.Fprintf(&doc, "| | |\n|---|---|\n| date | %s |\n| machine | %s, %d cores, %s/%s |\n| Go | %s |\n| runs | median of %d (`go test -run=^$ -bench=. -benchmem -count=%d %s`) |\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), cpuModel(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, goVersion(), count, count, strings.Join(packages, " "))
	doc.WriteString("| benchmark | time per op | memory per op | allocations per op | other figures | what it measures |\n|---|---:|---:|---:|---|---|\n")
	for _, name := range order {
		r := results[name]
		var other []string
		for _, u := range r.units {
			switch u {
			case "ns/op", "B/op", "allocs/op":
			default:
				other = append(other, fmt.Sprintf("%s %s", strconv.FormatFloat(median(r.values[u]), 'f', -1, 64), u))
			}
		}
		fmt.Fprintf(&doc, "| %s | %s | %s | %.0f | %s | %s |\n", name, dur(median(r.values["ns/op"])), size(median(r.values["B/op"])),
			median(r.values["allocs/op"]), strings.Join(other, ", "), about[name])
	}
	doc.WriteString(`
The stand-ins are real servers on 127.0.0.1: local-kms (Go, in the test process) for KMS and
moto_server (Python, a child process, behind the stand-in's correcting proxy) for SES v2. The
invocation figures therefore include their latency; the difference between
BenchmarkInvocation and BenchmarkInvocationMaildir is roughly the SES round trip to moto.

To reproduce: ` + "`make bench`" + ` (needs moto_server; ` + "`make deps`" + ` installs the rest).
`)
	if err := os.MkdirAll("docs", 0o755); err != nil {
		return err
	}
	return os.WriteFile(outPath, []byte(doc.String()), 0o644)
}

func num(s string) float64 {
	v, _ := strconv.ParseFloat(s, 64)
	return v
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func dur(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}

func size(b float64) string {
	if b >= 1024 {
		return fmt.Sprintf("%.1f KiB", b/1024)
	}
	return fmt.Sprintf("%.0f B", b)
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			if _, v, ok := strings.Cut(l, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown CPU"
}

func goVersion() string {
	out, err := exec.Command("go", "version").Output()
	if err != nil {
		return runtime.Version()
	}
	return strings.TrimSpace(strings.TrimPrefix(string(out), "go version "))
}
