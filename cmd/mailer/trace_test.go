//go:build !lambda

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/Phenom-earth/phenom-mailer/internal/cognito"
	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

var (
	deliveryTableSeq int
	eventClock       time.Time
)

var isoTime = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)

// deliveryStack is the stand-ins plus a delivery table and the SES events
// path (SNS topic -> SQS queue, raw delivery off) on moto.
func deliveryStack(t *testing.T, extra map[string]string) (table string, pipe *standin.EventPipeline) {
	t.Helper()
	needStack(t)
	freshSES(t, true)
	ctx := context.Background()
	deliveryTableSeq++
	table = fmt.Sprintf("mailer-deliveries-%d", deliveryTableSeq)
	if err := motoStandin.CreateDeliveryTable(ctx, table); err != nil {
		t.Fatal(err)
	}
	pipe, err := motoStandin.StartEventPipeline(ctx, table)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"AWS_ENDPOINT_URL_DYNAMODB": motoStandin.URL,
		"MAILER_DELIVERY_TABLE":     table,
		"MAILER_DELIVERY_TTL":       "",
	}
	for k, v := range extra {
		env[k] = v
	}
	mailerEnv(t, env)
	return table, pipe
}

// sesEvent is one of the SES developer guide's examples
// (testdata/sesevents/NAME.json) about messageID sent to addr.
func sesEvent(t *testing.T, name, messageID, addr string) string {
	t.Helper()
	b, err := os.ReadFile(mustRepoFile(t, "testdata/sesevents/"+name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000", messageID)
	s = strings.ReplaceAll(s, "recipient@example.com", addr)
	// The examples' times are years old: move them to now, in the order
	// they are made.
	return isoTime.ReplaceAllStringFunc(s, func(string) string {
		if eventClock.IsZero() {
			eventClock = time.Now().UTC()
		}
		eventClock = eventClock.Add(time.Millisecond)
		return eventClock.Format("2006-01-02T15:04:05.000Z")
	})
}

// runCmd runs the mailer in process and returns stdout, stderr and the exit code.
func runCmd(t *testing.T, stdin []byte, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, os.Getenv, bytes.NewReader(stdin), &stdout, &stderr)
	code := 0
	var ee *exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.Code
	default:
		code = exitSetup
	}
	if err != nil {
		stderr.WriteString(err.Error())
	}
	return stdout.String(), stderr.String(), code
}

// playSES publishes SES events through SNS and SQS and hands every batch to
// `mailer invoke`, as the events function's event source mapping would.
func playSES(t *testing.T, pipe *standin.EventPipeline, events ...string) (summaries []map[string]any, logs string) {
	t.Helper()
	ctx := context.Background()
	for _, e := range events {
		if err := pipe.Publish(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	batches, err := pipe.Receive(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, b := range batches {
		out, errOut, code := runCmd(t, b, "invoke", "--event", "-")
		all.WriteString(out + errOut)
		var sum map[string]any
		if err := json.Unmarshal([]byte(out), &sum); err != nil {
			t.Fatalf("invoke on an SQS event: stdout %q (%v), exit %d\n%s", out, err, code, errOut)
		}
		if code != 0 {
			t.Fatalf("invoke on an SQS event: exit %d: %s\n%s", code, out, errOut)
		}
		summaries = append(summaries, sum)
	}
	return summaries, all.String()
}

// TestTraceOverTheRealRecord builds a record with the real sender (mailer
// invoke on Cognito events) and the real events handler (mailer invoke on
// the SQS events SNS and SQS produced from SES-shaped events), then traces
// it by address, message id and request id.
func TestTraceOverTheRealRecord(t *testing.T) {
	_, pipe := deliveryStack(t, nil)
	const addr = "test-staging@thephenom.app"

	// Mail A: delivered, then reported as spam. Mail B: bounced.
	evA := readEvent(t, "ForgotPassword")
	attrs(evA)["email"] = addr
	resA, exit, _ := invoke(t, marshal(t, evA))
	if exit != 0 || resA.MessageID == "" || resA.RequestID == "" || resA.DeliveryRecord != cognito.RecordWritten {
		t.Fatalf("ForgotPassword: exit %d, %+v", exit, resA)
	}
	resB, exit, _ := invoke(t, marshal(t, readEvent(t, "SignUp")))
	if exit != 0 || resB.MessageID == "" || resB.RequestID == resA.RequestID {
		t.Fatalf("SignUp: exit %d, %+v", exit, resB)
	}
	// A refused invocation for the same address: recorded, no message.
	ev := readEvent(t, "ResendCode")
	ev["userPoolId"] = "us-east-1_NotOurs00"
	resC, exit, _ := invoke(t, marshal(t, ev))
	if exit != exitRefused || resC.Reason != "pool_not_allowed" {
		t.Fatalf("refused: exit %d, %+v", exit, resC)
	}

	deliveredA := sesEvent(t, "delivery", resA.MessageID, addr)
	sums, evLogs := playSES(t, pipe,
		sesEvent(t, "send", resA.MessageID, addr),
		deliveredA,
		sesEvent(t, "complaint", resA.MessageID, addr),
		sesEvent(t, "send", resB.MessageID, addr),
		sesEvent(t, "bounce-permanent", resB.MessageID, addr),
		deliveredA, // SES delivers at least once
		"not an SES event",
	)
	var recorded, dups, ignored float64
	for _, s := range sums {
		recorded += s["recorded"].(float64)
		dups += s["duplicates"].(float64)
		ignored += s["ignored"].(float64)
		if len(s["batchItemFailures"].([]any)) != 0 {
			t.Errorf("batch item failures: %v", s)
		}
	}
	if recorded != 5 || dups != 1 || ignored != 1 {
		t.Fatalf("events: recorded %v, duplicates %v, ignored %v; want 5, 1, 1: %v", recorded, dups, ignored, sums)
	}

	// By address, typed in another case.
	out, errOut, code := runCmd(t, nil, "trace", "--to", "Test-Staging@ThePhenom.app")
	if code != 0 {
		t.Fatalf("trace --to: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"3 mail(s) to test-staging@thephenom.app",
		"delivered, then reported as spam by the recipient",
		"not delivered: bounced (permanent)",
		"not sent: refused (pool_not_allowed)",
		`the receiving server answered "250 2.6.0 Message received"`,
		"SES: bounced, Permanent/General, status 5.1.1",
		"the mailer handled a ForgotPassword event of pool " + standin.StagingPool,
		"request " + resA.RequestID + ": sent; SES accepted it as message " + resA.MessageID,
		"t***@thephenom.app",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("trace --to lacks %q:\n%s", want, out)
		}
	}
	// moto has no suppression list: the trace says it could not check
	// (the stand-in's emulation answers "not listed" instead).
	if !strings.Contains(out, "could not check SES's suppression list") && !strings.Contains(out, "is not on the account's suppression list") {
		t.Errorf("trace --to says nothing of the suppression list:\n%s", out)
	}

	// By message id, as JSON: one object per mail.
	out, _, code = runCmd(t, nil, "trace", "--message-id", resB.MessageID, "--json")
	if code != 0 || strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Fatalf("trace --message-id --json: exit %d\n%s", code, out)
	}
	var mail struct {
		Kind, MessageID, Verdict string
		Attempts                 []struct{ Trigger, Outcome, RequestID string } `json:"attempts"`
		Events                   []struct {
			Type, BounceType, Status string
		} `json:"events"`
	}
	if err := json.Unmarshal([]byte(out), &mail); err != nil {
		t.Fatal(err)
	}
	if mail.Kind != "mail" || len(mail.Attempts) != 1 || mail.Attempts[0].Trigger != "SignUp" || len(mail.Events) != 2 ||
		mail.Events[1].Type != "Bounce" || mail.Events[1].Status != "5.1.1" || !strings.Contains(mail.Verdict, "bounced") {
		t.Errorf("trace --message-id: %s", out)
	}
	if !strings.Contains(out, `"message_id":"`+resB.MessageID+`"`) {
		t.Errorf("no message id in %s", out)
	}

	// By request id: the story, with the placeholder removal command (the
	// complaint put the address on the list).
	out, _, code = runCmd(t, nil, "trace", "--request-id", resA.RequestID)
	if code != 0 || !strings.Contains(out, "reported as spam") || !strings.Contains(out, "--email-address '<address>'") {
		t.Errorf("trace --request-id: exit %d\n%s", code, out)
	}
	byID := out
	out, _, code = runCmd(t, nil, "trace", "--request-id", resC.RequestID, "--json")
	if code != 0 || !strings.Contains(out, `"outcome":"refused"`) {
		t.Errorf("trace --request-id of the refusal: exit %d\n%s", code, out)
	}
	byID += out

	// Nothing found: exit 3. Usage errors: exit 2.
	if out, _, code := runCmd(t, nil, "trace", "--to", "nobody@thephenom.app"); code != exitNotFound || !strings.Contains(out, "No mail to nobody@thephenom.app") {
		t.Errorf("trace of an unknown address: exit %d\n%s", code, out)
	}
	if _, _, code := runCmd(t, nil, "trace", "--message-id", "0100-unknown"); code != exitNotFound {
		t.Errorf("trace of an unknown message id: exit %d", code)
	}
	for _, args := range [][]string{{"trace"}, {"trace", "--to", "a@b", "--request-id", "r"}, {"trace", "--to", "a@b", "--since", "soon"}, {"trace", "--to", "nobody"}} {
		if _, _, code := runCmd(t, nil, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}

	// No code, no temporary password, no full address (traced by id).
	assertNoSecrets(t, "trace by id", byID, append(codes(), addr)...)
	assertNoSecrets(t, "events function", evLogs, append(codes(), addr)...)
}

func codes() []string {
	var out []string
	for _, c := range fixtureCodes {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

// TestEventsFunctionStartsWithItsOwnEnvironment runs `mailer invoke` on an
// SQS event with only the delivery table configured (no KMS keys, no
// pools), as the events function is deployed; a record whose write fails is
// a batch item failure and exit 4.
func TestEventsFunctionStartsWithItsOwnEnvironment(t *testing.T) {
	table, pipe := deliveryStack(t, map[string]string{"MAILER_KMS_KEY_ARNS": "", "MAILER_ALLOWED_POOLS": "", "MAILER_DKIM_SELECTOR": "", "MAILER_DKIM_PRIVATE_KEY": ""})
	sums, _ := playSES(t, pipe, sesEvent(t, "delivery", "0100-m1", "a@example.com"), sesEvent(t, "open", "0100-m1", "a@example.com"))
	if len(sums) != 1 || sums[0]["recorded"].(float64) != 1 || sums[0]["ignored"].(float64) != 1 || sums[0]["received"].(float64) != 2 {
		t.Fatalf("summary %v", sums)
	}
	// A Cognito event in that environment is a configuration error.
	if _, errOut, code := runCmd(t, marshal(t, readEvent(t, "ForgotPassword")), "invoke", "--event", "-"); code != exitUsage || !strings.Contains(errOut, "MAILER_KMS_KEY_ARNS") {
		t.Errorf("Cognito event without the sender's configuration: exit %d, %s", code, errOut)
	}

	// The table is gone: every record fails and is returned for redelivery.
	if err := pipe.Publish(context.Background(), sesEvent(t, "bounce-permanent", "0100-m1", "a@example.com")); err != nil {
		t.Fatal(err)
	}
	batches, err := pipe.Receive(context.Background(), 10)
	if err != nil || len(batches) != 1 {
		t.Fatalf("receive: %v, %d batches", err, len(batches))
	}
	t.Setenv("MAILER_DELIVERY_TABLE", table+"-missing")
	out, errOut, code := runCmd(t, batches[0], "invoke", "--event", "-")
	var sum struct {
		Failed            int `json:"failed"`
		BatchItemFailures []struct {
			ItemIdentifier string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil || code != exitRetryable || sum.Failed != 1 || len(sum.BatchItemFailures) != 1 || sum.BatchItemFailures[0].ItemIdentifier == "" {
		t.Fatalf("failed write: exit %d, %s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, `"SESEventsFailed":1`) {
		t.Errorf("no SESEventsFailed metric:\n%s", errOut)
	}
}

// TestDeliveryRecordFailureNeverFailsTheSend: with a delivery table that
// does not exist, the mail is still sent, and the failure is logged and
// counted.
func TestDeliveryRecordFailureNeverFailsTheSend(t *testing.T) {
	table, _ := deliveryStack(t, nil)
	t.Setenv("MAILER_DELIVERY_TABLE", table+"-missing")
	res, exit, logs := invoke(t, marshal(t, readEvent(t, "ForgotPassword")))
	if exit != 0 || res.Outcome != cognito.OutcomeSent || res.DeliveryRecord != cognito.RecordFailed {
		t.Fatalf("exit %d, %+v", exit, res)
	}
	if len(sentMails(t)) != 1 {
		t.Fatal("the mail was not sent")
	}
	if !strings.Contains(logs, `"DeliveryRecordErrors":1`) || !strings.Contains(logs, "delivery record: the attempt could not be written") {
		t.Errorf("the failure is not logged and counted:\n%s", logs)
	}
	if !strings.Contains(logs, `"request_id":"`+res.RequestID+`"`) {
		t.Errorf("the log line lacks the request id")
	}
}

// A suppressed recipient, through the real sender and the SES stand-in's
// suppression list: the mailer sends nothing, the record says why, and
// trace tells the operator since when and how to remove the address.
func TestTraceOverASuppressedSend(t *testing.T) {
	deliveryStack(t, nil)
	const addr = "bounced-before@thephenom.app"
	suppress(t, addr, sestypes.SuppressionListReasonBounce)

	ev := readEvent(t, "ForgotPassword")
	attrs(ev)["email"] = addr
	res, exit, _ := invoke(t, marshal(t, ev))
	if exit != exitRefused || res.Outcome != cognito.OutcomeSuppressed || res.Reason != "suppressed_bounce" ||
		res.MessageID != "" || res.DeliveryRecord != cognito.RecordWritten {
		t.Fatalf("suppressed send: exit %d, %+v", exit, res)
	}

	out, errOut, code := runCmd(t, nil, "trace", "--to", addr)
	if code != 0 {
		t.Fatalf("trace --to: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"not sent: the address is on SES's suppression list (BOUNCE)",
		addr + " is on the account's suppression list since",
		"reason BOUNCE",
		"aws sesv2 delete-suppressed-destination --email-address '" + addr + "'",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("trace --to lacks %q:\n%s", want, out)
		}
	}

	out, _, code = runCmd(t, nil, "trace", "--request-id", res.RequestID, "--json")
	if code != 0 || !strings.Contains(out, `"outcome":"suppressed"`) || !strings.Contains(out, `"suppression_reason":"BOUNCE"`) {
		t.Errorf("trace --request-id --json: exit %d\n%s", code, out)
	}
	if strings.Contains(out, addr) {
		t.Errorf("trace by id printed the full address:\n%s", out)
	}
}
