package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// TestLogAudit runs every trigger and every failure path with the logs and
// the outcome lines captured, then fails if any decrypted code, temporary
// password, rendered body line or unmasked recipient address appears in
// them. It never prints what it found, only which kind.
func TestLogAudit(t *testing.T) {
	fs := newFaultStack(t, true, map[string]string{"MAILER_TIMEOUT": "700ms"})
	var captured bytes.Buffer
	run1 := func(ev []byte) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		_ = run(context.Background(), []string{"invoke", "--event", "-"}, os.Getenv, bytes.NewReader(ev), &stdout, &stderr)
		captured.Write(stdout.Bytes())
		captured.Write(stderr.Bytes())
	}

	// Failure paths, each with the same secrets in play.
	fixtures, _ := standin.LoadFixtures(mustRepoFile(t, standin.FixturesPath))
	other, _ := standin.FixtureByName(fixtures, "other-pool")
	edit := func(f func(map[string]any)) []byte {
		ev := readEvent(t, "ForgotPassword")
		f(ev)
		return marshal(t, ev)
	}
	run1(edit(func(ev map[string]any) { ev["request"].(map[string]any)["code"] = other.Ciphertext }))
	run1(edit(func(ev map[string]any) { delete(attrs(ev), "email") }))
	run1(edit(func(ev map[string]any) { attrs(ev)["email"] = "qa+reset@thephenom.app\r\nBcc: eve@example.com" }))
	run1(edit(func(ev map[string]any) { ev["triggerSource"] = "CustomMessage_ForgotPassword" }))
	run1(edit(func(ev map[string]any) { ev["request"].(map[string]any)["code"] = "not base64 836251" }))
	run1([]byte(`{"broken json 836251 qa+reset@thephenom.app`))
	// SES refuses the recipient and quotes it, as SES does in MessageRejected.
	fs.ses.Queue(standin.Fault{Kind: standin.Status, Status: 400,
		Body: `{"__type":"MessageRejected","message":"Email address is not verified. The following identities failed the check in region US-EAST-1: qa+reset@thephenom.app"}`})
	run1(marshal(t, readEvent(t, "ForgotPassword")))
	// Faults past the deadline on both services.
	slow := standin.Throttle(400, "ThrottlingException")
	fs.kms.Always(&slow)
	run1(marshal(t, readEvent(t, "SignUp")))
	fs.kms.Always(nil)
	throttle := standin.Throttle(429, "TooManyRequestsException")
	fs.ses.Always(&throttle)
	run1(marshal(t, readEvent(t, "Authentication")))
	fs.ses.Always(nil)
	// A recipient on the suppression list: the outcome names the list's
	// reason, never the address.
	// (An event of its own: a suppressed event is settled, and the loop
	// below sends every trigger's.)
	suppress(t, "test-staging@thephenom.app", sestypes.SuppressionListReasonComplaint)
	ato := readEvent(t, "AccountTakeOverNotification")
	attrs(ato)["IP_ADDRESS"] = "198.51.100.77"
	run1(marshal(t, ato))
	if _, err := motoStandin.SESClient().DeleteSuppressedDestination(context.Background(), &sesv2.DeleteSuppressedDestinationInput{EmailAddress: aws.String("test-staging@thephenom.app")}); err != nil {
		t.Fatal(err)
	}
	// Every trigger (the failed deliveries above released their claims),
	// then a duplicate.
	var secrets, recipients []string
	for trigger, code := range fixtureCodes {
		ev := readEvent(t, trigger)
		run1(marshal(t, ev))
		if code != "" {
			secrets = append(secrets, code)
		}
		recipients = append(recipients, attrs(ev)["email"].(string))
	}
	secrets = append(secrets, "Tmp&lt;Pass&gt;9!x", "Tmp<Pass>9!x", base64.StdEncoding.EncodeToString([]byte("Tmp<Pass>9!x")))
	bodies := sentMails(t)
	if len(bodies) != len(fixtureCodes) {
		t.Fatalf("%d mails for %d triggers", len(bodies), len(fixtureCodes))
	}
	run1(marshal(t, readEvent(t, "ResendCode")))

	logs := captured.String()
	if n := strings.Count(logs, `"outcome":`); n < 2*(len(fixtureCodes)+9) {
		t.Fatalf("captured %d outcome records; the audit did not see every path", n)
	}
	for _, want := range []string{`"outcome":"refused"`, `"outcome":"failed"`, `"outcome":"duplicate"`, `"outcome":"sent"`, `"outcome":"suppressed"`, "ses_rejected", "pool_mismatch", "suppressed_complaint"} {
		if !strings.Contains(logs, want) {
			t.Errorf("no %s in the captured logs: a path was not exercised", want)
		}
	}
	for i, s := range secrets {
		// As a token: a six-digit code can occur by chance inside longer
		// digit runs (timestamps, durations), which is no leak.
		if regexp.MustCompile(`(^|[^0-9])` + regexp.QuoteMeta(s) + `([^0-9]|$)`).MatchString(logs) {
			t.Errorf("secret #%d (a code or temporary password) appears in the logs", i)
		}
	}
	for i, r := range append(recipients, "eve@example.com") {
		if strings.Contains(logs, r) {
			t.Errorf("recipient #%d appears unmasked in the logs", i)
		}
	}
	for i, raw := range bodies {
		env := parseMail(t, raw)
		for _, line := range strings.Split(env.Text, "\n") {
			if line = strings.TrimSpace(line); len(line) >= 24 && strings.Contains(logs, line) {
				t.Errorf("a line of rendered body #%d appears in the logs", i)
			}
		}
	}
	// Every record is JSON.
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		if !json.Valid([]byte(l)) {
			t.Errorf("a log or outcome line is not JSON")
			break
		}
	}
}
