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
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/jhillyerd/enmime/v2"

	"github.com/Phenom-earth/phenom-mailer/internal/cognito"
	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// The integration tests of this package run the real mailer (in process
// through run, and as a bootstrap binary under aws-lambda-rie) against real
// servers on 127.0.0.1: local-kms for KMS and moto_server (behind the
// stand-in's correcting proxy) for SES v2.

var (
	kmsStandin  *standin.KMS
	motoStandin *standin.Moto
	stackErr    error
	dkimKey     *rsa.PrivateKey
	dkimKeyPEM  string
)

func TestMain(m *testing.M) {
	code := func() int {
		flag.Parse()
		listing := flag.Lookup("test.list") != nil && flag.Lookup("test.list").Value.String() != ""
		// A fuzz target (make fuzz: -run='^$' -fuzz=...) needs no stand-ins.
		fuzzing := flag.Lookup("test.fuzz") != nil && flag.Lookup("test.fuzz").Value.String() != ""
		if !testing.Short() && !listing && !fuzzing {
			startStack()
			defer func() {
				if kmsStandin != nil {
					kmsStandin.Close()
				}
				if motoStandin != nil {
					motoStandin.Close()
				}
			}()
		}
		return m.Run()
	}()
	os.Exit(code)
}

func startStack() {
	seed, err := standin.LoadSeed()
	if err != nil {
		stackErr = err
		return
	}
	dir, err := os.MkdirTemp("", "mailer-kms-")
	if err != nil {
		stackErr = err
		return
	}
	if kmsStandin, err = standin.StartKMS(seed, dir); err != nil {
		stackErr = err
		return
	}
	if motoStandin, err = standin.StartMoto(context.Background(), standin.MotoOptions{}); err != nil {
		stackErr = err
		return
	}
	dkimKey, err = rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		stackErr = err
		return
	}
	dkimKeyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(dkimKey)}))
}

// needStack skips without the stand-ins, except in CI where a missing tool
// is a failure.
func needStack(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test (-short)")
	}
	if stackErr != nil {
		if os.Getenv("CI") != "true" && errors.Is(stackErr, standin.ErrMotoMissing) {
			t.Skip(stackErr)
		}
		t.Fatalf("stand-ins: %v", stackErr)
	}
}

// freshSES clears moto and recreates the From identity, with DKIM when dkimOK.
func freshSES(t testing.TB, dkimOK bool) {
	t.Helper()
	if err := motoStandin.Reset(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if dkimOK {
		if err := motoStandin.CreateDKIMIdentity(ctx, "thephenom.app"); err != nil {
			t.Fatal(err)
		}
		return
	}
	d := "thephenom.app"
	if _, err := motoStandin.SESClient().CreateEmailIdentity(ctx, sesCreateInput(d)); err != nil {
		t.Fatal(err)
	}
}

// mailerEnv is the mailer's environment against the stand-ins, as
// variables set for the test (the AWS SDK reads the process environment).
func mailerEnv(t testing.TB, extra map[string]string) {
	t.Helper()
	vars := map[string]string{
		"AWS_REGION":                  standin.Region,
		"AWS_ACCESS_KEY_ID":           "test",
		"AWS_SECRET_ACCESS_KEY":       "test",
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_ENDPOINT_URL_KMS":        kmsStandin.URL,
		"AWS_ENDPOINT_URL_SESV2":      motoStandin.URL,
		"AWS_LAMBDA_RUNTIME_API":      "",
		"MAILER_KMS_KEY_ARNS":         standin.KeyARN(standin.StagingKeyID) + "," + standin.KeyARN(standin.DevLocalKeyID),
		"MAILER_ALLOWED_POOLS":        standin.StagingPool + "," + standin.DevLocalPool,
		"MAILER_REQUIRE_POOL_CONTEXT": "",
		"MAILER_REQUIRE_DKIM":         "",
		"MAILER_DELIVERY":             "",
		"MAILER_ENVIRONMENT":          "test",
		"MAILER_CONFIGURATION_SET":    "",
		"MAILER_DKIM_SELECTOR":        "mailer",
		"MAILER_DKIM_PRIVATE_KEY":     dkimKeyPEM,
		"PASSWORD_RESET_URL":          "",
		"MAILER_DELIVERY_TABLE":       "",
		"MAILER_DELIVERY_TTL":         "",
	}
	for k, v := range extra {
		vars[k] = v
	}
	for k, v := range vars {
		t.Setenv(k, v)
	}
}

// handlerFromEnv wires the real handler, as the mailer does, from the
// environment the test set, for tests that call it many times in one process.
func handlerFromEnv(t testing.TB) *cognito.Handler {
	t.Helper()
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	h, err := newHandler(context.Background(), cfg, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// invoke runs `mailer invoke` in process on a Cognito event's JSON.
func invoke(t *testing.T, event []byte) (res cognito.Result, exit int, logs string) {
	t.Helper()
	line, exit, logs := invokeRaw(t, event)
	if err := json.Unmarshal(line, &res); err != nil {
		t.Fatalf("stdout is not a JSON outcome (%v); exit %d; stderr: %s", err, exit, logs)
	}
	return res, exit, logs
}

// invokeRaw runs `mailer invoke --event -` and returns its one stdout
// line, the exit code and stderr.
func invokeRaw(t *testing.T, event []byte) (line []byte, exit int, logs string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"invoke", "--event", "-"}, os.Getenv, bytes.NewReader(event), &stdout, &stderr)
	var ee *exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		exit = ee.Code
	default:
		t.Fatalf("invoke: %v; stderr: %s", err, stderr.String())
	}
	out := bytes.TrimSpace(stdout.Bytes())
	if bytes.Count(out, []byte("\n")) != 0 || !json.Valid(out) {
		t.Fatalf("stdout is not one JSON line (exit %d): %q; stderr: %s", exit, out, stderr.String())
	}
	return out, exit, stderr.String()
}

func readEvent(t testing.TB, trigger string) map[string]any {
	t.Helper()
	p, err := standin.RepoFile(filepath.Join(standin.EventsDir, trigger+".json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

func marshal(t testing.TB, ev map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func attrs(ev map[string]any) map[string]any {
	return ev["request"].(map[string]any)["userAttributes"].(map[string]any)
}

// sentMails returns the raw MIME of every mail moto accepted.
func sentMails(t testing.TB) [][]byte {
	t.Helper()
	sent, err := motoStandin.SentEmails()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, s := range sent {
		if s.Raw == nil {
			t.Fatalf("moto holds a non-Raw send")
		}
		out = append(out, s.Raw)
	}
	return out
}

// verifyDKIM checks the mailer's own signature over the bytes SES accepted:
// it proves they are exactly the bytes the mailer built.
func verifyDKIM(t *testing.T, raw []byte) {
	t.Helper()
	pub, err := x509.MarshalPKIXPublicKey(&dkimKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	record := "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(pub)
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			if name != "mailer._domainkey.thephenom.app" {
				return nil, fmt.Errorf("no TXT for %s", name)
			}
			return []string{record}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(verifs) != 1 || verifs[0].Err != nil || verifs[0].Domain != "thephenom.app" {
		t.Fatalf("DKIM over the accepted bytes: %+v", verifs)
	}
}

func parseMail(t testing.TB, raw []byte) *enmime.Envelope {
	t.Helper()
	env, err := enmime.ReadEnvelope(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if len(env.Errors) > 0 {
		t.Errorf("MIME problems: %v", env.Errors)
	}
	return env
}

// assertNoSecrets fails if any secret appears in s, without printing it.
func assertNoSecrets(t *testing.T, what, s string, secrets ...string) {
	t.Helper()
	for i, sec := range secrets {
		if sec != "" && strings.Contains(s, sec) {
			t.Errorf("secret #%d appears in %s", i, what)
		}
	}
}
