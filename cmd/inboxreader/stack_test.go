package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/standin"
)

// The whole chain on 127.0.0.1, shared by the tests and the benchmark of
// this package and started on first use:
//
//	cognito-local ForgotPassword → the real mailer bootstrap under
//	aws-lambda-rie → ESDK decrypt through local-kms → DKIM-signed Raw
//	SendEmail to moto's SES v2 → (the test's receipt rule) the raw copy
//	into a moto S3 bucket and over LMTP into dovecot → inboxreader over S3
//	or IMAP, the DKIM key served by a DNS server on 127.0.0.1.
type chain struct {
	kms     *standin.KMS
	moto    *standin.Moto
	dns     *standin.DNS
	dovecot *standin.Dovecot
	cognito *standin.CognitoLocal
	rule    *standin.ReceiptRule
	rie     *exec.Cmd
	rieLogs *lockedBuf

	pool, client string
	dkimKeyPEM   []byte
}

const (
	user         = "test-staging@thephenom.app"
	bucket       = "phenom-inbound"
	prefix       = "inbound/"
	imapPassword = "imap-pw-for-tests-only"
)

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
	stackOnce.Do(func() { stack, stackErr = startChain() })
	if stackErr != nil {
		if errors.Is(stackErr, standin.ErrMotoMissing) || errors.Is(stackErr, standin.ErrDovecotMissing) ||
			errors.Is(stackErr, standin.ErrCognitoLocalMissing) || errors.Is(stackErr, errRIEMissing) {
			standin.SkipOrFail(tb, stackErr)
		}
		tb.Fatalf("chain: %v", stackErr)
	}
	return stack
}

var errRIEMissing = errors.New("aws-lambda-rie not found (make deps installs it into bin/)")

func startChain() (c *chain, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c = &chain{rieLogs: &lockedBuf{}}
	listenersBefore = listeners(nil)
	defer func() {
		if err != nil {
			for i := len(cleanups) - 1; i >= 0; i-- {
				cleanups[i]()
			}
			cleanups = nil
		}
	}()
	rie, err := findRIE()
	if err != nil {
		return nil, err
	}
	root, err := standin.RepoRoot()
	if err != nil {
		return nil, err
	}

	// The bootstrap builds while the servers start.
	bootstrap := filepath.Join(os.TempDir(), fmt.Sprintf("inboxreader-bootstrap-%d", os.Getpid()))
	cleanups = append(cleanups, func() { os.Remove(bootstrap) })
	buildDone := make(chan error, 1)
	go func() {
		build := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bootstrap, "./cmd/mailer")
		build.Dir = root
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			buildDone <- fmt.Errorf("build bootstrap: %v\n%s", err, out)
			return
		}
		buildDone <- nil
	}()

	seed, err := standin.LoadSeed()
	if err != nil {
		return nil, err
	}
	if c.kms, err = standin.StartKMS(seed, ""); err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() { c.kms.Close() })
	if c.moto, err = standin.StartMoto(ctx, standin.MotoOptions{}); err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() { c.moto.Close() })
	if err := c.moto.CreateDKIMIdentity(ctx, "thephenom.app"); err != nil {
		return nil, err
	}
	if err := c.moto.CreateBucket(ctx, bucket); err != nil {
		return nil, err
	}
	// SES writes this when the rule is set up; the reader must skip it.
	if err := c.moto.PutObject(ctx, bucket, prefix+"AMAZON_SES_SETUP_NOTIFICATION", []byte("Amazon SES setup notification")); err != nil {
		return nil, err
	}

	// The DKIM key: the mailer signs with it, DNS on 127.0.0.1 serves it.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	c.dkimKeyPEM = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if c.dns, err = standin.StartDNS(map[string]string{
		"mailer._domainkey.thephenom.app": "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(pub),
	}); err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() { c.dns.Close() })

	if c.dovecot, err = standin.StartDovecot(ctx, map[string]string{user: imapPassword}); err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() { c.dovecot.Close() })

	invokeAddr, apiAddr, err := freeAddr(), freeAddr(), nil
	if c.cognito, err = standin.StartCognitoLocal(ctx, standin.CognitoLocalOptions{
		KMSURL:      c.kms.URL,
		KMSKeyARN:   standin.KeyARN(standin.StagingKeyID),
		KMSKeyAlias: "alias/phenom-staging-cognito",
		LambdaURL:   "http://" + invokeAddr,
	}); err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() { c.cognito.Close() })
	if c.pool, c.client, err = c.cognito.CreatePool(ctx, "phenom-local", user, "Initial-Passw0rd!"); err != nil {
		return nil, err
	}

	if err := <-buildDone; err != nil {
		return nil, err
	}
	c.rie = exec.Command(rie, "--runtime-interface-emulator-address", invokeAddr, "--runtime-api-address", apiAddr, bootstrap)
	c.rie.Env = append(os.Environ(),
		"AWS_REGION="+standin.Region,
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL_KMS="+c.kms.URL,
		"AWS_ENDPOINT_URL_SESV2="+c.moto.URL,
		"MAILER_KMS_KEY_ARNS="+standin.KeyARN(standin.StagingKeyID),
		"MAILER_ALLOWED_POOLS="+c.pool,
		// cognito-local's ciphertexts carry no encryption context.
		"MAILER_REQUIRE_POOL_CONTEXT=false",
		"MAILER_ENVIRONMENT=local-chain",
		"MAILER_DKIM_SELECTOR=mailer",
		"MAILER_DKIM_PRIVATE_KEY="+string(c.dkimKeyPEM),
	)
	c.rie.Stdout, c.rie.Stderr = c.rieLogs, c.rieLogs
	c.rie.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.rie.Start(); err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() { c.rie.Process.Kill(); c.rie.Wait() })
	if err := waitListening(ctx, invokeAddr); err != nil {
		return nil, fmt.Errorf("aws-lambda-rie: %w", err)
	}

	// The receipt rule: copies of what SES accepted go to S3 and dovecot.
	r, err := c.dnsLookup()
	if err != nil {
		return nil, err
	}
	c.rule = &standin.ReceiptRule{Moto: c.moto, Bucket: bucket, Prefix: prefix, LMTPAddr: c.dovecot.LMTPAddr, LookupTXT: r, Interval: 20 * time.Millisecond}
	c.rule.Start()
	cleanups = append(cleanups, func() { c.rule.Stop() })
	return c, nil
}

func (c *chain) dnsLookup() (func(string) ([]string, error), error) {
	res := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, c.dns.Addr)
	}}
	return func(name string) ([]string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return res.LookupTXT(ctx, name+".")
	}, nil
}

// env points the in-process reader's AWS clients at the stand-ins.
func (c *chain) env(tb testing.TB) {
	tb.Helper()
	for k, v := range map[string]string{
		"AWS_REGION":                                 "us-east-1",
		"AWS_ACCESS_KEY_ID":                          "test",
		"AWS_SECRET_ACCESS_KEY":                      "test",
		"AWS_SESSION_TOKEN":                          "",
		"AWS_PROFILE":                                "",
		"AWS_EC2_METADATA_DISABLED":                  "true",
		"AWS_ENDPOINT_URL":                           "",
		"AWS_ENDPOINT_URL_S3":                        c.moto.URL,
		"AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER": c.cognito.URL,
	} {
		tb.Setenv(k, v)
	}
}

func (c *chain) s3Source() string   { return "s3://" + bucket + "/" + prefix }
func (c *chain) imapSource() string { return "imap://" + user + "@" + c.dovecot.IMAPAddr + "/INBOX" }

func findRIE() (string, error) {
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p, nil
	}
	if root, err := standin.RepoRoot(); err == nil {
		p := filepath.Join(root, "bin", "aws-lambda-rie")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errRIEMissing
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitListening(ctx context.Context, addr string) error {
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// invoke runs the CLI in process: stdout, stderr, exit code.
func invoke(tb testing.TB, env map[string]string, args ...string) (string, string, int) {
	tb.Helper()
	var stdout, stderr bytes.Buffer
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
