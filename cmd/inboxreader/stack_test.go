package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// The integration tests and benchmarks of this package share one whole
// chain on 127.0.0.1 (standin.Chain: cognito-local → the real bootstrap
// under aws-lambda-rie → local-kms → moto SES → the receipt rule into S3
// and dovecot, DKIM key on a DNS server), started on first use.

const (
	user         = standin.ChainUser
	bucket       = standin.ChainBucket
	prefix       = standin.ChainPrefix
	imapPassword = standin.ChainIMAPPassword
)

type chain struct {
	*standin.Chain
}

var (
	stackOnce sync.Once
	stack     *chain
	stackErr  error
	cleanups  []func()
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	os.Exit(code)
}

// needChain starts the chain once; a missing tool skips, except with
// CI=true where it fails.
func needChain(tb testing.TB) *chain {
	tb.Helper()
	if testing.Short() {
		tb.Skip("integration test (-short)")
	}
	stackOnce.Do(func() {
		listenersBefore = listeners(nil)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		var c *standin.Chain
		c, stackErr = standin.StartChain(ctx)
		if stackErr == nil {
			stack = &chain{c}
			cleanups = append(cleanups, c.Close)
		}
	})
	if stackErr != nil {
		if standin.MissingTool(stackErr) {
			standin.SkipOrFail(tb, stackErr)
		}
		tb.Fatalf("chain: %v", stackErr)
	}
	return stack
}

// env points the in-process reader's AWS clients at the stand-ins.
func (c *chain) env(tb testing.TB) {
	tb.Helper()
	for k, v := range c.Env() {
		tb.Setenv(k, v)
	}
}

func (c *chain) s3Source() string   { return c.S3Source() }
func (c *chain) imapSource() string { return c.IMAPSource() }

// invoke runs the CLI in process: stdout, stderr, exit code.
func invoke(tb testing.TB, env map[string]string, args ...string) (string, string, int) {
	tb.Helper()
	var stdout, stderr strings.Builder
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := run(ctx, args, getenv, strings.NewReader(""), &stdout, &stderr)
	if err != nil {
		fmt.Fprintln(&stderr, "inboxreader:", err)
	}
	return stdout.String(), stderr.String(), exitCode(err)
}

// decode parses a --json report.
func decode(tb testing.TB, out string) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		tb.Fatalf("stdout is not one JSON report: %v", err)
	}
	return m
}

// assertNoSecret fails if secret appears in s, without printing it.
func assertNoSecret(tb testing.TB, what, s, secret string) {
	tb.Helper()
	if secret != "" && strings.Contains(s, secret) {
		tb.Errorf("a secret appears in %s", what)
	}
}

// summary is what a failure message may show of a run: the outcome, the
// error and the stages, never the code, the reset link or a password.
func summary(stdout, stderr string) string {
	var b strings.Builder
	var m map[string]any
	if json.Unmarshal([]byte(stdout), &m) == nil {
		fmt.Fprintf(&b, "outcome %v, error %v; stages:", m["outcome"], m["error"])
		if st, ok := m["stages"].([]any); ok {
			for _, s := range st {
				s, _ := s.(map[string]any)
				fmt.Fprintf(&b, " [%v ok=%v %v]", s["name"], s["ok"], s["detail"])
			}
		}
	} else {
		for _, l := range strings.Split(stdout, "\n") {
			if strings.HasPrefix(l, "ok ") || strings.HasPrefix(l, "FAIL") || strings.HasPrefix(l, "trusted") {
				b.WriteString(l + "; ")
			}
		}
	}
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "inboxreader:") {
			b.WriteString(" " + l)
		}
	}
	return b.String()
}
