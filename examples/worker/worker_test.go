package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// errNodeTools: node, or the npm packages the example needs, are missing.
var errNodeTools = errors.New("node or node_modules/typescript, node_modules/aws4fetch missing (run `npm ci` in the repository root)")

// buildExample compiles send.ts and node.ts with tsc (type-checking them)
// into a temporary folder that resolves the repository's node_modules, and
// returns the path of node.js.
func buildExample(t *testing.T) (node, script string) {
	t.Helper()
	root, err := standin.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	node, err = exec.LookPath("node")
	if err != nil {
		standin.SkipOrFail(t, errors.Join(errNodeTools, err))
	}
	for _, p := range []string{"typescript/bin/tsc", "aws4fetch/package.json", "@types/node/package.json"} {
		if _, err := os.Stat(filepath.Join(root, "node_modules", p)); err != nil {
			standin.SkipOrFail(t, errors.Join(errNodeTools, err))
		}
	}
	out := t.TempDir()
	if err := os.Symlink(filepath.Join(root, "node_modules"), filepath.Join(out, "node_modules")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "package.json"), []byte(`{"type":"module"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tsc := exec.Command(node, filepath.Join(root, "node_modules", "typescript", "bin", "tsc"),
		"-p", filepath.Join(root, "examples", "worker"), "--outDir", out)
	if b, err := tsc.CombinedOutput(); err != nil {
		t.Fatalf("tsc: %v\n%s", err, b)
	}
	return node, filepath.Join(out, "node.js")
}

type result struct {
	Status            int      `json:"status"`
	Kind              string   `json:"kind"`
	Outcome           string   `json:"outcome"`
	Reason            string   `json:"reason"`
	MessageID         string   `json:"messageId"`
	RequestID         string   `json:"requestId"`
	Errors            []string `json:"errors"`
	RetryAfterSeconds int      `json:"retryAfterSeconds"`
	Error             string   `json:"error"`
}

// TestWorkerExampleUnderNode runs the TypeScript example under Node against
// the function URL stand-in in front of the echo Lambda (aws-lambda-rie):
// the stand-in accepts aws4fetch's signature (it recomputes it with the AWS
// SDK's signer), the Lambda gets the request as a payload-2.0 event, and
// the example parses each kind of answer. Whether an IAM policy allows the
// caller is decided inside AWS and is not tested here.
// exampleRequest is the request the tests send.
const exampleRequest = `{"template":"notice","to":"ada@example.com","locale":"es","data":{"subject":"Export ready","heading":"Export ready","paragraphs":["Your dossier export finished."]},"idempotency_key":"order-42-export","tags":{"service":"docs"}}`

// runExample runs the compiled example under Node with request on stdin
// and returns its result line and exit code.
func runExample(t *testing.T, node, script, url, secret, request string) (result, int) {
	t.Helper()
	creds := standin.CallerCredentials()
	cmd := exec.Command(node, script)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"MAILER_URL=" + url, "AWS_REGION=" + standin.Region,
		"AWS_ACCESS_KEY_ID=" + creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + secret,
	}
	cmd.Stdin = strings.NewReader(request)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var r result
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("output %q (stderr %s): %v", stdout.String(), stderr.String(), err)
	}
	return r, code
}

func TestWorkerExampleUnderNode(t *testing.T) {
	node, script := buildExample(t)
	f := standin.EchoFuncURLForTest(t)
	creds := standin.CallerCredentials()
	request := exampleRequest

	run := func(t *testing.T, url, secret string) (result, int) {
		t.Helper()
		return runExample(t, node, script, url, secret, request)
	}

	t.Run("sent", func(t *testing.T) {
		accepted, refused := f.Accepted(), f.Refused()
		r, code := run(t, f.URL+"/", creds.SecretAccessKey)
		if code != 0 || r.Status != 200 || r.Kind != "ok" || r.Outcome != "sent" || !strings.HasPrefix(r.MessageID, "echo-") || r.RequestID == "" {
			t.Fatalf("exit %d, result %+v", code, r)
		}
		if f.Accepted() != accepted+1 || f.Refused() != refused {
			t.Fatalf("the stand-in did not accept the signature (accepted %d, refused %d)", f.Accepted()-accepted, f.Refused()-refused)
		}
		events := f.Events()
		var ev struct {
			Body            string            `json:"body"`
			IsBase64Encoded bool              `json:"isBase64Encoded"`
			Headers         map[string]string `json:"headers"`
			RawPath         string            `json:"rawPath"`
			RequestContext  struct {
				RequestID  string `json:"requestId"`
				Authorizer struct {
					IAM struct {
						UserARN   string `json:"userArn"`
						AccessKey string `json:"accessKey"`
					} `json:"iam"`
				} `json:"authorizer"`
			} `json:"requestContext"`
		}
		if err := json.Unmarshal(events[len(events)-1], &ev); err != nil {
			t.Fatal(err)
		}
		var got, want any
		_ = json.Unmarshal([]byte(ev.Body), &got)
		_ = json.Unmarshal([]byte(request), &want)
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(want)
		if ev.IsBase64Encoded || !bytes.Equal(gb, wb) {
			t.Errorf("the function got body %q (base64 %v), want the request", ev.Body, ev.IsBase64Encoded)
		}
		if ev.RawPath != "/v1/send" || ev.Headers["content-type"] != "application/json" {
			t.Errorf("rawPath %q, content-type %q", ev.RawPath, ev.Headers["content-type"])
		}
		if ev.RequestContext.Authorizer.IAM.UserARN != standin.FuncURLCallerARN || ev.RequestContext.Authorizer.IAM.AccessKey != creds.AccessKeyID || ev.RequestContext.RequestID != r.RequestID {
			t.Errorf("requestContext %+v", ev.RequestContext)
		}
	})

	t.Run("refused", func(t *testing.T) {
		r, code := run(t, f.URL+"/status/400", creds.SecretAccessKey)
		if code != 3 || r.Kind != "refused" || r.Reason != "echo_400" || len(r.Errors) != 2 || r.Errors[0] != "data.heading: required" {
			t.Fatalf("exit %d, result %+v", code, r)
		}
	})

	t.Run("retry later", func(t *testing.T) {
		before := len(f.Events())
		r, code := run(t, f.URL+"/status/429", creds.SecretAccessKey)
		if code != 4 || r.Kind != "retry" || r.Status != 429 || r.RetryAfterSeconds != 7 {
			t.Fatalf("exit %d, result %+v", code, r)
		}
		// One request: the example hands Retry-After to its caller
		// instead of letting aws4fetch resend on its own.
		if n := len(f.Events()) - before; n != 1 {
			t.Errorf("the function was invoked %d times, want 1", n)
		}
	})

	t.Run("wrong secret is 403", func(t *testing.T) {
		accepted, refused := f.Accepted(), f.Refused()
		r, code := run(t, f.URL, "not-the-secret")
		if code != 1 || r.Kind != "error" || r.Status != 403 || r.Error != "Forbidden" {
			t.Fatalf("exit %d, result %+v", code, r)
		}
		if f.Refused() != refused+1 || f.Accepted() != accepted {
			t.Fatal("the stand-in did not refuse the bad signature")
		}
	})
}

// TestWorkerExampleAgainstTheMailer runs the TypeScript example under Node
// against the real send function: the mailer's Lambda build under
// aws-lambda-rie with MAILER_SERVICE=true, SES on moto, behind the function
// URL stand-in. The example gets SES's message id and the mail is in moto;
// an invalid request comes back refused with its field paths.
func TestWorkerExampleAgainstTheMailer(t *testing.T) {
	node, script := buildExample(t)
	if _, err := standin.FindRIE(); err != nil {
		standin.SkipOrFail(t, err)
	}
	moto := standin.MotoForTest(t)
	if err := moto.CreateDKIMIdentity(context.Background(), "thephenom.app"); err != nil {
		t.Fatal(err)
	}
	root, err := standin.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bootstrap := filepath.Join(t.TempDir(), "bootstrap")
	build := exec.Command("go", "build", "-tags", standin.LambdaBuildTags, "-o", bootstrap, "./cmd/mailer")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the bootstrap: %v\n%s", err, out)
	}
	fn := standin.RIEForTest(t, bootstrap, "MAILER_SERVICE=true", "AWS_ENDPOINT_URL_SESV2="+moto.URL, "MAILER_ENVIRONMENT=worker-test")
	f := standin.FuncURLForTest(t, fn.InvokeURL)
	creds := standin.CallerCredentials()

	r, code := runExample(t, node, script, f.URL+"/", creds.SecretAccessKey, exampleRequest)
	if code != 0 || r.Status != 200 || r.Kind != "ok" || r.Outcome != "sent" || r.MessageID == "" || r.RequestID == "" {
		t.Fatalf("exit %d, result %+v\n%s", code, r, fn.Logs.String())
	}
	sent, err := moto.SentEmails()
	if err != nil || len(sent) != 1 {
		t.Fatalf("moto holds %d mails (%v), want 1", len(sent), err)
	}
	if !strings.Contains(fn.Logs.String(), `"message_id":"`+r.MessageID+`"`) {
		t.Errorf("the function's log line lacks the message id %s the example got", r.MessageID)
	}

	r, code = runExample(t, node, script, f.URL, creds.SecretAccessKey, `{"template":"notice","to":"ada@example.com","data":{"subject":"x","heading":"x","paragraphs":["x"],"button":{"label":"Open","url":"http://insecure.example"}}}`)
	if code != 3 || r.Status != 400 || r.Kind != "refused" || r.Reason != "request_invalid" || len(r.Errors) != 1 || !strings.HasPrefix(r.Errors[0], "data.button.url: ") {
		t.Fatalf("exit %d, result %+v", code, r)
	}
	if sent, _ := moto.SentEmails(); len(sent) != 1 {
		t.Errorf("moto holds %d mails after the refusal, want 1", len(sent))
	}
}
