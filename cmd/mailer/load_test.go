package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/cognito"
	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// The load run: at least 1,000 events at a concurrency of 50 through the
// real handler, against local-kms, moto's SES v2 and the idempotency table
// on moto's DynamoDB, a tenth of them delivered twice. TestLoad asserts that
// nothing is lost and nothing doubled; BenchmarkLoad reports throughput and
// latency for docs/benchmarks.md.

const (
	loadDistinct    = 910
	loadDuplicates  = 91 // 1,001 deliveries in all
	loadConcurrency = 50
)

type loadResult struct {
	outcomes  map[string]int
	latencies []time.Duration
	elapsed   time.Duration
	codes     []string // the code of each distinct event
}

var codeLine = regexp.MustCompile(`(?m)^Your code: (\d{6})\s*$`)

func runLoad(t testing.TB) loadResult {
	t.Helper()
	needStack(t)
	newFaultStack(t, true, nil)

	// Distinct Cognito-shaped ciphertexts from the Node Encryption SDK.
	cases := make([]standin.NodeCase, loadDistinct)
	codes := make([]string, loadDistinct)
	for i := range cases {
		codes[i] = fmt.Sprintf("%06d", 100000+i*7)
		cases[i] = standin.NodeCase{Name: codes[i], Suite: standin.SuiteCognito, Pool: standin.StagingPool, KeyID: standin.StagingKeyID, Plaintext: codes[i]}
	}
	minted, err := standin.EncryptWithNode(context.Background(), kmsStandin.URL, cases)
	if err != nil {
		standin.SkipOrFail(t, err)
	}
	base := readEvent(t, "ForgotPassword")
	events := make([][]byte, 0, loadDistinct+loadDuplicates)
	for _, m := range minted {
		base["request"].(map[string]any)["code"] = m.Ciphertext
		b, _ := json.Marshal(base)
		events = append(events, b)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < loadDuplicates; i++ {
		events = append(events, events[rng.IntN(loadDistinct)])
	}
	rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })

	h := handlerFromEnv(t)
	res := loadResult{outcomes: map[string]int{}, codes: codes}
	var mu sync.Mutex
	work := make(chan []byte)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < loadConcurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ev := range work {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				t0 := time.Now()
				r := h.HandleJSON(ctx, ev)
				d := time.Since(t0)
				cancel()
				mu.Lock()
				res.outcomes[r.Outcome]++
				res.latencies = append(res.latencies, d)
				mu.Unlock()
			}
		}()
	}
	for _, ev := range events {
		work <- ev
	}
	close(work)
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p)]
}

func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load run (-short)")
	}
	res := runLoad(t)
	if res.outcomes[cognito.OutcomeSent] != loadDistinct || res.outcomes[cognito.OutcomeDuplicate] != loadDuplicates {
		t.Fatalf("outcomes %v; want %d sent and %d duplicate", res.outcomes, loadDistinct, loadDuplicates)
	}
	// Every distinct event's code arrived exactly once: zero lost, zero doubled.
	seen := map[string]int{}
	for _, raw := range sentMails(t) {
		env := parseMail(t, raw)
		m := codeLine.FindStringSubmatch(env.Text)
		if m == nil {
			t.Fatal("a mail without a code line")
		}
		seen[m[1]]++
	}
	lost, doubled := 0, 0
	for _, c := range res.codes {
		switch n := seen[c]; {
		case n == 0:
			lost++
		case n > 1:
			doubled++
		}
	}
	if lost != 0 || doubled != 0 || len(seen) != loadDistinct {
		t.Fatalf("%d lost, %d doubled, %d distinct codes delivered (want 0, 0, %d)", lost, doubled, len(seen), loadDistinct)
	}
	t.Logf("%d deliveries in %v: %.0f/s, p50 %v, p99 %v", len(res.latencies), res.elapsed.Round(time.Millisecond),
		float64(len(res.latencies))/res.elapsed.Seconds(), percentile(res.latencies, 0.5), percentile(res.latencies, 0.99))
}

// BenchmarkLoad reports the load run's figures; it runs the whole load once
// whatever b.N is.
func BenchmarkLoad(b *testing.B) {
	res := runLoad(b)
	b.ReportMetric(float64(len(res.latencies))/res.elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(percentile(res.latencies, 0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(res.latencies, 0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(res.outcomes[cognito.OutcomeSent]), "sent")
	b.ReportMetric(float64(res.outcomes[cognito.OutcomeDuplicate]), "duplicates")
}
