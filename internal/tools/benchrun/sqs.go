package benchrun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// The SQS path (issue 12, item 8): the real bootstrap under aws-lambda-rie
// serving the send queue (MAILER_SERVICE=true), invoked with SQS events of
// BatchSize send requests, against moto (SES v2 and DynamoDB, one
// moto_server each) and local-kms behind fault proxies that hold every SES
// call SESLatency, every DynamoDB call DynamoLatency and every KMS call
// KMSLatency.

// DynamoLatency is injected into every DynamoDB call (KMSLatency into every
// KMS call; the service path makes none).
const DynamoLatency = 8 * time.Millisecond

// SQS run settings.
const (
	BatchSize = 10 // the event source mapping's batch size
	// benchMaxSendRate is the stand-in account's SES MaxSendRate in the SQS
	// runs (the stand-in's default, 14, would pace every run): high enough
	// that only MAILER_SERVICE_RATE paces.
	benchMaxSendRate = 1000.0
	benchQueueARN    = "arn:aws:sqs:" + standin.Region + ":111122223333:phenom-mailer-bench-send"
	idempotencyTable = "phenom-mailer-bench-idempotency"
	deliveryTable    = "phenom-mailer-bench-deliveries"
	// sesMotos is how many moto_server processes answer SES, in turn.
	sesMotos = 2
)

// SQSOptions says how much the SQS step runs.
type SQSOptions struct {
	// Pairs of batches: one with MAILER_SERVICE_BATCH_PARALLEL=10, one with
	// =1, alternating, each pair after one untimed pair.
	Pairs int
	// CannedPairs more pairs have SendEmail, PutItem and UpdateItem
	// answered by the harness after the injected latency, without moto.
	CannedPairs int
	// Pace are the pacing runs, one RIE each.
	Pace []PaceSetting
}

// PaceSetting is one pacing run: MAILER_SERVICE_RATE=Rate and
// MAILER_SERVICE_CONCURRENCY=Concurrency (so one instance may send
// Rate/Concurrency mails a second), Batches batches back to back.
type PaceSetting struct {
	Rate        float64
	Concurrency int
	Batches     int
}

// PerInstance is the rate one instance is paced to.
func (p PaceSetting) PerInstance() float64 {
	if p.Concurrency < 1 {
		return p.Rate
	}
	return p.Rate / float64(p.Concurrency)
}

// DefaultSQSOptions are make bench's: the pacing at deploy/terraform's
// defaults (ses_max_send_rate 14 over service_max_concurrency 2), and one
// instance with 20 a second of its own.
var DefaultSQSOptions = SQSOptions{Pairs: 15, CannedPairs: 10, Pace: []PaceSetting{{Rate: 14, Concurrency: 2, Batches: 10}, {Rate: 20, Concurrency: 1, Batches: 15}}}

// paceRun is what one pacing run measured.
type paceRun struct {
	PaceSetting
	Batches []sqsBatch
	// Sends are the SendEmail arrivals at the SES stand-in, from the
	// first, in order.
	Sends []time.Duration
}

// SQSResult is what the SQS step measured.
type SQSResult struct {
	Date    time.Time
	Commit  string
	Load    [2]string // 1-minute load average before and after
	Options SQSOptions
	Env     []string // the bootstrap's MAILER_* settings common to every run

	Concurrent, Serial []sqsBatch // PARALLEL=10, PARALLEL=1
	// CannedConcurrent and CannedSerial are the same with SendEmail,
	// PutItem and UpdateItem answered by the harness after the injected
	// latency instead of by moto.
	CannedConcurrent, CannedSerial []sqsBatch
	// FirstConcurrent, FirstSerial: the untimed first batch of each RIE,
	// the one its bootstrap's cold start handles (its VmHWM counts the
	// process's start too, and the raised garbage-collector target of a
	// cold start: cmd/mailer coldgc.go).
	FirstConcurrent, FirstSerial []sqsBatch
	Pace                         []paceRun
	// Calls are the AWS calls each mail made, by operation ("SES
	// SendEmail", "DynamoDB PutItem"), counted at the stand-ins over the
	// timed batches (both settings), per mail.
	Calls map[string]float64
	// Over is each operation's median time at the stand-in beyond the
	// injected latency (moto's own answer, its queueing included), in the
	// concurrent and the serial batches.
	OverConcurrent, OverSerial map[string]float64
	Mails                      int // mails moto accepted; checked against the messages sent
}

// sqsBatch is one invocation with one batch.
type sqsBatch struct {
	RoundTripMS float64 // the Invoke request as its client saw it
	Report      LambdaReport
	PeakKiB     int64   // the bootstrap's VmHWM after the batch, reset just before it
	CPUMS       float64 // the bootstrap's CPU time (user + system) over the invocation, 10 ms ticks
	MotoCPUMS   float64 // both moto_server processes', likewise
	SESMotoCPU  float64 // of which the SES one's
	// IdleMS is the time since the previous invocation's answer (this
	// harness between the two), 0 for the first.
	IdleMS float64
	// MailMS is each mail's own duration_ms, from the bootstrap's
	// "service mail ..." log lines of this invocation.
	MailMS []float64
}

// awsFront sits in front of one stand-in's fault proxy: it names, counts
// and times each call, sets GetAccount's MaxSendRate to benchMaxSendRate
// (SES), and in the "-canned" phases answers the writes itself
// (cannedAnswer).
type awsFront struct {
	URL     string
	service string
	srv     *http.Server
	rps     []*httputil.ReverseProxy // one per backend
	route   func(*http.Request) int  // which backend takes a request
	mu      sync.Mutex
	phase   string
	calls   map[string]map[string]int       // phase → op → count
	times   map[string]map[string][]float64 // phase → op → ms
	sends   []time.Time                     // SendEmail arrivals
}

func startFront(service string, targets []string, route func(*http.Request) int) (*awsFront, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &awsFront{URL: "http://" + l.Addr().String(), service: service, route: route,
		calls: map[string]map[string]int{}, times: map[string]map[string][]float64{}}
	for _, t := range targets {
		u, err := url.Parse(t)
		if err != nil {
			l.Close()
			return nil, err
		}
		rp := httputil.NewSingleHostReverseProxy(u)
		rp.Transport = &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}
		rp.ErrorLog = log.New(io.Discard, "", 0)
		if service == "SES" {
			rp.ModifyResponse = raiseSendRate
		}
		f.rps = append(f.rps, rp)
	}
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	go f.srv.Serve(l)
	return f, nil
}

// roundRobin spreads requests over n backends in turn.
func roundRobin(n int) func(*http.Request) int {
	var mu sync.Mutex
	next := 0
	return func(*http.Request) int {
		mu.Lock()
		defer mu.Unlock()
		i := next
		next = (next + 1) % n
		return i
	}
}

// byTable sends a DynamoDB request to the backend of its TableName (the
// order of tables), the first when it names none of them.
func byTable(tables ...string) func(*http.Request) int {
	return func(r *http.Request) int {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(b))
		if err != nil {
			return 0
		}
		var in struct{ TableName string }
		_ = json.Unmarshal(b, &in)
		for i, t := range tables {
			if in.TableName == t {
				return i
			}
		}
		return 0
	}
}

func (f *awsFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := f.service + " " + operation(r)
	t0 := time.Now()
	f.mu.Lock()
	canned := strings.HasSuffix(f.phase, "-canned")
	f.mu.Unlock()
	if body, ok := cannedAnswer(op); canned && ok {
		// Answered here after the injected latency, without moto: what
		// the mailer does when the services answer side by side.
		io.Copy(io.Discard, r.Body)
		time.Sleep(injected(op))
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		if f.service == "SES" {
			w.Header().Set("Content-Type", "application/json")
		}
		io.WriteString(w, body)
	} else {
		i := 0
		if f.route != nil {
			i = f.route(r)
		}
		f.rps[i].ServeHTTP(w, r)
	}
	d := msOf(time.Since(t0))
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls[f.phase] == nil {
		f.calls[f.phase], f.times[f.phase] = map[string]int{}, map[string][]float64{}
	}
	f.calls[f.phase][op]++
	f.times[f.phase][op] = append(f.times[f.phase][op], d)
	if op == "SES SendEmail" && f.phase == "pace" {
		f.sends = append(f.sends, t0)
	}
}

// cannedAnswer is the answer to op in the "-canned" phases: SendEmail's
// message id, and DynamoDB's empty answer to a PutItem or UpdateItem that
// succeeded (the mailer reads nothing from either). Other calls go to moto.
func cannedAnswer(op string) (string, bool) {
	switch op {
	case "SES SendEmail":
		return `{"MessageId":"0100018c-bench-canned-0000000000000000"}`, true
	case "DynamoDB PutItem", "DynamoDB UpdateItem":
		return `{}`, true
	}
	return "", false
}

func (f *awsFront) setPhase(p string) {
	f.mu.Lock()
	f.phase = p
	f.mu.Unlock()
}

func (f *awsFront) close() { f.srv.Close() }

// operation names an AWS call: the JSON protocols' X-Amz-Target, or SES
// v2's REST path.
func operation(r *http.Request) string {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		_, op, _ := strings.Cut(t, ".")
		return op
	}
	p := r.URL.Path
	switch {
	case r.Method == http.MethodPost && p == "/v2/email/outbound-emails":
		return "SendEmail"
	case r.Method == http.MethodGet && p == "/v2/email/account":
		return "GetAccount"
	case r.Method == http.MethodGet && strings.HasPrefix(p, "/v2/email/identities/"):
		return "GetEmailIdentity"
	case r.Method == http.MethodGet && strings.HasPrefix(p, "/v2/email/suppression/addresses/"):
		return "GetSuppressedDestination"
	}
	seg := strings.Split(strings.Trim(p, "/"), "/")
	if len(seg) > 3 {
		seg = seg[:3]
	}
	return r.Method + " /" + strings.Join(seg, "/")
}

// raiseSendRate sets GetAccount's SendQuota.MaxSendRate to benchMaxSendRate.
func raiseSendRate(resp *http.Response) error {
	if resp.Request.Method != http.MethodGet || resp.Request.URL.Path != "/v2/email/account" || resp.StatusCode != 200 {
		return nil
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return err
	}
	if q, ok := doc["SendQuota"].(map[string]any); ok {
		q["MaxSendRate"] = benchMaxSendRate
	}
	if b, err = json.Marshal(doc); err != nil {
		return err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
	return nil
}

// sqsStack is the stand-ins of the SQS runs.
type sqsStack struct {
	kms *standin.KMS
	// sesMotos serve SES, in turn; tableMotos DynamoDB, one moto_server
	// per table: SES and DynamoDB answer one sender's concurrent calls side
	// by side, where one moto_server takes them one after another.
	sesMotos, tableMotos  []*standin.Moto
	home                  string
	slow                  []*standin.FaultProxy
	ses, dynamo, kmsFront *awsFront
}

func startSQSStack(ctx context.Context, scratch string) (*sqsStack, error) {
	seed, err := standin.LoadSeed()
	if err != nil {
		return nil, err
	}
	s := &sqsStack{home: filepath.Join(scratch, "home-sqs")}
	if err := os.MkdirAll(s.home, 0o755); err != nil {
		return nil, err
	}
	if s.kms, err = standin.StartKMS(seed, filepath.Join(scratch, "kms-sqs")); err != nil {
		return nil, err
	}
	for i := 0; i < sesMotos; i++ {
		m, err := standin.StartMoto(ctx, standin.MotoOptions{})
		if err != nil {
			s.close()
			return nil, err
		}
		s.sesMotos = append(s.sesMotos, m)
		if err := m.CreateDKIMIdentity(ctx, "thephenom.app"); err != nil {
			s.close()
			return nil, err
		}
	}
	for _, create := range []func(*standin.Moto) error{
		func(m *standin.Moto) error { return m.CreateIdempotencyTable(ctx, idempotencyTable) },
		func(m *standin.Moto) error { return m.CreateDeliveryTable(ctx, deliveryTable) },
	} {
		m, err := standin.StartMoto(ctx, standin.MotoOptions{})
		if err != nil {
			s.close()
			return nil, err
		}
		s.tableMotos = append(s.tableMotos, m)
		if err := create(m); err != nil {
			s.close()
			return nil, err
		}
	}
	front := func(service string, targets []string, d time.Duration, route func(*http.Request) int) (*awsFront, error) {
		var slow []string
		for _, t := range targets {
			p, err := standin.StartFaultProxy(t, nil)
			if err != nil {
				return nil, err
			}
			s.slow = append(s.slow, p)
			p.Always(&standin.Fault{Kind: standin.Delay, Delay: d})
			slow = append(slow, p.URL)
		}
		return startFront(service, slow, route)
	}
	urls := func(ms []*standin.Moto) []string {
		var u []string
		for _, m := range ms {
			u = append(u, m.URL)
		}
		return u
	}
	if s.ses, err = front("SES", urls(s.sesMotos), SESLatency, roundRobin(len(s.sesMotos))); err == nil {
		if s.dynamo, err = front("DynamoDB", urls(s.tableMotos), DynamoLatency, byTable(idempotencyTable, deliveryTable)); err == nil {
			s.kmsFront, err = front("KMS", []string{s.kms.URL}, KMSLatency, nil)
		}
	}
	if err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// sentEmails counts the mails the SES moto_servers accepted.
func (s *sqsStack) sentEmails() (int, error) {
	n := 0
	for _, m := range s.sesMotos {
		mails, err := m.SentEmails()
		if err != nil {
			return 0, err
		}
		n += len(mails)
	}
	return n, nil
}

// pids are the moto_server processes of ms.
func pids(ms []*standin.Moto) []int {
	var p []int
	for _, m := range ms {
		p = append(p, motoPIDs(m.BackendURL)...)
	}
	return p
}

func (s *sqsStack) setPhase(p string) {
	for _, f := range []*awsFront{s.ses, s.dynamo, s.kmsFront} {
		f.setPhase(p)
	}
}

func (s *sqsStack) close() {
	for _, f := range []*awsFront{s.ses, s.dynamo, s.kmsFront} {
		if f != nil {
			f.close()
		}
	}
	for _, p := range s.slow {
		p.Close()
	}
	for _, m := range append(append([]*standin.Moto(nil), s.sesMotos...), s.tableMotos...) {
		m.Close()
	}
	if s.kms != nil {
		s.kms.Close()
	}
}

// serviceSettings are the send function's settings common to every SQS
// run (the rest is AWS plumbing).
func serviceSettings() []string {
	return []string{
		"MAILER_SERVICE=true",
		"MAILER_IDEMPOTENCY_TABLE=" + idempotencyTable,
		"MAILER_DELIVERY_TABLE=" + deliveryTable,
		"MAILER_ENVIRONMENT=bench",
	}
}

// env is the bootstrap's whole environment: the send function's settings
// pointed at the slow stand-ins. Nothing is inherited but PATH.
func (s *sqsStack) env(extra ...string) []string {
	e := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + s.home,
		"AWS_REGION=" + standin.Region,
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL_KMS=" + s.kmsFront.URL,
		"AWS_ENDPOINT_URL_SESV2=" + s.ses.URL,
		"AWS_ENDPOINT_URL_DYNAMODB=" + s.dynamo.URL,
	}
	e = append(e, serviceSettings()...)
	return append(e, extra...)
}

// sqsRIE is one aws-lambda-rie with the bootstrap, invoked with batches.
type sqsRIE struct {
	cmd       *exec.Cmd
	done      chan struct{}
	out       *standin.LockedBuffer
	invokeURL string
	client    *http.Client
	invokes   int
	pid       int       // the bootstrap's, after the first invocation
	seen      int       // bytes of out already read for mail lines
	lastEnd   time.Time // when the last answer arrived
}

func startSQSRIE(rie, bootstrap string, env []string) (*sqsRIE, error) {
	invokeAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	apiAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	r := &sqsRIE{out: &standin.LockedBuffer{}, done: make(chan struct{}),
		invokeURL: "http://" + invokeAddr + "/2015-03-31/functions/function/invocations",
		client:    &http.Client{Timeout: 60 * time.Second}}
	r.cmd = exec.Command(rie, "--runtime-interface-emulator-address", invokeAddr, "--runtime-api-address", apiAddr, bootstrap)
	r.cmd.Env, r.cmd.Dir = env, filepath.Dir(bootstrap)
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { r.cmd.Wait(); close(r.done) }()
	return r, nil
}

func (r *sqsRIE) close() { stopRIE(r.cmd.Process.Pid, r.done) }

// invoke sends one SQS event and checks that every message was handled for
// good (no batchItemFailures). With full, the bootstrap's VmHWM is reset
// just before and read just after, its CPU time and RIE's REPORT line
// read; without, it returns as soon as the answer is checked (the pacing
// runs, where the time between batches counts).
func (r *sqsRIE) invoke(ctx context.Context, event []byte, full bool) (sqsBatch, error) {
	var b sqsBatch
	if !r.lastEnd.IsZero() {
		b.IdleMS = msOf(time.Since(r.lastEnd))
	}
	cpu0, cpuErr := -1.0, error(nil)
	if r.pid != 0 && full {
		cpu0, cpuErr = cpuMS(r.pid)
	}
	if full && r.pid != 0 {
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", r.pid), []byte("5"), 0); err != nil {
			return b, fmt.Errorf("reset the bootstrap's peak memory: %w", err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	var body []byte
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.invokeURL, bytes.NewReader(event))
		if err != nil {
			return b, err
		}
		t0 := time.Now()
		resp, err := r.client.Do(req)
		if err != nil {
			var op *net.OpError
			if errors.As(err, &op) && op.Op == "dial" && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond) // RIE is not listening yet
				continue
			}
			return b, fmt.Errorf("invoke: %w\n%s", err, tail(r.out.String(), 2000))
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		r.lastEnd = time.Now()
		b.RoundTripMS = msOf(r.lastEnd.Sub(t0))
		if resp.StatusCode != 200 || resp.Header.Get("X-Amz-Function-Error") != "" {
			return b, fmt.Errorf("invoke: HTTP %d, function error %q: %s\n%s", resp.StatusCode, resp.Header.Get("X-Amz-Function-Error"), clip(string(body), 500), tail(r.out.String(), 3000))
		}
		break
	}
	r.invokes++
	var answer struct {
		BatchItemFailures *[]struct {
			ItemIdentifier string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(body, &answer); err != nil || answer.BatchItemFailures == nil {
		return b, fmt.Errorf("the bootstrap answered %q, not {\"batchItemFailures\":[...]} (does it serve the send queue?)\n%s", clip(string(body), 300), tail(r.out.String(), 3000))
	}
	if n := len(*answer.BatchItemFailures); n > 0 {
		return b, fmt.Errorf("%d of the batch's messages failed: %s\n%s", n, clip(string(body), 300), tail(r.out.String(), 3000))
	}
	if r.pid == 0 {
		if kids := childrenOf(r.cmd.Process.Pid); len(kids) == 1 {
			r.pid = kids[0]
		} else {
			return b, fmt.Errorf("aws-lambda-rie has %d children, want the bootstrap alone", len(kids))
		}
	}
	if !full {
		return b, nil
	}
	if cpu1, err := cpuMS(r.pid); err == nil && cpuErr == nil && cpu0 >= 0 {
		b.CPUMS = cpu1 - cpu0
	}
	kib, err := vmHWM(r.pid)
	if err != nil {
		return b, err
	}
	b.PeakKiB = kib
	// RIE writes the REPORT line after answering.
	for end := time.Now().Add(5 * time.Second); ; {
		out := r.out.String()
		if rs := ParseReports(out); len(rs) >= r.invokes {
			b.Report = rs[r.invokes-1]
			b.MailMS = MailDurations(out[r.seen:])
			r.seen = len(out)
			return b, nil
		}
		if time.Now().After(end) {
			return b, fmt.Errorf("RIE wrote %d REPORT lines after %d invocations\n%s", len(ParseReports(r.out.String())), r.invokes, tail(r.out.String(), 2000))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// MailDurations are the duration_ms of the mailer's "service mail ..."
// log lines (one JSON object a line) in out; other lines are skipped.
func MailDurations(out string) []float64 {
	var ds []float64
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "{") || !strings.Contains(l, `"service mail `) {
			continue
		}
		var line struct {
			Message    string   `json:"message"`
			DurationMS *float64 `json:"duration_ms"`
		}
		if json.Unmarshal([]byte(l), &line) == nil && strings.HasPrefix(line.Message, "service mail ") && line.DurationMS != nil {
			ds = append(ds, *line.DurationMS)
		}
	}
	return ds
}

// vmHWM is a process's peak resident set (VmHWM in /proc/PID/status), KiB.
func vmHWM(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// batcher makes the batches: distinct message ids and recipients.
type batcher struct {
	n      int
	sent   int // messages handed out
	canned int // of which sent in the -canned phases (not to moto)
}

func (bt *batcher) next() ([]byte, error) {
	msgs := make([]QueueMessage, BatchSize)
	for i := range msgs {
		body, err := BenchRequest(bt.n, "bench")
		if err != nil {
			return nil, err
		}
		msgs[i] = QueueMessage{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", bt.n), Body: body}
		bt.n++
	}
	bt.sent += BatchSize
	return BuildSQSEvent(benchQueueARN, msgs, time.Now())
}

// runSQS measures the SQS path.
func (r *Report) runSQS(ctx context.Context, scratch string) error {
	o := r.Opts
	res := &SQSResult{Date: time.Now().UTC(), Commit: commitOf(ctx, o.Root), Options: o.SQS, Env: serviceSettings()}
	res.Load[0] = loadAverage()
	r.SQS = res
	rie, err := findRIE(o.Root)
	if err != nil {
		return err
	}
	bin := filepath.Join(scratch, "bootstrap-sqs")
	if err := buildMailer(ctx, o.Go, o.Root, bin, o.Log); err != nil {
		return err
	}
	st, err := startSQSStack(ctx, scratch)
	if err != nil {
		return err
	}
	defer st.close()
	sesMoto := pids(st.sesMotos)
	moto := append(append([]int(nil), sesMoto...), pids(st.tableMotos)...)
	if len(sesMoto) < len(st.sesMotos) || len(moto) < len(st.sesMotos)+len(st.tableMotos) {
		return errors.New("the moto_server processes were not found in /proc")
	}

	bt := &batcher{}
	conc, err := startSQSRIE(rie, bin, st.env("MAILER_SERVICE_BATCH_PARALLEL=10", "MAILER_SERVICE_CONCURRENCY=1"))
	if err != nil {
		return err
	}
	defer conc.close()
	ser, err := startSQSRIE(rie, bin, st.env("MAILER_SERVICE_BATCH_PARALLEL=1", "MAILER_SERVICE_CONCURRENCY=1"))
	if err != nil {
		return err
	}
	defer ser.close()
	one := func(x *sqsRIE, phase string, out *[]sqsBatch) error {
		ev, err := bt.next()
		if err != nil {
			return err
		}
		st.setPhase(phase)
		m0, s0 := sumCPU(moto), sumCPU(sesMoto)
		b, err := x.invoke(ctx, ev, true)
		b.MotoCPUMS, b.SESMotoCPU = sumCPU(moto)-m0, sumCPU(sesMoto)-s0
		st.setPhase("")
		if err != nil {
			return fmt.Errorf("%s batch: %w", phase, err)
		}
		if out != nil {
			*out = append(*out, b)
		}
		return nil
	}
	// One untimed pair: the cold starts, the DKIM check and GetAccount
	// (kept for their peak memory only).
	if err := one(conc, "warm-up", &res.FirstConcurrent); err != nil {
		return err
	}
	if err := one(ser, "warm-up", &res.FirstSerial); err != nil {
		return err
	}
	for i := 0; i < o.SQS.Pairs; i++ {
		if err := one(conc, "concurrent", &res.Concurrent); err != nil {
			return err
		}
		if err := one(ser, "serial", &res.Serial); err != nil {
			return err
		}
	}
	// The same, with SendEmail, PutItem and UpdateItem answered by the
	// counting proxies after the injected latency, without moto.
	for i := 0; i < o.SQS.CannedPairs; i++ {
		if err := one(conc, "concurrent-canned", &res.CannedConcurrent); err != nil {
			return err
		}
		if err := one(ser, "serial-canned", &res.CannedSerial); err != nil {
			return err
		}
		bt.canned += 2 * BatchSize
	}
	conc.close()
	ser.close()

	// Pacing: MAILER_SERVICE_RATE, batches back to back.
	for _, ps := range o.SQS.Pace {
		pr, err := st.paceRun(ctx, rie, bin, ps, bt, one)
		if err != nil {
			return fmt.Errorf("pacing at %s/s over %d: %w", trimFloat(ps.Rate), ps.Concurrency, err)
		}
		res.Pace = append(res.Pace, pr)
	}
	res.Load[1] = loadAverage()

	res.Calls, res.OverConcurrent, res.OverSerial = st.callFigures(len(res.Concurrent) + len(res.Serial))

	if res.Mails, err = st.sentEmails(); err != nil {
		return err
	}
	if res.Mails != bt.sent-bt.canned {
		return fmt.Errorf("moto accepted %d mails, want %d (one per message not answered by the harness)", res.Mails, bt.sent-bt.canned)
	}
	return nil
}

// paceRun sends ps.Batches batches back to back to a fresh RIE paced by
// ps, after one untimed batch and a second's pause, and notes when each
// SendEmail reached the SES stand-in.
func (s *sqsStack) paceRun(ctx context.Context, rie, bin string, ps PaceSetting, bt *batcher, one func(*sqsRIE, string, *[]sqsBatch) error) (paceRun, error) {
	pr := paceRun{PaceSetting: ps}
	x, err := startSQSRIE(rie, bin, s.env("MAILER_SERVICE_BATCH_PARALLEL=10",
		"MAILER_SERVICE_RATE="+strconv.FormatFloat(ps.Rate, 'f', -1, 64), "MAILER_SERVICE_CONCURRENCY="+strconv.Itoa(ps.Concurrency)))
	if err != nil {
		return pr, err
	}
	defer x.close()
	if err := one(x, "warm-up", nil); err != nil {
		return pr, err
	}
	time.Sleep(time.Second) // the pacer's bucket refills, as after any idle second
	s.ses.mu.Lock()
	s.ses.sends = nil
	s.ses.mu.Unlock()
	events := make([][]byte, ps.Batches)
	for i := range events {
		if events[i], err = bt.next(); err != nil {
			return pr, err
		}
	}
	s.setPhase("pace")
	defer s.setPhase("")
	for _, ev := range events {
		b, err := x.invoke(ctx, ev, false)
		if err != nil {
			return pr, fmt.Errorf("pace batch: %w", err)
		}
		pr.Batches = append(pr.Batches, b)
	}
	s.ses.mu.Lock()
	for _, t := range s.ses.sends {
		pr.Sends = append(pr.Sends, t.Sub(s.ses.sends[0]))
	}
	s.ses.mu.Unlock()
	if len(pr.Sends) != ps.Batches*BatchSize {
		return pr, fmt.Errorf("%d SendEmail calls, want %d", len(pr.Sends), ps.Batches*BatchSize)
	}
	return pr, nil
}

// BatchGaps splits the intervals between consecutive arrivals of batches
// of size n sent back to back: those within a batch, and those from a
// batch's last send to the next batch's first.
func BatchGaps(arrivals []time.Duration, n int) (within, between Series) {
	for i := 1; i < len(arrivals); i++ {
		d := msOf(arrivals[i] - arrivals[i-1])
		if i%n == 0 {
			between = append(between, d)
		} else {
			within = append(within, d)
		}
	}
	return within, between
}

// callFigures are the calls per mail over the timed batches and each
// operation's median time beyond the injected latency.
func (s *sqsStack) callFigures(batches int) (calls, overConc, overSer map[string]float64) {
	calls, overConc, overSer = map[string]float64{}, map[string]float64{}, map[string]float64{}
	mails := float64(batches * BatchSize)
	for _, f := range []*awsFront{s.ses, s.dynamo, s.kmsFront} {
		inj := msOf(map[string]time.Duration{"SES": SESLatency, "DynamoDB": DynamoLatency, "KMS": KMSLatency}[f.service])
		f.mu.Lock()
		for _, ph := range []string{"concurrent", "serial"} {
			for op, n := range f.calls[ph] {
				calls[op] += float64(n) / mails
			}
		}
		for op, ts := range f.times["concurrent"] {
			overConc[op] = Median(ts) - inj
		}
		for op, ts := range f.times["serial"] {
			overSer[op] = Median(ts) - inj
		}
		f.mu.Unlock()
	}
	return calls, overConc, overSer
}

// cpuMS is a process's CPU time (user + system, /proc/PID/stat), ms.
func cpuMS(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected %q", pid, clip(s, 80))
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected %q", pid, clip(s, 80))
	}
	// after "pid (comm)": state ppid pgrp session tty tpgid flags minflt
	// cminflt majflt cmajflt utime stime (clock ticks of 10 ms)
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return float64(u+st) * 10, nil
}

// motoPIDs are the processes serving moto_server's port (the moto_server
// process, and any interpreter a shim started), found in /proc.
func motoPIDs(backendURL string) []int {
	u, err := url.Parse(backendURL)
	if err != nil {
		return nil
	}
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		moto, port := false, false
		for i, a := range args {
			moto = moto || strings.Contains(a, "moto_server")
			port = port || (a == "-p" && i+1 < len(args) && args[i+1] == u.Port())
		}
		if moto && port {
			pids = append(pids, n)
		}
	}
	return pids
}

func sumCPU(pids []int) float64 {
	var t float64
	for _, p := range pids {
		if v, err := cpuMS(p); err == nil {
			t += v
		}
	}
	return t
}

// Derived SQS figures.

// perMail is the median billed duration of a batch over its messages.
func perMail(bs []sqsBatch) Series {
	var s Series
	for _, b := range bs {
		s = append(s, b.Report.BilledMS/BatchSize)
	}
	return s
}

// Throughput is mails per second of one instance invoked back to back:
// the batches' messages over the sum of their Invoke round trips.
func Throughput(bs []sqsBatch) float64 {
	var t float64
	for _, b := range bs {
		t += b.RoundTripMS
	}
	if t == 0 {
		return 0
	}
	return float64(len(bs)*BatchSize) / (t / 1000)
}

// PaceRate is the rate the sends arrived at: the arrivals in the whole
// seconds from the first one, over those seconds; under a second of
// arrivals, (n−1) over the time from the first to the last; 0 for fewer
// than two. Whole seconds, because the pacer holds a count per second
// (internal/pace): its sends bunch at the start of a second and wait at
// its end, and (n−1) over first-to-last would count a last second's burst
// without its wait.
func PaceRate(arrivals []time.Duration) float64 {
	if len(arrivals) < 2 {
		return 0
	}
	s := append([]time.Duration(nil), arrivals...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	span := s[len(s)-1] - s[0]
	if span <= 0 {
		return 0
	}
	secs := span.Truncate(time.Second)
	if secs == 0 {
		return float64(len(s)-1) / span.Seconds()
	}
	n := 0
	for _, a := range s {
		if a-s[0] < secs {
			n++
		}
	}
	return float64(n) / secs.Seconds()
}

// MaxInWindow is the most arrivals within any window w.
func MaxInWindow(arrivals []time.Duration, w time.Duration) int {
	s := append([]time.Duration(nil), arrivals...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	best, j := 0, 0
	for i := range s {
		for s[i]-s[j] >= w {
			j++
		}
		if i-j+1 > best {
			best = i - j + 1
		}
	}
	return best
}

func (r *Report) sqsChecks(b Budget) []Check {
	var cs []Check
	add := func(fig string, v float64, ok bool, limit float64, unit string) {
		cs = append(cs, Check{Figure: fig, Value: v, Limit: limit, Unit: unit, Missing: !ok})
	}
	s := r.SQS
	if s == nil {
		s = &SQSResult{}
	}
	c, se := perMail(s.Concurrent).Median(), perMail(s.Serial).Median()
	ratio := 0.0
	if se > 0 {
		ratio = c / se
	}
	add("SQS path: billed time per mail, a batch of 10 sent concurrently ÷ one at a time (RIE's REPORT Billed Duration, medians)", ratio, c > 0 && se > 0, b.SQSParallelRatio, "×")
	pk := kibSeries(peaks(s.Concurrent))
	add("SQS path: peak memory of a batch of 10 sent concurrently (the bootstrap's VmHWM, median)", pk.Median(), len(pk) > 0 && !hasZero(pk), b.SQSBatchPeakMiB, "MiB")
	pace := s.Pace
	if len(pace) == 0 { // not measured: the budget's rows still show
		for _, ps := range r.Opts.SQS.Pace {
			pace = append(pace, paceRun{PaceSetting: ps})
		}
	}
	for _, p := range pace {
		pr := PaceRate(p.Sends)
		want := p.PerInstance()
		dev := 0.0
		if want > 0 {
			dev = 100 * abs(pr-want) / want
		}
		add(fmt.Sprintf("SQS path: paced send rate of one instance off its share, MAILER_SERVICE_RATE=%s over MAILER_SERVICE_CONCURRENCY=%d = %s/s", trimFloat(p.Rate), p.Concurrency, trimFloat(want)),
			dev, pr > 0, b.SQSPaceErrorPct, "%")
	}
	return cs
}

func peaks(bs []sqsBatch) []int64 {
	var p []int64
	for _, b := range bs {
		p = append(p, b.PeakKiB)
	}
	return p
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
