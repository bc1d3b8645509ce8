package benchrun

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// These tests check the harness's reading and reporting; they assert
// nothing about speed (only make bench holds figures to the budget).

const benchOut = `goos: linux
goarch: amd64
pkg: github.com/Phenom-earth/phenom-mailer/cmd/mailer
cpu: AMD EPYC
BenchmarkRenderAndMIME-2   	     787	   150000 ns/op	  360232 B/op	    5580 allocs/op
BenchmarkInvocation-2          	     200	   7637372 ns/op	         0 claim-ms/op	         1.766 decrypt-ms/op	         0.3175 kms-wait-ms/op	         2.5 own-ms/op	  883840 B/op	   16489 allocs/op
BenchmarkRenderAndMIME-2   	     787	   170000 ns/op	  360232 B/op	    5580 allocs/op
BenchmarkInvocation-2          	     200	   7000000 ns/op	         0 claim-ms/op	         1.5 decrypt-ms/op	         0.3 kms-wait-ms/op	         1.5 own-ms/op	  883840 B/op	   16489 allocs/op
BenchmarkRenderAndMIME-2   	     787	   160000 ns/op	  360232 B/op	    5580 allocs/op
BenchmarkInvocation-2          	     200	   7100000 ns/op	         0 claim-ms/op	         1.6 decrypt-ms/op	         0.3 kms-wait-ms/op	         1.9 own-ms/op	  883840 B/op	   16489 allocs/op
PASS
ok  	github.com/Phenom-earth/phenom-mailer/cmd/mailer	6.008s
pkg: github.com/Phenom-earth/phenom-mailer/internal/render
BenchmarkRender-2   	  80000	   15100 ns/op	  16179 B/op	     103 allocs/op
ok  	github.com/Phenom-earth/phenom-mailer/internal/render	2.1s
`

func TestParseBenchOutput(t *testing.T) {
	bs := ParseBenchOutput([]byte(benchOut))
	if len(bs) != 3 {
		t.Fatalf("got %d benchmarks, want 3", len(bs))
	}
	inv := bs[1]
	if inv.Name != "BenchmarkInvocation" || inv.Pkg != Module+"/cmd/mailer" || inv.Count() != 3 {
		t.Fatalf("second: %+v", inv)
	}
	if v, _ := inv.Median("own-ms/op"); v != 1.9 {
		t.Errorf("median own-ms/op = %v, want 1.9", v)
	}
	if v, _ := inv.Median("ns/op"); v != 7100000 {
		t.Errorf("median ns/op = %v", v)
	}
	if _, ok := inv.Median("nope"); ok {
		t.Error("a unit never reported has a median")
	}
	if bs[2].Pkg != Module+"/internal/render" {
		t.Errorf("third benchmark's package = %s", bs[2].Pkg)
	}
}

func TestParseBenchList(t *testing.T) {
	out := `BenchmarkRenderAndMIME
BenchmarkInvocation
BenchmarkLoad
ok  	github.com/Phenom-earth/phenom-mailer/cmd/mailer	0.1s
ok  	github.com/Phenom-earth/phenom-mailer/internal/cognito	0.1s
BenchmarkRender
ok  	github.com/Phenom-earth/phenom-mailer/internal/render	0.1s
?   	github.com/Phenom-earth/phenom-mailer/templates	[no test files]
`
	l := ParseBenchList([]byte(out))
	if got := strings.Join(l[Module+"/cmd/mailer"], ","); got != "BenchmarkRenderAndMIME,BenchmarkInvocation,BenchmarkLoad" {
		t.Errorf("cmd/mailer: %s", got)
	}
	if len(l[Module+"/internal/cognito"]) != 0 || len(l[Module+"/internal/render"]) != 1 {
		t.Errorf("list: %v", l)
	}
}

func TestBenchRegexp(t *testing.T) {
	if got := benchRegexp([]string{"BenchmarkB", "BenchmarkA"}); got != "^Benchmark(A|B)$" {
		t.Errorf("got %s", got)
	}
}

func TestBenchDocs(t *testing.T) {
	dir := t.TempDir()
	src := `package x

import "testing"

// BenchmarkThing is one thing done. It also does more.
func BenchmarkThing(b *testing.B) {}

func BenchmarkBare(b *testing.B) {}
`
	if err := os.WriteFile(filepath.Join(dir, "x_test.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	d := benchDocs(dir)
	if d["BenchmarkThing"] != "One thing done." || d["BenchmarkBare"] != "" {
		t.Errorf("docs: %q", d)
	}
}

func TestChecks(t *testing.T) {
	for _, tc := range []struct {
		c       Check
		ok      bool
		verdict string
	}{
		{Check{Value: 1.5, Limit: 2, Unit: "ms"}, true, "within budget"},
		{Check{Value: 2, Limit: 2, Unit: "ms"}, true, "within budget"},
		{Check{Value: 2.5, Limit: 2, Unit: "ms"}, false, "over by 0.50 ms (+25%)"},
		{Check{Value: 4, Limit: 5, Unit: "×", AtLeast: true}, false, "short by 1× (20%)"},
		{Check{Value: 6, Limit: 5, Unit: "×", AtLeast: true}, true, "within budget"},
		{Check{Limit: 64, Unit: "MiB", Missing: true}, false, "not measured"},
	} {
		if tc.c.OK() != tc.ok || tc.c.Verdict() != tc.verdict {
			t.Errorf("%+v: OK %v, verdict %q; want %v, %q", tc.c, tc.c.OK(), tc.c.Verdict(), tc.ok, tc.verdict)
		}
	}
}

func TestParseProfileTop(t *testing.T) {
	out := `File: mailer.test
Showing nodes accounting for 2.91s, 81.51% of 3.57s total
      flat  flat%   sum%        cum   cum%
         0     0%     0%      3s 83.19%  testing.(*B).runN
         0     0%     0%      2s 81.51%  github.com/Phenom-earth/phenom-mailer/internal/cognito.(*Handler).Handle
         0     0%     0%      1.00s 37.54%  github.com/Phenom-earth/phenom-mailer/internal/decrypt.(*Decrypter).Decrypt
     0.10s  2%     2%      500ms 17.37%  crypto/ecdsa.VerifyASN1
         0     0%     0%      0.40s 30.53%  github.com/Phenom-earth/phenom-mailer/internal/render.(*Renderer).Render (inline)
`
	rows := ParseProfileTop([]byte(out), 1000, profiles(1000)[0].Targets)
	got := map[string]ProfileRow{}
	for _, r := range rows {
		got[r.Func] = r
	}
	if h := got["internal/cognito.(*Handler).Handle"]; !h.Found || h.MSPerOp != 2 || h.Share != 1 {
		t.Errorf("handler: %+v", h)
	}
	if e := got["crypto/ecdsa.VerifyASN1"]; e.MSPerOp != 0.5 || e.Share != 0.25 {
		t.Errorf("ecdsa: %+v", e)
	}
	if r := got["internal/render.(*Renderer).Render"]; r.MSPerOp != 0.4 {
		t.Errorf("render: %+v", r)
	}
	if s := got["internal/send.(*SES).Deliver"]; s.Found {
		t.Errorf("SES found in a profile without it")
	}
}

// TestReportMarkdown renders a report with every kind of figure and checks
// that the budget verdicts and the missing inbox benchmarks are said.
func TestReportMarkdown(t *testing.T) {
	r := &Report{
		Date: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC), CPU: "CPU", Cores: 2, Machine: "linux/amd64",
		GoVer: "go1.26", Opts: DefaultOptions(t.TempDir()),
		Benches:   ParseBenchOutput([]byte(benchOut)),
		GoCmds:    []string{"go test -bench=x"},
		InboxNote: "internal/inbox has no Benchmark* functions yet.",
		RIE:       []rieRun{{ReadyMS: 10, HandledMS: 20, ClientMS: 22, InvokeMS: 21, WarmMS: []float64{3, 4}, WarmRIEMS: []float64{4, 5}}},
		Invoke:    []procRun{{Wall: 30 * time.Millisecond, Ready: 10 * time.Millisecond, Line: 28 * time.Millisecond, CPU: 21 * time.Millisecond, Outcome: map[string]any{"duration_ms": 12.0}}},
		Peer:      []procRun{{Wall: 300 * time.Millisecond, Outcome: map[string]any{"duration_ms": 80.0, "ready_ms": 150.0}}},
		InvokeMem: []int64{30 << 10}, PeerMem: []int64{70 << 10},
		InvokeLat:  []procRun{{Wall: 70 * time.Millisecond, Line: 60 * time.Millisecond, Outcome: map[string]any{"duration_ms": 45.0}}},
		PeerLat:    []procRun{{Wall: 420 * time.Millisecond, Line: 400 * time.Millisecond, Outcome: map[string]any{"duration_ms": 120.0}}},
		InitBefore: []InitTrace{{TotalMS: 26, SchemasMS: 9, Packages: 480}},
		InitAfter:  []InitTrace{{TotalMS: 12, SchemasMS: 4, Packages: 440, ByPackage: map[string]float64{"github.com/aws/aws-sdk-go-v2/service/kms/schemas": 4, "runtime": 0.5}}},
		ZipSize:    8 << 20, BootstrapSize: 30 << 20,
		SQS: sqsResult(),
	}
	r.Checks = r.check(DefaultBudget)
	md := r.Markdown()
	for _, want := range []string{
		"| render + MIME build per mail (BenchmarkRenderAndMIME) | 160 µs | ≤ 200 µs | within budget |",
		"| Node peer ÷ mailer, median wall time of a whole process | 10× | ≥ 5× | within budget |",
		"internal/inbox has no Benchmark* functions yet.",
		"| process start → handler ready, bootstrap under aws-lambda-rie (median) | 10 ms | ≤ 50 ms | within budget |",
		"| peak memory of one invocation, mailer invoke (GNU time %M, median) | 30 MiB | ≤ 64 MiB | within budget |",
		"| mailer ÷ Node peer, peak memory | 0.43× | ≤ 0.50× | within budget |",
		"| Node peer ÷ mailer, process start → first event handled, with 8ms per KMS and 20ms per SES call injected | 6.67× | ≥ 6× | within budget |",
		"| Lambda binary's package initialisation, this tree ÷ " + InitBaseline + " (GODEBUG=inittrace=1, summed, median) | 0.46× | ≤ 0.50× | within budget |",
		"| github.com/aws/aws-sdk-go-v2/service/kms/schemas | 4.00 ms |\n| runtime | 500 µs |",
		"Every figure is within budget.",
		"| mailer invoke: CPU time of the process | 21.0 ms | 21.0 ms – 21.0 ms | 1 | user + system time (rusage) of the whole cold process",
		"| SQS path: billed time per mail, a batch of 10 sent concurrently ÷ one at a time (RIE's REPORT Billed Duration, medians) | 0.17× | ≤ 0.25× | within budget |",
		"| SQS path: peak memory of a batch of 10 sent concurrently (the bootstrap's VmHWM, median) | 30 MiB | ≤ 64 MiB | within budget |",
		"| SQS path: paced send rate of one instance off its share, MAILER_SERVICE_RATE=14 over MAILER_SERVICE_CONCURRENCY=2 = 7/s | 0 % | ≤ 10 % | within budget |",
		"| SQS path: paced send rate of one instance off its share, MAILER_SERVICE_RATE=20 over MAILER_SERVICE_CONCURRENCY=1 = 20/s | 0 % | ≤ 10 % | within budget |",
		"| 20/s | 1 | 20/s | 0 | **20.00/s** | 0.0% | 50.0 ms | 50.0 ms |",
		"| **mails per second**, one instance invoked back to back | **91** | 16.4 |",
		"| SES SendEmail | 1.00 | 20.0 ms | 3.00 ms | 1.00 ms |",
		"| peak memory of the first batch, a cold start's (untimed) | 36.0 MiB | 33.0 MiB |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the doc lacks %q", want)
		}
	}
	if len(r.OverBudget()) != 0 {
		t.Errorf("over budget: %v", r.OverBudget())
	}

	// An over-budget figure is said, with by how much.
	r.Invoke[0].Wall = 100 * time.Millisecond
	r.Checks = r.check(DefaultBudget)
	over := r.OverBudget()
	if len(over) != 1 || !strings.Contains(over[0], "short by 2× (40%)") {
		t.Errorf("over budget: %v", over)
	}
	if md := r.Markdown(); !strings.Contains(md, "1 of 14 figures miss the budget") {
		t.Error("the doc does not say a figure misses the budget")
	}
}

// TestReportExplainsMissesByTheirFloors: a latency ratio and a package
// initialisation over budget are explained by what no change to the
// mailer removes: the SES stand-in's floor (the DKIM check, then
// SendEmail) and the libraries' own initialisation.
func TestReportExplainsMissesByTheirFloors(t *testing.T) {
	r := &Report{
		Date: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC), CPU: "CPU", Cores: 2, Machine: "linux/amd64",
		GoVer: "go1.26", Opts: DefaultOptions(t.TempDir()),
		InvokeLat:     []procRun{{Line: 75 * time.Millisecond, Outcome: map[string]any{"duration_ms": 60.0}}},
		PeerLat:       []procRun{{Line: 330 * time.Millisecond, Outcome: map[string]any{"duration_ms": 120.0}}},
		FloorIdentity: Series{25, 27}, FloorSend: Series{30, 32},
		InvokeExact: []procRun{{Line: 50 * time.Millisecond}},
		PeerExact:   []procRun{{Line: 320 * time.Millisecond}},
		InitBefore:  []InitTrace{{TotalMS: 11, Packages: 187, Bytes: 4_100_000, GCs: 1}},
		InitAfter: []InitTrace{{TotalMS: 9, Packages: 164, Bytes: 3_420_000, GCs: 1,
			ByPackage: map[string]float64{"github.com/gorilla/css/scanner": 0.6, "runtime": 0.1}}},
		InitFloor: []InitTrace{{TotalMS: 4.5, Packages: 129, Bytes: 2_410_000, GCs: 0,
			ByPackage: map[string]float64{"runtime": 0.1}}},
	}
	r.Checks = r.check(DefaultBudget)
	md := r.Markdown()
	for _, want := range []string{
		// 330 ÷ (26 + 31)
		"a mailer that started and decrypted in no time would reach **5.79×** the peer's median here and no more",
		"| floor: GetEmailIdentity (the DKIM check) through the slow stand-in | 26.0 ms | 25.0 ms – 27.0 ms | 2 |",
		"no mailer that waits for DKIM SUCCESS before its first send can pass 5.79× here",
		"the rest is 15.0 ms before the handler starts (the Go runtime, package initialisation, the setup) and 3.00 ms of the handler beyond the two calls",
		// 57 − 2 × 20; 320 ÷ 50
		"Those two calls cost 17.0 ms more than the 40.0 ms injected: moto's answer",
		"With every SES call answered in exactly 20.0 ms, the round trip the budget describes, the peer ÷ mailer ratio is **6.40×**. The budget is held to the ratio through moto above, not to this one.",
		"| mailer invoke: process start → first event handled, SES answering in exactly 20ms | 50.0 ms |",
		"With every SES call answered in exactly 20.0 ms (moto's own time taken out), the ratio is 6.40×.",
		"| **the libraries alone: package initialisation** | 4.50 ms |",
		"| this tree | 3.42 MB | 1 |",
		"| the libraries alone | 2.41 MB | 0 |",
		"the libraries the Lambda cannot do without take 4.50 ms alone (0.41× the baseline, 2.41 MB allocated, 0 GC cycles); this tree's inits allocate 3.42 MB and run 1 GC cycles.",
		"The largest initialisers the libraries alone do not have: github.com/gorilla/css/scanner 600 µs.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the doc lacks %q", want)
		}
	}
}

// sqsResult is an SQS step's result within budget.
func sqsResult() *SQSResult {
	s := &SQSResult{Date: time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC), Options: DefaultSQSOptions,
		Calls:          map[string]float64{"SES SendEmail": 1, "DynamoDB PutItem": 1},
		OverConcurrent: map[string]float64{"SES SendEmail": 3, "DynamoDB PutItem": 2},
		OverSerial:     map[string]float64{"SES SendEmail": 1, "DynamoDB PutItem": 0.5}}
	s.FirstConcurrent = []sqsBatch{{PeakKiB: 36 << 10}}
	s.FirstSerial = []sqsBatch{{PeakKiB: 33 << 10}}
	for i := 0; i < 3; i++ {
		s.Concurrent = append(s.Concurrent, sqsBatch{RoundTripMS: 110, Report: LambdaReport{BilledMS: 100}, PeakKiB: 30 << 10})
		s.Serial = append(s.Serial, sqsBatch{RoundTripMS: 610, Report: LambdaReport{BilledMS: 600}, PeakKiB: 25 << 10})
	}
	for _, ps := range s.Options.Pace {
		p := paceRun{PaceSetting: ps}
		for i := 0; i < ps.Batches*BatchSize; i++ {
			p.Sends = append(p.Sends, time.Duration(float64(i)/ps.PerInstance()*float64(time.Second)))
		}
		s.Pace = append(s.Pace, p)
	}
	return s
}

func TestParseInitTrace(t *testing.T) {
	out := `init internal/bytealg @0.010 ms, 0 ms clock, 0 bytes, 0 allocs
init runtime @0.14 ms, 0.066 ms clock, 0 bytes, 0 allocs
usage:
init github.com/aws/aws-sdk-go-v2/service/kms/schemas @4.0 ms, 0.47 ms clock, 339016 bytes, 1910 allocs
gc 1 @0.008s 7%: 0.44+3.2+0.11 ms clock, 0.88+0/1.7/0.87+0.23 ms cpu, 3->4->2 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P
init github.com/aws/aws-sdk-go-v2/service/kms/internal/endpoints @9.1 ms, 1.9 ms clock, 92224 bytes, 688 allocs
`
	got, err := ParseInitTrace(out)
	if err != nil {
		t.Fatal(err)
	}
	if got.ByPackage["github.com/aws/aws-sdk-go-v2/service/kms/internal/endpoints"] != 1.9 {
		t.Errorf("per package: %v", got.ByPackage)
	}
	if got.Packages != 4 || math.Abs(got.TotalMS-2.436) > 1e-9 || got.SchemasMS != 0.47 {
		t.Errorf("got %+v, want 4 packages, 2.436 ms in all, 0.47 ms in schemas", got)
	}
	if got.Bytes != 339016+92224 || got.GCs != 1 {
		t.Errorf("got %d bytes and %d GC cycles, want %d and 1", got.Bytes, got.GCs, 339016+92224)
	}
	if _, err := ParseInitTrace("usage: mailer\n"); err == nil {
		t.Error("no init lines: no error")
	}
	if _, err := ParseInitTrace("init runtime @0.14 ms, x ms clock, 0 bytes, 0 allocs\n"); err == nil {
		t.Error("a malformed duration: no error")
	}
}
