package benchrun

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// ProfileRow is the CPU time per invocation spent under one function, from
// a CPU profile of a warm-invocation benchmark (cumulative: the function and
// everything it calls).
type ProfileRow struct {
	Label    string
	Func     string  // the function (pprof's name), for the reader
	MSPerOp  float64 // CPU milliseconds per invocation
	Share    float64 // of the handler's CPU time
	Found    bool
	isHandle bool
}

// Target is a function whose cumulative CPU time a profile table shows.
type Target struct{ Label, Func string }

// Profile is one CPU-profiled benchmark and the functions the doc shows;
// the first target is the whole (100%).
type Profile struct {
	Bench   string
	Ops     int
	About   string
	Targets []Target
	Rows    []ProfileRow
	Cmd     string
}

// profiles are the CPU profiles make bench takes: the warm invocation,
// from the whole handler down to the suspects, and the setup a cold start
// runs before its first event.
func profiles(invocationOps int) []*Profile {
	return []*Profile{
		{
			Bench: "BenchmarkInvocation", Ops: invocationOps,
			About: "where the mailer's own work per warm invocation goes",
			Targets: []Target{
				{"the handler, all of it (CPU only: waiting is not in a CPU profile)", "internal/cognito.(*Handler).Handle"},
				{"decrypt (Encryption SDK, KMS client)", "internal/decrypt.(*Decrypter).Decrypt"},
				{"· ECDSA P-384 verification of the message signature (suite 0x0378)", "crypto/ecdsa.VerifyASN1"},
				{"· building KMS keyrings (pooled: only when the pool is empty)", "internal/decrypt.(*Decrypter).keyring"},
				{"· the KMS client call (request, signing, parsing)", "service/kms.(*Client).Decrypt"},
				{"render", "internal/render.(*Renderer).Render"},
				{"· CSS inlining (scan, then the structure's plan)", "internal/render.(*inliner).inline"},
				{"MIME build (and DKIM signing when on)", "internal/send.(*Sender).Build"},
				{"SES client (request, signing, parsing)", "internal/send.(*SES).Deliver"},
			},
		},
		{
			Bench: "BenchmarkNewHandler", Ops: 40,
			About: "where the setup before the first event goes (process start → handler ready, less the Go runtime)",
			Targets: []Target{
				{"the whole setup (newHandler)", "cmd/mailer.newHandler"},
				{"AWS configuration from the environment", "aws-sdk-go-v2/config.LoadDefaultConfig"},
				{"Encryption SDK clients", "internal/decrypt.New"},
				{"templates (render.New)", "internal/render.New"},
				{"· rendering every template to check it", "internal/render.(*Renderer).Render"},
				{"· scanning for the CSS inliner (the trial renders learn no plan)", "internal/render.scan"},
			},
		},
	}
}

// pprofTop matches a `go tool pprof -top -cum` line: flat flat% sum% cum cum% name.
var pprofTop = regexp.MustCompile(`^\s*([0-9.]+)(ns|us|µs|ms|s)?\s+[0-9.]+%\s+[0-9.]+%\s+([0-9.]+)(ns|us|µs|ms|s)?\s+[0-9.]+%\s+(.+)$`)

func toSeconds(v float64, unit string) float64 {
	switch unit {
	case "ns":
		return v / 1e9
	case "us", "µs":
		return v / 1e6
	case "ms":
		return v / 1e3
	}
	return v
}

// ParseProfileTop turns `go tool pprof -top -cum` output into rows for the
// targets, per operation of a benchmark that ran ops times; shares are of
// the first target.
func ParseProfileTop(out []byte, ops int, targets []Target) []ProfileRow {
	cum := map[string]float64{}
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := pprofTop.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v, _ := strconv.ParseFloat(m[3], 64)
		name := strings.TrimSuffix(strings.TrimSpace(m[5]), " (inline)")
		if _, ok := cum[name]; !ok {
			names = append(names, name)
		}
		cum[name] += toSeconds(v, m[4])
	}
	var rows []ProfileRow
	handler := 0.0
	for i, t := range targets {
		r := ProfileRow{Label: t.Label, Func: t.Func, isHandle: i == 0}
		for _, n := range names {
			if strings.HasSuffix(n, t.Func) {
				r.MSPerOp += cum[n] * 1e3 / float64(ops)
				r.Found = true
			}
		}
		if i == 0 {
			handler = r.MSPerOp
		}
		if handler > 0 {
			r.Share = r.MSPerOp / handler
		}
		rows = append(rows, r)
	}
	return rows
}

// run CPU-profiles the benchmark for p.Ops operations and reads the
// profile's cumulative times.
func (p *Profile) run(ctx context.Context, goCmd, root, scratch string, log io.Writer) error {
	prof := filepath.Join(scratch, p.Bench+".pprof")
	bin := filepath.Join(scratch, "mailer.test")
	args := []string{"test", "-run=^$", "-bench=^" + p.Bench + "$", "-benchtime=" + strconv.Itoa(p.Ops) + "x", "-count=1",
		"-cpuprofile=" + prof, "-o", bin, "./cmd/mailer/"}
	if _, err := goTool(ctx, goCmd, root, nil, log, args...); err != nil {
		return err
	}
	out, err := goTool(ctx, goCmd, root, nil, io.Discard, "tool", "pprof", "-top", "-cum", "-nodecount=100000", bin, prof)
	if err != nil {
		return err
	}
	p.Rows = ParseProfileTop(out, p.Ops, p.Targets)
	p.Cmd = "go test -run='^$' -bench='^" + p.Bench + "$' -benchtime=" + strconv.Itoa(p.Ops) + "x -cpuprofile=cpu.pprof ./cmd/mailer/ && go tool pprof -top -cum mailer.test cpu.pprof"
	return nil
}
