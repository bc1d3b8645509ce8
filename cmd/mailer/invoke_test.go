package main

import (
	"bytes"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

func sesCreateInput(domain string) *sesv2.CreateEmailIdentityInput {
	return &sesv2.CreateEmailIdentityInput{EmailIdentity: &domain}
}

// The fake codes scripts/gen-ciphertexts.mjs encrypted into each event
// fixture; the mail must carry them (AdminCreateUser: the unescaped
// temporary password).
var fixtureCodes = map[string]string{
	"SignUp":                      "482913",
	"ResendCode":                  "275604",
	"ForgotPassword":              "836251",
	"UpdateUserAttribute":         "519377",
	"VerifyUserAttribute":         "640182",
	"AdminCreateUser":             "Tmp<Pass>9!x",
	"AccountTakeOverNotification": "",
	"Authentication":              "093748",
}

func TestInvokeEveryTrigger(t *testing.T) {
	needStack(t)
	for trigger, code := range fixtureCodes {
		t.Run(trigger, func(t *testing.T) {
			freshSES(t, true)
			mailerEnv(t, nil)
			ev := readEvent(t, trigger)
			email := attrs(ev)["email"].(string)
			res, exit, logs := invoke(t, marshal(t, ev))
			if exit != 0 || res.Outcome != "sent" {
				t.Fatalf("exit %d, outcome %s/%s: %s", exit, res.Outcome, res.Reason, res.Error)
			}
			mails := sentMails(t)
			if len(mails) != 1 {
				t.Fatalf("SES accepted %d mails, want 1", len(mails))
			}
			raw := mails[0]
			verifyDKIM(t, raw)
			env := parseMail(t, raw)
			if got := env.GetHeader("To"); got != "<"+email+">" {
				t.Errorf("To = %q, want %s", got, email)
			}
			if got := env.GetHeader("From"); got != `"Phenom" <noreply@thephenom.app>` {
				t.Errorf("From = %q", got)
			}
			for _, h := range []string{"Subject", "Date", "Message-ID", "X-Entity-Ref-ID"} {
				if env.GetHeader(h) == "" {
					t.Errorf("no %s header", h)
				}
			}
			if env.Root.ContentType != "multipart/alternative" || env.Text == "" || env.HTML == "" {
				t.Errorf("want multipart/alternative with text and HTML, got %s", env.Root.ContentType)
			}
			if code != "" {
				if !strings.Contains(env.Text, code) {
					t.Error("the code is not in the text part")
				}
				if !strings.Contains(env.HTML, strings.NewReplacer("<", "&lt;", ">", "&gt;").Replace(code)) {
					t.Error("the code is not in the HTML part")
				}
			}
			st := res.Stages
			if st.Render <= 0 || st.MIME <= 0 || st.Send <= 0 || (code != "" && (st.Decrypt <= 0 || st.KMSWait <= 0 || st.KMSWait > st.Decrypt)) {
				t.Errorf("stage timings missing or inconsistent: %+v", st)
			}
			if res.MessageID == "" || res.Trigger != trigger || res.Pool != standin.StagingPool || res.Recipient != email[:1]+"***@thephenom.app" {
				t.Errorf("outcome = %+v", res)
			}
			if !strings.Contains(logs, `"_aws":{"Timestamp":`) || !strings.Contains(logs, `"Outcome":"sent","Trigger":"`+trigger+`"`) {
				t.Error("no CloudWatch EMF record for the invocation on stderr")
			}
			assertNoSecrets(t, "logs", logs, code, email, "Tmp&lt;Pass")
			assertNoSecrets(t, "logs", logs, env.GetHeader("Subject")) // no rendered content in logs
		})
	}
}

func TestInvokeForgotPasswordResetLink(t *testing.T) {
	needStack(t)
	freshSES(t, true)
	mailerEnv(t, nil)
	ev := readEvent(t, "ForgotPassword")
	if attrs(ev)["email"] != "qa+reset@thephenom.app" {
		t.Fatal("fixture changed: the reset event must be plus-addressed")
	}
	res, _, _ := invoke(t, marshal(t, ev))
	if res.Outcome != "sent" {
		t.Fatalf("%+v", res)
	}
	env := parseMail(t, sentMails(t)[0])
	want := "https://www.thephenom.app/reset-password?code=836251&email=qa%2Breset%40thephenom.app"
	if !strings.Contains(env.Text, want) {
		t.Error("the text part lacks the reset link with the query-escaped email")
	}
	if !strings.Contains(env.HTML, strings.ReplaceAll(want, "&", "&amp;")) {
		t.Error("the HTML part lacks the reset link with the query-escaped email")
	}
	u, _ := url.Parse(want)
	if u.Query().Get("email") != "qa+reset@thephenom.app" {
		t.Error("link does not round-trip the address")
	}
}

func TestInvokeRefusesAndSendsNothing(t *testing.T) {
	needStack(t)
	fixtures, err := standin.LoadFixtures(mustRepoFile(t, standin.FixturesPath))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := standin.FixtureByName(fixtures, "other-pool")
	staging, _ := standin.FixtureByName(fixtures, "cognito-staging")
	tampered, _ := base64.StdEncoding.DecodeString(staging.Ciphertext)
	tampered[len(tampered)-100] ^= 0x40

	tests := []struct {
		name   string
		edit   func(ev map[string]any)
		reason string
	}{
		{"ciphertext for another pool", func(ev map[string]any) {
			ev["request"].(map[string]any)["code"] = other.Ciphertext
		}, "pool_mismatch"},
		{"tampered ciphertext", func(ev map[string]any) {
			ev["request"].(map[string]any)["code"] = base64.StdEncoding.EncodeToString(tampered)
		}, "ciphertext_invalid"},
		{"missing email", func(ev map[string]any) { delete(attrs(ev), "email") }, "email_missing"},
		{"CR/LF in email", func(ev map[string]any) {
			attrs(ev)["email"] = "test-staging@thephenom.app\r\nBcc: eve@example.com"
		}, "email_invalid"},
		{"pool not served", func(ev map[string]any) { ev["userPoolId"] = "us-east-1_knEL7cqS3" }, "pool_not_allowed"},
		{"unknown trigger", func(ev map[string]any) { ev["triggerSource"] = "CustomMessage_ForgotPassword" }, "unknown_trigger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			freshSES(t, true)
			mailerEnv(t, nil)
			ev := readEvent(t, "ForgotPassword")
			tt.edit(ev)
			res, exit, logs := invoke(t, marshal(t, ev))
			if exit != exitRefused || res.Outcome != "refused" || res.Reason != tt.reason {
				t.Fatalf("exit %d, %s/%s (%s); want exit 3, refused/%s", exit, res.Outcome, res.Reason, res.Error, tt.reason)
			}
			if n := len(sentMails(t)); n != 0 {
				t.Fatalf("SES accepted %d mails", n)
			}
			if !strings.Contains(logs, `"reason":"`+tt.reason+`"`) {
				t.Error("the log line does not say why")
			}
			assertNoSecrets(t, "logs and outcome", logs+res.Error, "836251", "qa+reset@thephenom.app", "eve@example.com")
		})
	}
}

func TestInvokeDKIMNotReadyIsRetryable(t *testing.T) {
	needStack(t)
	freshSES(t, false)
	mailerEnv(t, nil)
	res, exit, _ := invoke(t, marshal(t, readEvent(t, "SignUp")))
	if exit != exitRetryable || res.Outcome != "failed" || res.Reason != "dkim_not_ready" {
		t.Fatalf("exit %d, %s/%s; want exit 4 failed/dkim_not_ready", exit, res.Outcome, res.Reason)
	}
	if n := len(sentMails(t)); n != 0 {
		t.Fatalf("sent %d mails with DKIM not ready", n)
	}
	// Stand-ins that cannot report DKIM: the check can be turned off.
	mailerEnv(t, map[string]string{"MAILER_REQUIRE_DKIM": "false"})
	if res, exit, _ := invoke(t, marshal(t, readEvent(t, "SignUp"))); exit != 0 || res.Outcome != "sent" {
		t.Fatalf("with MAILER_REQUIRE_DKIM=false: exit %d, %+v", exit, res)
	}
}

func TestInvokeInjectionThroughAttributes(t *testing.T) {
	needStack(t)
	freshSES(t, true)
	mailerEnv(t, nil)
	ev := readEvent(t, "AccountTakeOverNotification")
	a := attrs(ev)
	a["CITY"] = `<script>alert("city")</script>`
	a["DEVICE_NAME"] = "Chrome\r\nBcc: eve@example.com\r\n\r\n<b>injected</b>"
	a["USER_NAME"] = `"><img src=x onerror=alert(1)>`
	res, exit, _ := invoke(t, marshal(t, ev))
	if exit != 0 {
		t.Fatalf("exit %d: %+v", exit, res)
	}
	raw := sentMails(t)[0]
	env := parseMail(t, raw)
	header, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	if bytes.Contains(bytes.ToLower(header), []byte("bcc:")) || strings.Contains(env.GetHeader("To"), "eve@") {
		t.Fatal("a user attribute added a header or a recipient")
	}
	for _, bad := range []string{"<script>", "<img src=x", "<b>injected</b>"} {
		if strings.Contains(env.HTML, bad) {
			t.Errorf("HTML part carries %q unescaped", bad)
		}
	}
	if !strings.Contains(env.HTML, "&lt;script&gt;") {
		t.Error("the city is not shown escaped")
	}
}

func TestInvokeUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	for _, args := range [][]string{{}, {"nope"}, {"invoke"}, {"invoke", "--event"}, {"invoke", "--event", "/does/not/exist.json"}} {
		stdout.Reset()
		err := run(t.Context(), args, func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
		ee, ok := err.(*exitError)
		if !ok || ee.Code != exitUsage {
			t.Errorf("%v: err = %v, want exit 2", args, err)
		}
	}
	stdout.Reset()
	if err := run(t.Context(), []string{"help"}, func(string) string { return "" }, nil, &stdout, &stderr); err != nil || !strings.Contains(stdout.String(), "MAILER_KMS_KEY_ARNS") {
		t.Errorf("help: %v", err)
	}
}

func mustRepoFile(t *testing.T, rel string) string {
	t.Helper()
	p, err := standin.RepoFile(rel)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
