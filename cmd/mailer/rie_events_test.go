//go:build !lambda

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/delivery"
	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// TestEventsFunctionUnderRIE runs the real bootstrap as the events function
// is deployed (only MAILER_DELIVERY_TABLE and MAILER_DELIVERY_TTL set) under
// aws-lambda-rie, hands it the SQS event moto's SNS and SQS produced, and
// reads the record it wrote.
func TestEventsFunctionUnderRIE(t *testing.T) {
	needStack(t)
	rie := findRIE(t)
	table, pipe := deliveryStack(t, nil)

	bootstrap := buildBootstrap(t)
	invokeAddr, apiAddr := freeAddr(t), freeAddr(t)
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", invokeAddr, "--runtime-api-address", apiAddr, bootstrap)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MAILER_") && !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env,
		"AWS_REGION="+standin.Region,
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL_DYNAMODB="+motoStandin.URL,
		"MAILER_DELIVERY_TABLE="+table,
		"MAILER_DELIVERY_TTL=30d",
	)
	logs := &standin.LockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	invokeURL := "http://" + invokeAddr + "/2015-03-31/functions/function/invocations"
	post := func(body []byte) (string, string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			resp, err := http.Post(invokeURL, "application/json", bytes.NewReader(body))
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				return resp.Header.Get("X-Amz-Function-Error"), string(b)
			}
			if time.Now().After(deadline) {
				t.Fatalf("emulator never answered: %v\n%s", err, logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	const addr = "test-staging@thephenom.app"
	ctx := context.Background()
	for _, e := range []string{sesEvent(t, "delivery", "0100-rie", addr), sesEvent(t, "bounce-transient", "0100-rie", addr), "garbage"} {
		if err := pipe.Publish(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	batches, err := pipe.Receive(ctx, 10)
	if err != nil || len(batches) != 1 {
		t.Fatalf("receive: %v, %d batches", err, len(batches))
	}
	fnErr, body := post(batches[0])
	var resp struct {
		BatchItemFailures []any `json:"batchItemFailures"`
	}
	if fnErr != "" || json.Unmarshal([]byte(body), &resp) != nil || resp.BatchItemFailures == nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("SQS event: function error %q, body %s\n%s", fnErr, body, logs.String())
	}
	store := &delivery.Store{Client: motoStandin.DynamoClient(), Table: table}
	mails, err := store.ByMessageID(ctx, "0100-rie")
	if err != nil || len(mails) != 1 || len(mails[0].Events) != 2 {
		t.Fatalf("recorded: %+v, %v\n%s", mails, err, logs.String())
	}

	// A Cognito event to the events function fails: it has no sender configuration.
	fnErr, body = post(marshal(t, readEvent(t, "ForgotPassword")))
	if fnErr == "" && !strings.Contains(body, "errorMessage") || !strings.Contains(body, "not configured") {
		t.Errorf("Cognito event to the events function: function error %q, body %s", fnErr, body)
	}
	out := logs.String()
	for _, want := range []string{`"message":"ses event recorded"`, `"message":"ses event ignored"`, `"SESEvents":1`, `"requestId":"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the function's output lacks %s", want)
		}
	}
	assertNoSecrets(t, "events function logs", out, addr)
}

// TestSenderRecordsLambdasRequestIDUnderRIE: under the real Runtime API the
// attempt's request id is Lambda's (the one in every log line), and trace
// finds the mail by it.
func TestSenderRecordsLambdasRequestIDUnderRIE(t *testing.T) {
	needStack(t)
	rie := findRIE(t)
	table, _ := deliveryStack(t, nil)
	bootstrap := buildBootstrap(t)
	invokeAddr, apiAddr := freeAddr(t), freeAddr(t)
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", invokeAddr, "--runtime-api-address", apiAddr, bootstrap)
	cmd.Env = append(os.Environ(), // mailerEnv and deliveryStack set the sender's environment for this test
		"AWS_LAMBDA_RUNTIME_API=",
	)
	logs := &standin.LockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	invokeURL := "http://" + invokeAddr + "/2015-03-31/functions/function/invocations"
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Post(invokeURL, "application/json", bytes.NewReader(marshal(t, readEvent(t, "ForgotPassword"))))
		if err == nil {
			_, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if fe := resp.Header.Get("X-Amz-Function-Error"); fe != "" {
				t.Fatalf("function error %q\n%s", fe, logs.String())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("emulator never answered: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	var line struct {
		Message         string `json:"message"`
		RequestID       string `json:"request_id"`
		LambdaRequestID string `json:"requestId"`
		DeliveryRecord  string `json:"delivery_record"`
	}
	// The emulator relays the function's output on its own: the log line
	// may arrive just after the answer.
	for wait := time.Now().Add(5 * time.Second); line.Message == "" && time.Now().Before(wait); time.Sleep(50 * time.Millisecond) {
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, `"message":"mail sent"`) {
				if err := json.Unmarshal([]byte(l), &line); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if line.LambdaRequestID == "" || line.RequestID != line.LambdaRequestID || line.DeliveryRecord != "written" {
		t.Fatalf("log line: %+v\n%s", line, logs.String())
	}
	t.Setenv("MAILER_DELIVERY_TABLE", table)
	out, _, code := runCmd(t, nil, "trace", "--request-id", line.LambdaRequestID)
	if code != 0 || !strings.Contains(out, "ForgotPassword") || !strings.Contains(out, "request "+line.LambdaRequestID+": sent") {
		t.Fatalf("trace --request-id: exit %d\n%s", code, out)
	}
}
