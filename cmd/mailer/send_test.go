package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/Phenom-earth/phenom-mailer/internal/service"
	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// sendRun is one `mailer send` in process: its outcome line (when it
// printed one), exit code and both streams.
type sendRun struct {
	res            service.Result
	exit           int
	stdout, stderr string
}

func mailerSend(t *testing.T, getenv func(string) string, stdin string, args ...string) sendRun {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"send"}, args...), getenv, strings.NewReader(stdin), &stdout, &stderr)
	r := sendRun{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.exit = ee.Code
		if ee.Err.Error() != "" { // as main prints it
			r.stderr += "mailer: " + ee.Error() + "\n"
		}
	default:
		t.Fatalf("send: %v; stderr: %s", err, stderr.String())
	}
	if r.stdout != "" {
		if err := json.Unmarshal(stdout.Bytes(), &r.res); err != nil {
			t.Fatalf("stdout is not one JSON outcome (%v)", err)
		}
		if strings.Count(strings.TrimSpace(r.stdout), "\n") != 0 {
			t.Errorf("stdout has more than one line")
		}
	}
	return r
}

// Usage errors end with exit 2 before anything is configured or sent,
// and say what is wrong without quoting the data (it may hold a code).
func TestSendUsage(t *testing.T) {
	dir := t.TempDir()
	maildir := filepath.Join(dir, "maildir")
	getenv := envMap(map[string]string{"MAILER_DELIVERY": "maildir:" + maildir})
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  string // in stderr
	}{
		{"no flags", nil, "", "send needs --template NAME and --to ADDRESS"},
		{"no recipient", []string{"--template", "notice"}, "", "send needs --to ADDRESS"},
		{"no template", []string{"--to", "ada@example.com"}, "", "send needs --template NAME"},
		{"unknown flag", []string{"--template", "notice", "--to", "ada@example.com", "--cc", "x"}, "", "flag provided but not defined: -cc"},
		{"positional argument", []string{"--template", "notice", "--to", "ada@example.com", "extra"}, "", `send takes flags only, not "extra"`},
		{"tag without value", []string{"--template", "notice", "--to", "ada@example.com", "--tag", "service"}, "", "want NAME=VALUE"},
		{"tag twice", []string{"--template", "notice", "--to", "ada@example.com", "--tag", "service=a", "--tag", "service=b"}, "", `tag "service" given twice`},
		{"missing data file", []string{"--template", "notice", "--to", "ada@example.com", "--data", filepath.Join(dir, "nope.json")}, "", "nope.json: no such file or directory"},
		{"data file not JSON", []string{"--template", "notice", "--to", "ada@example.com", "--data", write("bad.json", "{\"code\": \"SECRET-482913\",\n \"x\": oops}")}, "", "bad.json is not valid JSON: line 2, column 7"},
		{"data on stdin cut short", []string{"--template", "notice", "--to", "ada@example.com", "--data", "-"}, `{"code": "SECRET-482913"`, "stdin is not valid JSON: it ends before the object does"},
		{"data an array", []string{"--template", "notice", "--to", "ada@example.com", "--data", "-"}, `["SECRET-482913"]`, "stdin holds a JSON array: want one object"},
		{"data empty", []string{"--template", "notice", "--to", "ada@example.com", "--data", write("empty.json", " \n")}, "", "empty.json is empty"},
		{"two values", []string{"--template", "notice", "--to", "ada@example.com", "--data", "-"}, `{"a":"SECRET-482913"} {}`, "stdin holds more than one JSON value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mailerSend(t, getenv, tt.stdin, tt.args...)
			if r.exit != exitUsage {
				t.Fatalf("exit %d, want 2; stderr: %s", r.exit, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("a usage error printed an outcome: %s", r.stdout)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr does not say %q:\n%s", tt.want, r.stderr)
			}
			assertNoSecrets(t, "stderr", r.stderr, "SECRET-482913")
		})
	}
	if _, err := os.Stat(maildir); !os.IsNotExist(err) {
		t.Fatalf("a usage error reached the Maildir (%v)", err)
	}
	// --help is not an error.
	if r := mailerSend(t, getenv, "", "--help"); r.exit != 0 || !strings.Contains(r.stderr, "Example:") || !strings.Contains(r.stderr, "--template notice") {
		t.Errorf("--help: exit %d, stderr:\n%s", r.exit, r.stderr)
	}
}

// maildirEnv is a Maildir delivery with no AWS at all (as make demo).
func maildirEnv(t *testing.T) (func(string) string, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "maildir")
	return envMap(map[string]string{"MAILER_DELIVERY": "maildir:" + dir, "MAILER_ENVIRONMENT": "test"}), dir
}

func maildirMails(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "new"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, "new", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// hostileNotice is notice data whose values try HTML and header injection.
const hostileNotice = `{"subject": "Your <b>export</b> & more",
 "heading": "Export \"ready\"",
 "paragraphs": ["<script>alert(1)</script> finished", "Bcc: eve@example.com\r\nX-Evil: 1"],
 "button": {"label": "Download <now>", "url": "https://www.thephenom.app/exports/42?a=1&b=2"},
 "footnote": "ref PARA-SECRET-7781"}`

func TestSendToMaildir(t *testing.T) {
	getenv, dir := maildirEnv(t)
	data := filepath.Join(t.TempDir(), "notice.json")
	if err := os.WriteFile(data, []byte(hostileNotice), 0o600); err != nil {
		t.Fatal(err)
	}
	r := mailerSend(t, getenv, "", "--template", "notice", "--to", "ada@example.com", "--locale", "es",
		"--data", data, "--tag", "service=ops", "--tag", "ticket=T-42")
	if r.exit != 0 || r.res.Outcome != service.OutcomeSent {
		t.Fatalf("exit %d, %+v; stderr: %s", r.exit, r.res, r.stderr)
	}
	if r.res.Source != service.SourceCLI || r.res.Template != "notice" || r.res.Service != "ops" || r.res.Recipient != "a***@example.com" || r.res.RequestID == "" {
		t.Errorf("outcome %+v", r.res)
	}
	mails := maildirMails(t, dir)
	raw, ok := mails[r.res.MessageID]
	if len(mails) != 1 || !ok {
		t.Fatalf("%d mails in the Maildir, the message id %q names none", len(mails), r.res.MessageID)
	}
	env := parseMail(t, raw)
	if got := env.GetHeader("Subject"); got != "Your <b>export</b> & more" {
		t.Errorf("Subject = %q, want the data's subject as text", got)
	}
	if got := env.GetHeader("To"); got != "<ada@example.com>" {
		t.Errorf("To = %q", got)
	}
	header, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	if bytes.Contains(bytes.ToLower(header), []byte("bcc:")) || bytes.Contains(bytes.ToLower(header), []byte("x-evil")) {
		t.Error("a data value added a header")
	}
	for _, bad := range []string{"<script>", "<b>export</b>", "Download <now>"} {
		if strings.Contains(env.HTML, bad) {
			t.Errorf("the HTML part carries %q unescaped", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt; finished", "https://www.thephenom.app/exports/42?a=1&amp;b=2", "PARA-SECRET-7781"} {
		if !strings.Contains(env.HTML, want) {
			t.Errorf("the HTML part lacks %q", want)
		}
	}
	if !strings.Contains(env.Text, "<script>alert(1)</script> finished") {
		t.Error("the text part lacks the paragraph as text")
	}
	if !strings.HasPrefix(r.stderr[strings.LastIndex(strings.TrimSpace(r.stderr), "\n")+1:], "sent: notice to a***@example.com, message id "+r.res.MessageID) {
		t.Errorf("the last stderr line is not the human outcome:\n%s", r.stderr)
	}
	if !strings.Contains(r.stderr, `"_aws":{"Timestamp":`) || !strings.Contains(r.stderr, `"Source":"cli"`) {
		t.Error("no CloudWatch EMF record of the mail on stderr")
	}
	assertNoSecrets(t, "output", r.stdout+r.stderr, "ada@example.com", "PARA-SECRET-7781", "alert(1)")

	// --json: the outcome line only, no line for people.
	r = mailerSend(t, getenv, `{"name": "Ada"}`, "--template", "welcome", "--to", "ada@example.com", "--data", "-", "--json")
	if r.exit != 0 || r.res.Outcome != service.OutcomeSent || r.res.Template != "welcome" {
		t.Fatalf("welcome: exit %d, %+v", r.exit, r.res)
	}
	if strings.Contains(r.stderr, "sent: ") {
		t.Error("--json still printed the line for people")
	}
	if n := len(maildirMails(t, dir)); n != 2 {
		t.Fatalf("%d mails, want 2", n)
	}
}

// A request the registry refuses: exit 3, every problem with its field
// path, nothing delivered.
func TestSendRefused(t *testing.T) {
	getenv, dir := maildirEnv(t)
	tests := []struct {
		name   string
		args   []string
		stdin  string
		reason string
		errs   []string
	}{
		{"unknown template", []string{"--template", "newsletter", "--to", "ada@example.com"}, "", "unknown_template", []string{"template: unknown template"}},
		{"no data", []string{"--template", "notice", "--to", "ada@example.com"}, "", "request_invalid", []string{"data.heading: required", "data.paragraphs: required", "data.subject: required"}},
		{"bad address", []string{"--template", "welcome", "--to", "ada@@example.com", "--data", "-"}, `{"name":"Ada"}`, "email_invalid", []string{"to: "}},
		{"http button and a mailer tag", []string{"--template", "notice", "--to", "ada@example.com", "--data", "-", "--tag", "template=x"},
			`{"subject":"s","heading":"h","paragraphs":["p"],"button":{"label":"b","url":"http://example.com"}}`, "request_invalid",
			[]string{"data.button.url: must be an absolute https URL", "tags.template: set by the mailer"}},
		{"request over 64 KiB", []string{"--template", "notice", "--to", "ada@example.com", "--data", "-"},
			`{"subject":"s","heading":"h","paragraphs":["` + strings.Repeat("a", 70<<10) + `"]}`, "request_invalid", []string{"request: "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mailerSend(t, getenv, tt.stdin, tt.args...)
			if r.exit != exitRefused || r.res.Outcome != service.OutcomeRefused || r.res.Reason != tt.reason {
				t.Fatalf("exit %d, %s/%s; want exit 3 refused/%s; stderr: %s", r.exit, r.res.Outcome, r.res.Reason, tt.reason, r.stderr)
			}
			for _, w := range tt.errs {
				found := false
				for _, e := range r.res.Errors {
					found = found || strings.HasPrefix(e, w)
				}
				if !found {
					t.Errorf("no problem starting %q in %q", w, r.res.Errors)
				}
			}
			if !strings.Contains(r.stderr, "refused ("+tt.reason+"): ") {
				t.Errorf("no human line saying refused:\n%s", r.stderr)
			}
		})
	}
	if n := len(maildirMails(t, dir)); n != 0 {
		t.Fatalf("%d mails delivered for refused requests", n)
	}
}

func TestSendThroughSES(t *testing.T) {
	needStack(t)
	freshSES(t, true)
	mailerEnv(t, nil)
	r := mailerSend(t, os.Getenv, hostileNotice, "--template", "notice", "--to", "qa+send@thephenom.app", "--data", "-", "--tag", "service=ops")
	if r.exit != 0 || r.res.Outcome != service.OutcomeSent || r.res.MessageID == "" {
		t.Fatalf("exit %d, %+v; stderr: %s", r.exit, r.res, r.stderr)
	}
	sent, err := motoStandin.SentEmails()
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != 1 || sent[0].MessageID != r.res.MessageID {
		t.Fatalf("moto holds %d mails; want 1 with message id %s", len(sent), r.res.MessageID)
	}
	verifyDKIM(t, sent[0].Raw)
	env := parseMail(t, sent[0].Raw)
	if got := env.GetHeader("Subject"); got != "Your <b>export</b> & more" {
		t.Errorf("Subject = %q", got)
	}
	if !strings.Contains(env.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") || strings.Contains(env.HTML, "<script>") {
		t.Error("the paragraph is not escaped in the HTML part")
	}
	assertNoSecrets(t, "output", r.stdout+r.stderr, "qa+send@thephenom.app", "PARA-SECRET-7781", "alert(1)", dkimKeyPEM[40:80])
}

// SES throttling every send: a retryable failure (exit 4), nothing sent.
func TestSendThrottledIsRetryable(t *testing.T) {
	needStack(t)
	freshSES(t, true)
	proxy, err := standin.StartFaultProxy(motoStandin.URL, isSendEmail)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	mailerEnv(t, map[string]string{"AWS_ENDPOINT_URL_SESV2": proxy.URL, "MAILER_TIMEOUT": "20s"})
	throttle := standin.Throttle(429, "TooManyRequestsException")
	proxy.Always(&throttle)
	r := mailerSend(t, os.Getenv, `{"name":"Ada"}`, "--template", "welcome", "--to", "ada@example.com", "--data", "-")
	if r.exit != exitRetryable || r.res.Outcome != service.OutcomeFailed || r.res.Reason != "ses_throttled" {
		t.Fatalf("exit %d, %s/%s (%s); want exit 4 failed/ses_throttled", r.exit, r.res.Outcome, r.res.Reason, r.res.Error)
	}
	if proxy.Count(standin.Status) == 0 {
		t.Fatal("the send never reached the throttling proxy")
	}
	if !strings.Contains(r.stderr, "failed (ses_throttled): ") || !strings.Contains(r.stderr, "send again later") {
		t.Errorf("no human line saying to retry:\n%s", r.stderr)
	}
	if n := len(sentMails(t)); n != 0 {
		t.Fatalf("%d mails", n)
	}
	// Once SES takes mail again, the same command sends.
	proxy.Always(nil)
	if r := mailerSend(t, os.Getenv, `{"name":"Ada"}`, "--template", "welcome", "--to", "ada@example.com", "--data", "-"); r.exit != 0 {
		t.Fatalf("after the throttling: exit %d, %+v", r.exit, r.res)
	}
}

// An idempotency key on moto's DynamoDB: the second send of the same
// request is a duplicate (exit 0, the first message id, no second mail);
// the key with another request is refused.
func TestSendIdempotencyKey(t *testing.T) {
	fs := newFaultStack(t, true, nil)
	_ = fs
	args := []string{"--template", "welcome", "--to", "ada@example.com", "--data", "-", "--idempotency-key", "welcome-ada-1", "--tag", "service=ops"}
	first := mailerSend(t, os.Getenv, `{"name":"Ada"}`, args...)
	if first.exit != 0 || first.res.Outcome != service.OutcomeSent || first.res.IdempotencyKey != "welcome-ada-1" {
		t.Fatalf("first: exit %d, %+v", first.exit, first.res)
	}
	second := mailerSend(t, os.Getenv, `{ "name" : "Ada" }`, args...)
	if second.exit != 0 || second.res.Outcome != service.OutcomeDuplicate || second.res.Reason != "already_sent" || second.res.MessageID != first.res.MessageID {
		t.Fatalf("second: exit %d, %+v; want exit 0, duplicate already_sent with message id %s", second.exit, second.res, first.res.MessageID)
	}
	if !strings.Contains(second.stderr, "duplicate: welcome to a***@example.com was sent before") {
		t.Errorf("no human line saying duplicate:\n%s", second.stderr)
	}
	conflict := mailerSend(t, os.Getenv, `{"name":"Grace"}`, args...)
	if conflict.exit != exitRefused || conflict.res.Outcome != service.OutcomeRefused || conflict.res.Reason != "idempotency_conflict" {
		t.Fatalf("another request with the key: exit %d, %+v; want exit 3 refused/idempotency_conflict", conflict.exit, conflict.res)
	}
	if n := len(sentMails(t)); n != 1 {
		t.Fatalf("%d mails, want exactly 1", n)
	}
}

func TestSendExitCodeAndHumanLine(t *testing.T) {
	tests := []struct {
		res  service.Result
		exit int
		line string
	}{
		{service.Result{Outcome: "sent", Template: "notice", Recipient: "a***@example.com", MessageID: "m1"}, 0, "sent: notice to a***@example.com, message id m1"},
		{service.Result{Outcome: "duplicate", Reason: "already_sent", Template: "notice", MessageID: "m1"}, 0, "duplicate: notice was sent before"},
		{service.Result{Outcome: "duplicate", Reason: "in_progress", Template: "notice"}, exitRetryable, "being sent right now"},
		{service.Result{Outcome: "refused", Reason: "request_invalid", Errors: []string{"data.a: required", "data.b: required"}}, exitRefused, "refused (request_invalid): the request: data.a: required; data.b: required"},
		{service.Result{Outcome: "suppressed", Reason: "suppressed_bounce"}, exitRefused, "suppressed (suppressed_bounce)"},
		{service.Result{Outcome: "failed", Reason: "ses_not_ready", Error: "sending paused"}, exitRetryable, "failed (ses_not_ready): the request: sending paused; send again later"},
	}
	for _, tt := range tests {
		if got := sendExitCode(tt.res); got != tt.exit {
			t.Errorf("%s/%s: exit %d, want %d", tt.res.Outcome, tt.res.Reason, got, tt.exit)
		}
		if got := humanLine(tt.res); !strings.Contains(got, tt.line) {
			t.Errorf("%s/%s: %q does not contain %q", tt.res.Outcome, tt.res.Reason, got, tt.line)
		}
	}
}

// FuzzSendData: whatever --data holds, readData never panics, and what it
// accepts is one compact JSON object; what it refuses is a usage error
// that does not quote the input.
func FuzzSendData(f *testing.F) {
	for _, s := range []string{`{}`, `{"name":"Ada"}`, " {\n\"a\": [1, 2]}\n", `[]`, `"x"`, `{"a":`, `{} {}`, "", "\xff", `{"a":"\u00e9"}`, "{\n\n  x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := readData("-", strings.NewReader(in))
		if err != nil {
			var ee *exitError
			if !errors.As(err, &ee) || ee.Code != exitUsage {
				t.Fatalf("error %v is not a usage error", err)
			}
			if len(in) >= 12 && strings.Contains(err.Error(), in) {
				t.Fatal("the error quotes the data")
			}
			return
		}
		var obj map[string]any
		if json.Unmarshal(out, &obj) != nil || obj == nil {
			t.Fatalf("accepted %q as %q, not one JSON object", in, out)
		}
		var compact bytes.Buffer
		if json.Compact(&compact, out) != nil || compact.String() != string(out) {
			t.Fatalf("%q is not compact", out)
		}
	})
}

// The SES checks on the CLI path: a suppressed recipient is refused (exit
// 3), a From domain without DKIM is retryable (exit 4); nothing is sent.
func TestSendSESChecks(t *testing.T) {
	needStack(t)
	freshSES(t, true)
	mailerEnv(t, nil)
	suppress(t, "bounced@example.com", sestypes.SuppressionListReasonBounce)
	r := mailerSend(t, os.Getenv, `{"name":"Ada"}`, "--template", "welcome", "--to", "bounced@example.com", "--data", "-")
	if r.exit != exitRefused || r.res.Outcome != service.OutcomeSuppressed || r.res.Reason != "suppressed_bounce" {
		t.Fatalf("suppressed: exit %d, %s/%s; want exit 3 suppressed/suppressed_bounce", r.exit, r.res.Outcome, r.res.Reason)
	}
	freshSES(t, false)
	r = mailerSend(t, os.Getenv, `{"name":"Ada"}`, "--template", "welcome", "--to", "ada@example.com", "--data", "-")
	if r.exit != exitRetryable || r.res.Outcome != service.OutcomeFailed || r.res.Reason != "dkim_not_ready" {
		t.Fatalf("DKIM not ready: exit %d, %s/%s; want exit 4 failed/dkim_not_ready", r.exit, r.res.Outcome, r.res.Reason)
	}
	if n := len(sentMails(t)); n != 0 {
		t.Fatalf("%d mails", n)
	}
}

// Two runs with the same key at once: while the first one's SendEmail is
// held by the proxy, the second finds the key in flight and exits 4 (run
// it again later); the first sends; a third run is a duplicate.
func TestSendSameKeyInFlight(t *testing.T) {
	needStack(t)
	freshSES(t, true)
	proxy, err := standin.StartFaultProxy(motoStandin.URL, isSendEmail)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	newFaultStack(t, true, map[string]string{"AWS_ENDPOINT_URL_SESV2": proxy.URL})
	proxy.Queue(standin.Fault{Kind: standin.Delay, Delay: 2 * time.Second})
	args := []string{"send", "--template", "welcome", "--to", "ada@example.com", "--data", "-", "--idempotency-key", "welcome-ada-2", "--tag", "service=ops"}
	firstDone := make(chan error, 1)
	var firstOut bytes.Buffer
	go func() {
		firstDone <- run(context.Background(), args, os.Getenv, strings.NewReader(`{"name":"Ada"}`), &firstOut, io.Discard)
	}()
	for deadline := time.Now().Add(15 * time.Second); proxy.Count(standin.Delay) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first send never reached SES")
		}
	}
	second := mailerSend(t, os.Getenv, `{"name":"Ada"}`, args[1:]...)
	if second.exit != exitRetryable || second.res.Outcome != service.OutcomeDuplicate || second.res.Reason != "in_progress" {
		t.Fatalf("while in flight: exit %d, %s/%s; want exit 4 duplicate/in_progress", second.exit, second.res.Outcome, second.res.Reason)
	}
	if !strings.Contains(second.stderr, "being sent right now") {
		t.Errorf("no human line saying in flight:\n%s", second.stderr)
	}
	if err := <-firstDone; err != nil {
		t.Fatalf("first: %v", err)
	}
	third := mailerSend(t, os.Getenv, `{"name":"Ada"}`, args[1:]...)
	if third.exit != 0 || third.res.Outcome != service.OutcomeDuplicate || third.res.Reason != "already_sent" {
		t.Fatalf("after: exit %d, %s/%s; want exit 0 duplicate/already_sent", third.exit, third.res.Outcome, third.res.Reason)
	}
	if n := len(sentMails(t)); n != 1 {
		t.Fatalf("%d mails, want 1", n)
	}
}
