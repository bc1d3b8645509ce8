package benchrun

import (
	"bufio"
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
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// stack is the stand-ins every process run talks to: local-kms served from
// this process and moto_server (behind the stand-in's correcting proxy),
// both on 127.0.0.1, with the From domain's identity (DKIM SUCCESS) created.
type stack struct {
	kms  *standin.KMS
	moto *standin.Moto
	home string // an empty HOME for the children: no ~/.aws files
	// slowKMS and slowSES are fault proxies in front of local-kms and moto
	// that hold every request KMSLatency and SESLatency before forwarding
	// it: round trips nearer a Lambda's to the AWS endpoints of its region
	// than 127.0.0.1's.
	slowKMS, slowSES *standin.FaultProxy
	// exactSES answers every SES call SESLatency after it arrived, moto's
	// own time included (exactProxy).
	exactSES *exactProxy
}

// Latency injected per call by the slow stand-ins.
const (
	KMSLatency = 8 * time.Millisecond
	SESLatency = 20 * time.Millisecond
)

func startStack(ctx context.Context, scratch string) (*stack, error) {
	seed, err := standin.LoadSeed()
	if err != nil {
		return nil, err
	}
	s := &stack{home: filepath.Join(scratch, "home")}
	if err := os.MkdirAll(s.home, 0o755); err != nil {
		return nil, err
	}
	if s.kms, err = standin.StartKMS(seed, filepath.Join(scratch, "kms")); err != nil {
		return nil, err
	}
	if s.moto, err = standin.StartMoto(ctx, standin.MotoOptions{}); err != nil {
		s.kms.Close()
		return nil, err
	}
	if err := s.moto.CreateDKIMIdentity(ctx, "thephenom.app"); err != nil {
		s.close()
		return nil, err
	}
	if s.slowKMS, err = standin.StartFaultProxy(s.kms.URL, nil); err != nil {
		s.close()
		return nil, err
	}
	s.slowKMS.Always(&standin.Fault{Kind: standin.Delay, Delay: KMSLatency})
	if s.slowSES, err = standin.StartFaultProxy(s.moto.URL, nil); err != nil {
		s.close()
		return nil, err
	}
	s.slowSES.Always(&standin.Fault{Kind: standin.Delay, Delay: SESLatency})
	if s.exactSES, err = startExactProxy(s.moto.URL, SESLatency); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// withLatency is env with the KMS and SES endpoints pointed at the slow
// stand-ins.
func (s *stack) withLatency(env []string) []string {
	return withEndpoints(env, s.slowKMS.URL, s.slowSES.URL)
}

// withExactLatency is env with KMS pointed at the slow stand-in (local-kms
// answers in well under a millisecond) and SES at exactSES.
func (s *stack) withExactLatency(env []string) []string {
	return withEndpoints(env, s.slowKMS.URL, s.exactSES.URL)
}

func withEndpoints(env []string, kms, ses string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		switch {
		case strings.HasPrefix(kv, "AWS_ENDPOINT_URL_KMS="):
			kv = "AWS_ENDPOINT_URL_KMS=" + kms
		case strings.HasPrefix(kv, "AWS_ENDPOINT_URL_SESV2="):
			kv = "AWS_ENDPOINT_URL_SESV2=" + ses
		}
		out = append(out, kv)
	}
	return out
}

func (s *stack) close() {
	if s.exactSES != nil {
		s.exactSES.Close()
	}
	for _, p := range []*standin.FaultProxy{s.slowKMS, s.slowSES} {
		if p != nil {
			p.Close()
		}
	}
	if s.moto != nil {
		s.moto.Close()
	}
	if s.kms != nil {
		s.kms.Close()
	}
}

// mailerEnv is the whole environment of a mailer process: production
// settings (SES delivery, the DKIM check, no signing in the mailer, no
// idempotency table) pointed at the stand-ins. Nothing is inherited but PATH.
func (s *stack) mailerEnv() []string {
	return append(s.awsEnv(),
		"MAILER_KMS_KEY_ARNS="+standin.KeyARN(standin.StagingKeyID),
		"MAILER_ALLOWED_POOLS="+standin.StagingPool,
		"MAILER_ENVIRONMENT=bench",
	)
}

// awsEnv is what the mailer and the peer share: PATH, HOME, region,
// test credentials and the stand-ins' endpoints.
func (s *stack) awsEnv() []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + s.home,
		"AWS_REGION=" + standin.Region,
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL_KMS=" + s.kms.URL,
		"AWS_ENDPOINT_URL_SESV2=" + s.moto.URL,
	}
}

// peerEnv is the Node peer's environment: the same credentials, region and
// stand-ins, and the same key.
func (s *stack) peerEnv() []string {
	return append(s.awsEnv(),
		"PEER_KMS_KEY_ARN="+standin.KeyARN(standin.StagingKeyID),
		"AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true",
	)
}

// buildMailer builds the mailer for this machine with the Lambda build's
// flags (standin.LambdaBuildTags, -trimpath, stripped), so that the processes timed
// here are the shipped program on this machine's architecture.
func buildMailer(ctx context.Context, goCmd, root, out string, log io.Writer) error {
	env := append(os.Environ(), "CGO_ENABLED=0")
	_, err := goTool(ctx, goCmd, root, env, log, "build", "-tags", standin.LambdaBuildTags, "-trimpath", "-buildvcs=false",
		"-ldflags=-s -w -buildid=", "-o", out, "./cmd/mailer")
	return err
}

// procRun is one whole process, timed from just before it was started.
type procRun struct {
	Wall    time.Duration // until it exited
	Ready   time.Duration // until stderr showed the ready marker (0: never)
	Line    time.Duration // until its first stdout line
	Outcome map[string]any
	Exit    int
	PeakKiB int64 // GNU time's %M, when run under it
	Stderr  string
	// CPU is the process's user and system CPU time (rusage; under GNU
	// time, GNU time's own too): less disturbed by other load than Wall.
	CPU time.Duration
}

// runProc runs argv to its end. With timeBin set the process runs under GNU
// time, which reports its peak resident set size (%M, KiB): the child's
// own, not this process's high-water mark.
func runProc(ctx context.Context, argv, env []string, dir, readyMarker, timeBin, scratch string) (procRun, error) {
	var r procRun
	memFile := ""
	if timeBin != "" {
		f, err := os.CreateTemp(scratch, "peak-*")
		if err != nil {
			return r, err
		}
		f.Close()
		memFile = f.Name()
		defer os.Remove(memFile)
		argv = append([]string{timeBin, "-f", "%M", "-o", memFile, "--"}, argv...)
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env, cmd.Dir = env, dir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return r, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return r, err
	}
	var errBuf bytes.Buffer
	var wg sync.WaitGroup
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return r, err
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if r.Ready == 0 && readyMarker != "" && strings.Contains(sc.Text(), readyMarker) {
				r.Ready = time.Since(start)
			}
			errBuf.Write(sc.Bytes())
			errBuf.WriteByte('\n')
		}
		io.Copy(io.Discard, stderr)
	}()
	var line []byte
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if line == nil {
				r.Line = time.Since(start)
				line = append([]byte(nil), sc.Bytes()...)
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	wg.Wait()
	werr := cmd.Wait()
	r.Wall = time.Since(start)
	r.Stderr = errBuf.String()
	if ps := cmd.ProcessState; ps != nil {
		r.CPU = ps.UserTime() + ps.SystemTime()
	}
	var ee *exec.ExitError
	switch {
	case werr == nil:
	case errors.As(werr, &ee):
		r.Exit = ee.ExitCode()
	default:
		return r, werr
	}
	if line != nil && json.Unmarshal(line, &r.Outcome) != nil {
		r.Outcome = nil // not an outcome line (mailer help); sent() says so where one is wanted
	}
	if memFile != "" {
		b, err := os.ReadFile(memFile)
		if err != nil {
			return r, err
		}
		// GNU time writes "Command exited with non-zero status N" first
		// when the child fails; the figure is the last line.
		fields := strings.Fields(string(b))
		if len(fields) == 0 {
			return r, fmt.Errorf("GNU time wrote nothing")
		}
		if r.PeakKiB, err = strconv.ParseInt(fields[len(fields)-1], 10, 64); err != nil {
			return r, fmt.Errorf("GNU time output %q: %w", b, err)
		}
	}
	return r, nil
}

// sent checks that a run ended with the outcome "sent" and exit 0.
func (r procRun) sent(what string) error {
	if r.Exit != 0 || r.Outcome == nil || r.Outcome["outcome"] != "sent" {
		return fmt.Errorf("%s did not send: exit %d, outcome %v\n%s", what, r.Exit, r.Outcome, tail(r.Stderr, 2000))
	}
	return nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// rieRun is one cold start of the bootstrap under aws-lambda-rie, then
// warm invocations of the same process.
type rieRun struct {
	ReadyMS   float64   // bootstrap process start → its first request for an event
	HandledMS float64   // bootstrap process start → it posted the first response
	ClientMS  float64   // the first Invoke request as its client saw it (RIE starting the bootstrap included)
	InvokeMS  float64   // RIE's REPORT Duration of the first invocation (RIE counts the init in it)
	WarmMS    []float64 // each later invocation in the bootstrap: event received → response posted
	WarmRIEMS []float64 // RIE's REPORT Duration of each later invocation
}

var reportLine = regexp.MustCompile(`REPORT RequestId: (\S+)\s+(?:Init Duration: ([0-9.]+) ms\s+)?Duration: ([0-9.]+) ms`)

// apiRecorder sits between the bootstrap and RIE's Runtime API and notes
// when the bootstrap asked for an event, got one, and posted a response.
type apiRecorder struct {
	mu        sync.Mutex
	firstNext time.Time   // first GET /invocation/next arrived
	gotEvent  []time.Time // each /next answered with an event
	responded []time.Time // each POST /invocation/{id}/response arrived
}

func (a *apiRecorder) ServeHTTP(rp *httputil.ReverseProxy) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		a.mu.Lock()
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/runtime/invocation/next"):
			if a.firstNext.IsZero() {
				a.firstNext = now
			}
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/response"):
			a.responded = append(a.responded, now)
		}
		a.mu.Unlock()
		rp.ServeHTTP(w, r)
	})
}

func (a *apiRecorder) noteResponse(resp *http.Response) error {
	if resp.Request.Method == http.MethodGet && strings.HasSuffix(resp.Request.URL.Path, "/runtime/invocation/next") && resp.StatusCode == 200 {
		a.mu.Lock()
		a.gotEvent = append(a.gotEvent, time.Now())
		a.mu.Unlock()
	}
	return nil
}

// runRIE starts aws-lambda-rie on two fresh 127.0.0.1 ports with the
// bootstrap behind execstamp, which notes the bootstrap's process start and
// points it at a recording proxy in front of RIE's Runtime API. It sends
// the event once (RIE starts the bootstrap on the first Invoke, as Lambda
// does on a cold start), then warm more times.
func runRIE(ctx context.Context, rie, stamp, bootstrap, scratch string, env []string, event []byte, warm int) (rieRun, error) {
	var res rieRun
	invokeAddr, err := freeAddr()
	if err != nil {
		return res, err
	}
	apiAddr, err := freeAddr()
	if err != nil {
		return res, err
	}
	rec := &apiRecorder{}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: apiAddr})
	rp.ModifyResponse = rec.noteResponse
	rp.ErrorLog = log.New(io.Discard, "", 0)
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	proxy := &http.Server{Handler: rec.ServeHTTP(rp), ReadHeaderTimeout: 10 * time.Second}
	go proxy.Serve(pl)
	defer proxy.Close()

	stampFile := filepath.Join(scratch, "bootstrap-start")
	os.Remove(stampFile)
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", invokeAddr, "--runtime-api-address", apiAddr, stamp, bootstrap)
	cmd.Env = append(append([]string(nil), env...), "EXECSTAMP_FILE="+stampFile, "EXECSTAMP_RUNTIME_API="+pl.Addr().String())
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &standin.LockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return res, err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	defer stopRIE(cmd.Process.Pid, done)

	invokeURL := "http://" + invokeAddr + "/2015-03-31/functions/function/invocations"
	client := &http.Client{Timeout: 30 * time.Second}
	invoke := func() (time.Duration, error) {
		deadline := time.Now().Add(20 * time.Second)
		for {
			t0 := time.Now()
			resp, err := client.Post(invokeURL, "application/json", bytes.NewReader(event))
			if err != nil {
				var op *net.OpError
				if errors.As(err, &op) && op.Op == "dial" && time.Now().Before(deadline) {
					time.Sleep(2 * time.Millisecond) // RIE is not listening yet
					continue
				}
				return 0, fmt.Errorf("invoke: %w\n%s", err, tail(out.String(), 2000))
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			d := time.Since(t0)
			if resp.StatusCode != 200 || resp.Header.Get("X-Amz-Function-Error") != "" {
				return 0, fmt.Errorf("invoke: HTTP %d, function error %q: %s\n%s", resp.StatusCode, resp.Header.Get("X-Amz-Function-Error"), body, tail(out.String(), 2000))
			}
			return d, nil
		}
	}
	first, err := invoke()
	if err != nil {
		return res, err
	}
	res.ClientMS = msOf(first)
	for i := 0; i < warm; i++ {
		if _, err := invoke(); err != nil {
			return res, err
		}
	}

	b, err := os.ReadFile(stampFile)
	if err != nil {
		return res, fmt.Errorf("execstamp wrote no start time: %w\n%s", err, tail(out.String(), 2000))
	}
	startNS, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return res, err
	}
	start := time.Unix(0, startNS)
	rec.mu.Lock()
	ok := !rec.firstNext.IsZero() && len(rec.responded) == warm+1 && len(rec.gotEvent) >= warm+1
	if ok {
		res.ReadyMS = msOf(rec.firstNext.Sub(start))
		res.HandledMS = msOf(rec.responded[0].Sub(start))
		for i := 1; i <= warm; i++ {
			res.WarmMS = append(res.WarmMS, msOf(rec.responded[i].Sub(rec.gotEvent[i])))
		}
	}
	rec.mu.Unlock()
	if !ok {
		return res, fmt.Errorf("the Runtime API proxy saw %d events and %d responses, want %d\n%s", len(rec.gotEvent), len(rec.responded), warm+1, tail(out.String(), 2000))
	}

	// RIE prints a REPORT line after each answer.
	deadline := time.Now().Add(5 * time.Second)
	for {
		reports := reportLine.FindAllStringSubmatch(out.String(), -1)
		if len(reports) >= warm+1 {
			res.InvokeMS, _ = strconv.ParseFloat(reports[0][3], 64)
			for _, r := range reports[1 : warm+1] {
				v, _ := strconv.ParseFloat(r[3], 64)
				res.WarmRIEMS = append(res.WarmRIEMS, v)
			}
			return res, nil
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("RIE printed %d REPORT lines, want %d\n%s", len(reports), warm+1, tail(out.String(), 2000))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stopRIE stops RIE and the bootstrap it started. RIE puts the bootstrap in
// a process group of its own, so RIE's children are stopped first, while
// RIE (not yet having reaped them) keeps their ids from being reused.
func stopRIE(pid int, done <-chan struct{}) {
	for _, k := range childrenOf(pid) {
		_ = syscall.Kill(k, syscall.SIGKILL)
	}
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-done
	}
}

// childrenOf lists the processes whose parent is pid (from /proc).
func childrenOf(pid int) []int {
	var kids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after ')'.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			kids = append(kids, n)
		}
	}
	return kids
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
