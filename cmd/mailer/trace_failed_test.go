//go:build !lambda

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/Phenom-earth/phenom-mailer/internal/cognito"
)

var failedQueueSeq int

// onFailureRecord is Lambda's asynchronous invocation record for an event
// that failed every attempt, shaped as the Lambda developer guide shows
// ("Capturing records of Lambda asynchronous invocations"), around a real
// Cognito event with its real ciphertext.
func onFailureRecord(t *testing.T, requestID, condition string, attempts int, event map[string]any, errMsg string) string {
	t.Helper()
	rec := map[string]any{
		"version":   "1.0",
		"timestamp": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		"requestContext": map[string]any{
			"requestId":              requestID,
			"functionArn":            "arn:aws:lambda:us-east-1:111122223333:function:phenom-mailer-staging:$LATEST",
			"condition":              condition,
			"approximateInvokeCount": attempts,
		},
		"requestPayload": event,
		"responseContext": map[string]any{
			"statusCode":      200,
			"executedVersion": "$LATEST",
			"functionError":   "Unhandled",
		},
		"responsePayload": map[string]any{
			"errorMessage": errMsg,
			"errorType":    "errorString",
		},
	}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// failedQueue creates a failed-events queue on moto holding bodies, and
// points MAILER_FAILED_EVENTS_QUEUE_URL at it.
func failedQueue(t *testing.T, bodies ...string) string {
	t.Helper()
	failedQueueSeq++
	url := createQueue(t, fmt.Sprintf("phenom-trace%d-failed-events", failedQueueSeq), 0)
	q := sqs.NewFromConfig(testCfg())
	for _, b := range bodies {
		if _, err := q.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("AWS_ENDPOINT_URL_SQS", motoStandin.URL)
	t.Setenv("MAILER_FAILED_EVENTS_QUEUE_URL", url)
	return url
}

// queueDepth is the number of messages in the queue, visible or not.
func queueDepth(t *testing.T, url string) int {
	t.Helper()
	v, n := queueCounts(t, url)
	return v + n
}

type failedCase struct {
	addr       string
	ciphertext string
	queue      string
	withRecord string // request id of an event whose failed attempt is in the record
	noRecord   string // request id of an event with no attempt in the record
}

// failedEvents sends one event whose delivery fails (a Maildir path that
// cannot be written: outcome failed, recorded), then puts Lambda's
// on-failure records in the failed-events queue: that event's, another
// one's with no attempt in the record, and a message that is no record.
func failedEvents(t *testing.T) failedCase {
	t.Helper()
	deliveryStack(t, nil)
	c := failedCase{addr: "test-staging@thephenom.app"}
	blocker := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(blocker, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MAILER_DELIVERY", "maildir:"+filepath.Join(blocker, "Maildir"))
	ev := readEvent(t, "ForgotPassword")
	attrs(ev)["email"] = c.addr
	c.ciphertext = ev["request"].(map[string]any)["code"].(string)
	res, exit, _ := invoke(t, marshal(t, ev))
	if exit != exitRetryable || res.Outcome != cognito.OutcomeFailed || res.DeliveryRecord != cognito.RecordWritten {
		t.Fatalf("the failing send: exit %d, %+v", exit, res)
	}
	c.withRecord = res.RequestID
	t.Setenv("MAILER_DELIVERY", "")

	other := readEvent(t, "ForgotPassword")
	attrs(other)["email"] = "Test-Staging@ThePhenom.app" // the same address, another case
	c.noRecord = "7d1e2f30-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
	c.queue = failedQueue(t,
		onFailureRecord(t, c.withRecord, "RetriesExhausted", 3, ev,
			"maildir_failed: write mail for "+c.addr+": not a directory"),
		onFailureRecord(t, c.noRecord, "EventAgeExceeded", 2, other,
			"ses_unavailable: SES said <TEST-STAGING@thephenom.app> and "+c.ciphertext),
		`{"Records":"not an on-failure record"}`,
	)
	return c
}

// TestTraceFindsFailedEvents: trace looks in the failed-events queue by
// request id and by address, without taking anything out of it.
func TestTraceFindsFailedEvents(t *testing.T) {
	c := failedEvents(t)

	// By request id: the record's failed attempt, and the failed event.
	out, errOut, code := runCmd(t, nil, "trace", "--request-id", c.withRecord)
	if code != 0 {
		t.Fatalf("trace --request-id: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"verdict: not sent: the event failed every attempt (RetriesExhausted); it waits in the failed-events queue",
		"the mailer handled a ForgotPassword event",
		"request " + c.withRecord + ": failed (maildir_failed)",
		"Lambda gave up: the event failed every attempt (RetriesExhausted) after 3 attempt(s), request " + c.withRecord,
		`last error (Unhandled) errorString: "maildir_failed: write mail for t***@thephenom.app: not a directory"`,
		"it waits in the failed-events queue since ",
		"tell the user to ask again",
		"docs/operations.md#failed-events-and-dead-letters",
		"Note: 1 message(s) in the failed-events queue are not Lambda on-failure records.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("trace --request-id lacks %q:\n%s", want, out)
		}
	}
	byID := out

	out, _, code = runCmd(t, nil, "trace", "--request-id", c.withRecord, "--json")
	var mail struct {
		Kind, Verdict string
		Attempts      []struct{ Outcome string } `json:"attempts"`
		Failed        *struct {
			RequestID    string    `json:"request_id"`
			Condition    string    `json:"condition"`
			Attempts     int       `json:"attempts"`
			QueuedSince  time.Time `json:"queued_since"`
			Trigger      string    `json:"trigger"`
			Pool         string    `json:"pool"`
			Recipient    string    `json:"recipient"`
			ErrorMessage string    `json:"error_message"`
		} `json:"failed_event"`
	}
	first := strings.SplitN(strings.TrimSpace(out), "\n", 2)[0]
	if err := json.Unmarshal([]byte(first), &mail); err != nil || code != 0 {
		t.Fatalf("trace --request-id --json: exit %d, %v\n%s", code, err, out)
	}
	if mail.Kind != "mail" || len(mail.Attempts) != 1 || mail.Attempts[0].Outcome != "failed" || mail.Failed == nil ||
		mail.Failed.RequestID != c.withRecord || mail.Failed.Condition != "RetriesExhausted" || mail.Failed.Attempts != 3 ||
		mail.Failed.Trigger != "ForgotPassword" || mail.Failed.Recipient != "t***@thephenom.app" ||
		time.Since(mail.Failed.QueuedSince) > time.Hour || !strings.Contains(mail.Verdict, "failed every attempt") {
		t.Errorf("trace --request-id --json:\n%s", out)
	}
	byID += out

	// A failed event with no attempt in the record: a mail of kind failed_event.
	out, _, code = runCmd(t, nil, "trace", "--request-id", c.noRecord, "--json")
	if code != 0 || !strings.Contains(out, `"kind":"failed_event"`) || !strings.Contains(out, `"condition":"EventAgeExceeded"`) ||
		!strings.Contains(out, `"recipient":"T***@ThePhenom.app"`) {
		t.Errorf("trace --request-id of an event with no record: exit %d\n%s", code, out)
	}
	byID += out
	out, _, code = runCmd(t, nil, "trace", "--request-id", c.noRecord)
	if code != 0 || !strings.Contains(out, "No mail of request "+c.noRecord+" in the delivery record.") ||
		!strings.Contains(out, "Lambda gave up: the event grew older than the function's maximum event age (EventAgeExceeded)") ||
		!strings.Contains(out, "Failed event 1 of 1: a ForgotPassword event of pool ") {
		t.Errorf("trace --request-id of an event with no record: exit %d\n%s", code, out)
	}
	byID += out

	// By address, typed in another case: both events.
	out, _, code = runCmd(t, nil, "trace", "--to", "TEST-staging@thephenom.app")
	if code != 0 || !strings.Contains(out, "1 mail(s) to test-staging@thephenom.app") ||
		!strings.Contains(out, "1 event(s) to test-staging@thephenom.app since") ||
		!strings.Contains(out, "request "+c.noRecord) || !strings.Contains(out, "request "+c.withRecord) {
		t.Errorf("trace --to:\n%s", out)
	}
	out, _, code = runCmd(t, nil, "trace", "--to", c.addr, "--json")
	if code != 0 || strings.Count(out, `"failed_event":{`) != 2 {
		t.Errorf("trace --to --json:\n%s", out)
	}

	// Another id, another address: nothing.
	if out, _, code := runCmd(t, nil, "trace", "--request-id", "00000000-0000-4000-8000-000000000000"); code != exitNotFound || strings.Contains(out, "Lambda gave up") {
		t.Errorf("trace of another request id: exit %d\n%s", code, out)
	}
	if out, _, code := runCmd(t, nil, "trace", "--to", "someone-else@thephenom.app"); code != exitNotFound || strings.Contains(out, "Lambda gave up") {
		t.Errorf("trace of another address: exit %d\n%s", code, out)
	}

	// Peeking took nothing out.
	if n := queueDepth(t, c.queue); n != 3 {
		t.Errorf("the failed-events queue holds %d message(s) after the traces, want 3", n)
	}

	// Without a delivery table, the failed event alone is found.
	t.Setenv("MAILER_DELIVERY_TABLE", "")
	out, _, code = runCmd(t, nil, "trace", "--request-id", c.withRecord)
	if code != 0 || !strings.Contains(out, "Note: the delivery record was not read") || !strings.Contains(out, "Lambda gave up") {
		t.Errorf("trace without a delivery table: exit %d\n%s", code, out)
	}
	if _, _, code := runCmd(t, nil, "trace", "--message-id", "0100-x"); code != exitUsage {
		t.Errorf("trace --message-id without a delivery table: exit %d, want %d", code, exitUsage)
	}

	assertNoSecrets(t, "trace of failed events by id", byID, append(codes(), c.addr, strings.ToUpper(c.addr), c.ciphertext, c.ciphertext[:80])...)
}

// A failed-events queue that cannot be read is a note; the record is still
// traced.
func TestTraceFailedEventsQueueUnreadable(t *testing.T) {
	c := failedEvents(t)
	t.Setenv("MAILER_FAILED_EVENTS_QUEUE_URL", c.queue+"-missing")
	out, errOut, code := runCmd(t, nil, "trace", "--request-id", c.withRecord)
	if code != 0 || !strings.Contains(out, "Note: could not read the failed-events queue:") || !strings.Contains(out, "failed (maildir_failed)") {
		t.Errorf("trace with an unreadable queue: exit %d\n%s%s", code, out, errOut)
	}
	out, _, code = runCmd(t, nil, "trace", "--request-id", c.withRecord, "--json")
	if code != 0 || !strings.Contains(out, `"kind":"note","note":"could not read the failed-events queue`) {
		t.Errorf("trace --json with an unreadable queue: exit %d\n%s", code, out)
	}
	// Only the failed event would have been found: nothing found.
	if _, _, code := runCmd(t, nil, "trace", "--request-id", c.noRecord); code != exitNotFound {
		t.Errorf("trace of a failed event in an unreadable queue: exit %d, want %d", code, exitNotFound)
	}
}
