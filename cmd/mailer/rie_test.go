package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// TestBootstrapUnderRIE builds the real bootstrap (the Lambda build, for
// this machine's architecture) and runs it under aws-lambda-rie, which
// speaks the real Lambda Runtime API to it; events go in through the
// emulator's Invoke endpoint on 127.0.0.1.
func TestBootstrapUnderRIE(t *testing.T) {
	needStack(t)
	rie := findRIE(t)
	freshSES(t, true)

	// KMS is reached through a proxy that can be told to answer throttling.
	var throttle atomic.Bool
	target, _ := url.Parse(kmsStandin.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	kmsFaults := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if throttle.Load() {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(400)
			io.WriteString(w, `{"__type":"ThrottlingException","message":"Rate exceeded"}`)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	kmsFaults.Listener.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	kmsFaults.Listener = l
	kmsFaults.Start()
	t.Cleanup(kmsFaults.Close)

	bootstrap := buildBootstrap(t)

	invokeAddr, apiAddr := freeAddr(t), freeAddr(t)
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", invokeAddr, "--runtime-api-address", apiAddr, bootstrap)
	cmd.Env = append(os.Environ(),
		"AWS_REGION="+standin.Region,
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL_KMS="+kmsFaults.URL,
		"AWS_ENDPOINT_URL_SESV2="+motoStandin.URL,
		"MAILER_KMS_KEY_ARNS="+standin.KeyARN(standin.StagingKeyID),
		"MAILER_ALLOWED_POOLS="+standin.StagingPool,
		"MAILER_ENVIRONMENT=rie",
		"MAILER_DKIM_SELECTOR=mailer",
		"MAILER_DKIM_PRIVATE_KEY="+dkimKeyPEM,
	)
	logs := &standin.LockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})

	invokeURL := "http://" + invokeAddr + "/2015-03-31/functions/function/invocations"
	post := func(body []byte) (int, string, string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			resp, err := http.Post(invokeURL, "application/json", bytes.NewReader(body))
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				return resp.StatusCode, resp.Header.Get("X-Amz-Function-Error"), string(b)
			}
			if time.Now().After(deadline) {
				t.Fatalf("emulator never answered: %v\n%s", err, logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// A good event: sent, no function error.
	status, fnErr, body := post(marshal(t, readEvent(t, "ForgotPassword")))
	if status != 200 || fnErr != "" {
		t.Fatalf("invoke: HTTP %d, function error %q, body %s", status, fnErr, body)
	}
	mails := sentMails(t)
	if len(mails) != 1 {
		t.Fatalf("SES accepted %d mails, want 1\n%s", len(mails), logs.String())
	}
	verifyDKIM(t, mails[0])
	if env := parseMail(t, mails[0]); !strings.Contains(env.Text, "836251") {
		t.Error("the mail lacks the code")
	}

	// A permanent refusal returns success, so that Lambda does not retry it.
	ev := readEvent(t, "ForgotPassword")
	delete(attrs(ev), "email")
	if status, fnErr, body := post(marshal(t, ev)); status != 200 || fnErr != "" {
		t.Fatalf("refused event: HTTP %d, function error %q, body %s; want success (no retry)", status, fnErr, body)
	}

	// A retryable failure returns an error, so that Lambda retries it.
	throttle.Store(true)
	status, fnErr, body = post(marshal(t, readEvent(t, "SignUp")))
	throttle.Store(false)
	if fnErr == "" && !strings.Contains(body, "errorMessage") {
		t.Fatalf("retryable failure: HTTP %d, body %s; want a function error", status, body)
	}
	if !strings.Contains(body, "kms_unavailable") {
		t.Errorf("function error does not name the reason: %s", body)
	}
	if n := len(sentMails(t)); n != 1 {
		t.Fatalf("SES holds %d mails, want the 1 sent before", n)
	}

	// One JSON log line per invocation, with the request id, no secrets.
	out := logs.String()
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if l := sc.Text(); strings.Contains(l, `"message":"mail `) {
			lines = append(lines, l)
		}
	}
	if len(lines) != 3 {
		t.Fatalf("want 3 invocation log lines, got %d", len(lines))
	}
	for _, l := range lines {
		if !strings.Contains(l, `"requestId":"`) {
			t.Errorf("log line without requestId")
		}
	}
	assertNoSecrets(t, "Lambda logs", out, "836251", "482913", "qa+reset@thephenom.app", "test-staging@thephenom.app")
}

func findRIE(t *testing.T) string {
	t.Helper()
	p, err := standin.FindRIE()
	if err != nil {
		standin.SkipOrFail(t, err)
	}
	return p
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// buildBootstrap builds the real bootstrap, the Lambda build (its tags) for
// this machine's architecture, into a temporary folder. -trimpath is left
// out so the build cache of the other tests is reused.
func buildBootstrap(t *testing.T) string {
	t.Helper()
	bootstrap := filepath.Join(t.TempDir(), "bootstrap")
	build := exec.Command("go", "build", "-tags", standin.LambdaBuildTags, "-o", bootstrap, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build bootstrap: %v\n%s", err, out)
	}
	return bootstrap
}
