package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/cognito"
	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// These tests drive the real handler through fault-injecting proxies on
// 127.0.0.1 in front of the KMS and SES stand-ins, with the idempotency
// table on moto's DynamoDB.

type faultStack struct {
	kms, ses *standin.FaultProxy
	table    string
}

var tableSeq int

func newFaultStack(t testing.TB, withTable bool, extra map[string]string) *faultStack {
	t.Helper()
	needStack(t)
	freshSES(t, true)
	fs := &faultStack{}
	var err error
	if fs.kms, err = standin.StartFaultProxy(kmsStandin.URL, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.kms.Close() })
	// The scripted SES faults are for the send (SendEmail) alone: the DKIM
	// check starts during the setup (cognito.Handler.Warm), so its request
	// and a cancelled one of an earlier invocation's may reach the proxy
	// in any order, and the suppression look-up runs concurrently (their
	// own faults are tested in suppression_test.go).
	if fs.ses, err = standin.StartFaultProxy(motoStandin.URL, isSendEmail); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.ses.Close() })
	env := map[string]string{
		"AWS_ENDPOINT_URL_KMS":      fs.kms.URL,
		"AWS_ENDPOINT_URL_SESV2":    fs.ses.URL,
		"AWS_ENDPOINT_URL_DYNAMODB": motoStandin.URL,
		"MAILER_IDEMPOTENCY_TABLE":  "",
	}
	if withTable {
		tableSeq++
		fs.table = fmt.Sprintf("mailer-idempotency-%d", tableSeq)
		if err := motoStandin.CreateIdempotencyTable(context.Background(), fs.table); err != nil {
			t.Fatal(err)
		}
		env["MAILER_IDEMPOTENCY_TABLE"] = fs.table
	}
	for k, v := range extra {
		env[k] = v
	}
	mailerEnv(t, env)
	return fs
}

func TestTransientFaultsSendExactlyOneMail(t *testing.T) {
	tests := []struct {
		name        string
		kms, ses    []standin.Fault
		wantRetries bool
	}{
		{name: "SES throttling burst", ses: []standin.Fault{standin.Throttle(429, "TooManyRequestsException"), standin.Throttle(429, "TooManyRequestsException"), standin.Throttle(429, "TooManyRequestsException")}},
		{name: "SES 500s", ses: []standin.Fault{standin.ServerError(), standin.ServerError()}},
		{name: "KMS throttling, 500 and a reset", kms: []standin.Fault{standin.Throttle(400, "ThrottlingException"), standin.ServerError(), {Kind: standin.Reset}}},
		{name: "slow but in time", kms: []standin.Fault{{Kind: standin.Delay, Delay: 300 * time.Millisecond}}, ses: []standin.Fault{{Kind: standin.Delay, Delay: 300 * time.Millisecond}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFaultStack(t, true, nil)
			fs.kms.Queue(tt.kms...)
			fs.ses.Queue(tt.ses...)
			res, exit, _ := invoke(t, marshal(t, readEvent(t, "ForgotPassword")))
			if exit != 0 || res.Outcome != cognito.OutcomeSent {
				t.Fatalf("exit %d, %s/%s: %s", exit, res.Outcome, res.Reason, res.Error)
			}
			if n := len(sentMails(t)); n != 1 {
				t.Fatalf("%d mails, want exactly 1", n)
			}
		})
	}
}

func TestAmbiguousSendFailureThenLambdaRetry(t *testing.T) {
	fs := newFaultStack(t, true, nil)
	// The connection drops after the request went out: the mailer cannot
	// know whether SES sent it, so it does not resend within the invocation.
	fs.ses.Queue(standin.Fault{Kind: standin.Reset})
	ev := marshal(t, readEvent(t, "ForgotPassword"))
	res, exit, _ := invoke(t, ev)
	if exit != exitRetryable || res.Outcome != cognito.OutcomeFailed {
		t.Fatalf("exit %d, %s/%s; want a retryable failure", exit, res.Outcome, res.Reason)
	}
	if n := len(sentMails(t)); n != 0 {
		t.Fatalf("%d mails after the reset", n)
	}
	// Lambda's retry of the same event: the claim was released, it sends.
	res, exit, _ = invoke(t, ev)
	if exit != 0 || res.Outcome != cognito.OutcomeSent {
		t.Fatalf("retry: exit %d, %s/%s", exit, res.Outcome, res.Reason)
	}
	// And a third, duplicate delivery sends nothing.
	res, _, _ = invoke(t, ev)
	if res.Outcome != cognito.OutcomeDuplicate || res.Reason != "already_sent" || res.MessageID == "" {
		t.Fatalf("third delivery: %+v, want duplicate already_sent with the first message id", res)
	}
	if n := len(sentMails(t)); n != 1 {
		t.Fatalf("%d mails in all, want exactly 1", n)
	}
}

func TestFaultsOutlastingTheDeadline(t *testing.T) {
	throttle := standin.Throttle(429, "TooManyRequestsException")
	kmsThrottle := standin.Throttle(400, "ThrottlingException")
	tests := []struct {
		name     string
		kms, ses *standin.Fault
	}{
		{name: "KMS slower than the deadline", kms: &standin.Fault{Kind: standin.Delay, Delay: 2 * time.Second}},
		{name: "KMS throttling throughout", kms: &kmsThrottle},
		{name: "SES throttling throughout", ses: &throttle},
		{name: "SES slower than the deadline", ses: &standin.Fault{Kind: standin.Delay, Delay: 2 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFaultStack(t, true, map[string]string{"MAILER_TIMEOUT": "700ms"})
			fs.kms.Always(tt.kms)
			fs.ses.Always(tt.ses)
			start := time.Now()
			res, exit, logs := invoke(t, marshal(t, readEvent(t, "ForgotPassword")))
			if exit != exitRetryable || res.Outcome != cognito.OutcomeFailed || res.Reason == "" {
				t.Fatalf("exit %d, %s/%s; want a retryable failure with a reason", exit, res.Outcome, res.Reason)
			}
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("the invocation ran %v past a 700ms deadline", elapsed)
			}
			// A delayed request whose client gave up is never forwarded: wait
			// past the delay and check that nothing arrived late.
			time.Sleep(1500 * time.Millisecond)
			if n := len(sentMails(t)); n != 0 {
				t.Fatalf("%d mails", n)
			}
			assertNoSecrets(t, "logs", logs, "836251", "qa+reset@thephenom.app")
		})
	}
}

func TestDuplicateDeliveries(t *testing.T) {
	newFaultStack(t, true, nil)
	h := handlerFromEnv(t)
	ev := marshal(t, readEvent(t, "SignUp"))
	var mu sync.Mutex
	outcomes := map[string]int{}
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := h.HandleJSON(context.Background(), ev)
			mu.Lock()
			outcomes[res.Outcome]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if outcomes[cognito.OutcomeSent] != 1 || outcomes[cognito.OutcomeDuplicate] != 11 {
		t.Fatalf("outcomes %v, want 1 sent and 11 duplicate", outcomes)
	}
	if n := len(sentMails(t)); n != 1 {
		t.Fatalf("%d mails, want 1", n)
	}
	// Account-takeover notices have no ciphertext: the whole event is the key.
	ato := marshal(t, readEvent(t, "AccountTakeOverNotification"))
	first, second := h.HandleJSON(context.Background(), ato), h.HandleJSON(context.Background(), ato)
	if first.Outcome != cognito.OutcomeSent || second.Outcome != cognito.OutcomeDuplicate {
		t.Fatalf("takeover notice twice: %s then %s", first.Outcome, second.Outcome)
	}
}

func TestWithoutTableDuplicatesArePossibleAndSaid(t *testing.T) {
	newFaultStack(t, false, nil)
	ev := marshal(t, readEvent(t, "SignUp"))
	_, _, logs := invoke(t, ev)
	invoke(t, ev)
	if n := len(sentMails(t)); n != 2 {
		t.Fatalf("%d mails, want 2 without a table (no dedup promised)", n)
	}
	if !strings.Contains(logs, "duplicates are possible") {
		t.Error("the start-up log does not say duplicates are possible")
	}
}

func TestIdempotencyTableUnavailableIsRetryable(t *testing.T) {
	newFaultStack(t, true, map[string]string{"MAILER_IDEMPOTENCY_TABLE": "no-such-table"})
	res, exit, _ := invoke(t, marshal(t, readEvent(t, "SignUp")))
	if exit != exitRetryable || res.Reason != "idempotency_unavailable" {
		t.Fatalf("exit %d, %s/%s", exit, res.Outcome, res.Reason)
	}
	if n := len(sentMails(t)); n != 0 {
		t.Fatalf("%d mails sent without a claim", n)
	}
}
