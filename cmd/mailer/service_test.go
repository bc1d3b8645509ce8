package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/Phenom-earth/phenom-mailer/internal/service"
	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// sqsEvent is Lambda's SQS event with one record per body.
func sqsEvent(t testing.TB, bodies ...string) []byte {
	t.Helper()
	var ev events.SQSEvent
	for i, b := range bodies {
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId: "msg-" + string(rune('a'+i)), ReceiptHandle: "rh", Body: b,
			EventSource: "aws:sqs", EventSourceARN: "arn:aws:sqs:us-east-1:123456789012:phenom-mailer-staging-send", AWSRegion: "us-east-1",
		})
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// urlEvent is a function URL event (payload 2.0) as the stand-in builds it.
func urlEvent(t testing.TB, method, path, body string, b64 bool) []byte {
	t.Helper()
	ev := standin.FuncURLEvent{Version: "2.0", RouteKey: "$default", RawPath: path, Headers: map[string]string{"content-type": "application/json"}, Body: body, IsBase64Encoded: b64}
	ev.RequestContext.HTTP.Method, ev.RequestContext.HTTP.Path = method, path
	ev.RequestContext.RequestID = "url-request-1"
	ev.RequestContext.Authorizer.IAM.UserARN = standin.FuncURLCallerARN
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const snsEnvelope = `{"Type":"Notification","MessageId":"m1","TopicArn":"arn:aws:sns:us-east-1:123456789012:phenom-mailer-staging-ses-events","Message":"{}"}`

const goodRequest = `{"template":"welcome","to":"ada@example.com","data":{"name":"Ada"}}`

func TestEventShapeOf(t *testing.T) {
	for _, c := range []struct {
		name  string
		event []byte
		want  eventShape
	}{
		{"cognito", marshal(t, readEvent(t, "ForgotPassword")), shapeCognito},
		{"ses events", sqsEvent(t, snsEnvelope), shapeSESEvents},
		{"ses events, one garbage record", sqsEvent(t, "garbage", snsEnvelope), shapeSESEvents},
		{"send queue", sqsEvent(t, goodRequest, `{"template":"notice"}`), shapeSendQueue},
		{"send queue, bodies not JSON", sqsEvent(t, "garbage"), shapeSendQueue},
		{"function URL", urlEvent(t, "POST", service.Path, goodRequest, false), shapeFuncURL},
		{"payload 1.0 is not a function URL event", []byte(`{"version":"1.0","requestContext":{"http":{"method":"POST"}}}`), shapeCognito},
		{"2.0 without requestContext.http", []byte(`{"version":"2.0","requestContext":{}}`), shapeCognito},
		{"SQS record of another source", []byte(`{"Records":[{"eventSource":"aws:sns","body":"{}"}]}`), shapeCognito},
		{"empty", nil, shapeCognito},
		{"not JSON", []byte("{"), shapeCognito},
	} {
		if got := eventShapeOf(c.event); got != c.want {
			t.Errorf("%s: shape %d, want %d", c.name, got, c.want)
		}
	}
}

func FuzzEventShapeOf(f *testing.F) {
	f.Add(sqsEvent(f, snsEnvelope))
	f.Add(sqsEvent(f, goodRequest))
	f.Add(urlEvent(f, "POST", service.Path, goodRequest, false))
	f.Add([]byte(`{"version":"2.0","requestContext":{"http":null}}`))
	f.Add([]byte(`{"Records":[{"eventSource":"aws:sqs","body":"{\"Type\":1,\"TopicArn\":null}"}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, event []byte) {
		switch s := eventShapeOf(event); s {
		case shapeCognito, shapeSESEvents, shapeSendQueue, shapeFuncURL:
		default:
			t.Fatalf("shape %d", s)
		}
	})
}

// maildirService is the service handler wired from the environment as the
// send function is, delivering into a Maildir.
func maildirService(t *testing.T) (*service.Handler, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "maildir")
	cfg, err := loadServiceConfig(envMap(map[string]string{"MAILER_SERVICE": "true", "MAILER_DELIVERY": "maildir:" + dir}))
	if err != nil {
		t.Fatal(err)
	}
	h, err := newServiceHandler(context.Background(), cfg, aws.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h, dir
}

func maildirCount(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "new"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return len(entries)
}

func TestHandleFuncURL(t *testing.T) {
	h, dir := maildirService(t)
	var m bytes.Buffer
	for _, c := range []struct {
		name   string
		event  []byte
		status int
		body   string
	}{
		{"sent", urlEvent(t, "POST", service.Path, goodRequest, false), 200, `"outcome":"sent"`},
		{"sent, base64 body", urlEvent(t, "POST", service.Path, base64.StdEncoding.EncodeToString([]byte(goodRequest)), true), 200, `"message_id":"`},
		{"bad base64", urlEvent(t, "POST", service.Path, "!!", true), 400, `not valid base64`},
		{"invalid request", urlEvent(t, "POST", service.Path, `{"template":"notice","to":"x"}`, false), 400, `data.subject`},
		{"wrong path", urlEvent(t, "POST", "/v1/other", goodRequest, false), 404, `POST /v1/send`},
		{"wrong method", urlEvent(t, "GET", service.Path, "", false), 405, `method not allowed`},
	} {
		resp := handleFuncURL(context.Background(), h, &m, c.event)
		if resp.StatusCode != c.status || !strings.Contains(resp.Body, c.body) || resp.Headers["Content-Type"] != "application/json" {
			t.Errorf("%s: %d %v %s; want %d with %s", c.name, resp.StatusCode, resp.Headers, resp.Body, c.status, c.body)
		}
		if c.status == 405 && resp.Headers["Allow"] != "POST" {
			t.Errorf("%s: no Allow header: %v", c.name, resp.Headers)
		}
	}
	if n := maildirCount(t, dir); n != 2 {
		t.Errorf("%d mails in the Maildir, want 2", n)
	}
	// One metrics line per request that reached the handler; the caller's
	// IAM name is the service.
	lines := strings.Split(strings.TrimSpace(m.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], `"Service":"hasura"`) || !strings.Contains(lines[0], `"Template":"welcome"`) || !strings.Contains(lines[0], `"ServiceMails":1`) {
		t.Errorf("metrics:\n%s", m.String())
	}
}

func TestHandleSendBatch(t *testing.T) {
	h, dir := maildirService(t)
	var m bytes.Buffer
	bad := `{"template":"nope","to":"ada@example.com","data":{},"tags":{"service":"x y"}}`
	resp, err := handleSendBatch(context.Background(), h, 2, &m, sqsEvent(t, goodRequest, bad, "not json"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.BatchItemFailures == nil || len(resp.BatchItemFailures) != 0 {
		t.Errorf("batch item failures %+v: a permanent refusal is never retried", resp.BatchItemFailures)
	}
	if n := maildirCount(t, dir); n != 1 {
		t.Errorf("%d mails, want 1", n)
	}
	// A caller cannot mint metric dimensions: an unknown template and a
	// bad service tag are "-".
	if strings.Contains(m.String(), `"Template":"nope"`) || strings.Contains(m.String(), `"Service":"x y"`) || strings.Count(m.String(), "\n") != 3 {
		t.Errorf("metrics:\n%s", m.String())
	}

	// A message whose delivery fails for now goes back to the queue.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil { // a file where the Maildir should be
		t.Fatal(err)
	}
	resp, err = handleSendBatch(context.Background(), h, 0, &m, sqsEvent(t, bad, goodRequest))
	if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "msg-b" {
		t.Errorf("failed delivery: %+v, %v", resp, err)
	}
	if _, err := handleSendBatch(context.Background(), h, 0, &m, []byte(`{"Records":"x"}`)); err == nil {
		t.Error("an unreadable event is not an error")
	}
}

func TestServiceConfig(t *testing.T) {
	c, err := loadServiceConfig(envMap(map[string]string{"MAILER_SERVICE": "true"}))
	if err != nil {
		t.Fatalf("the service needs no KMS key or pool: %v", err)
	}
	if !c.Enabled || c.Concurrency != 1 || c.Rate != 0 || c.BatchParallel != 10 || c.Delivery != "ses" || c.Timeout.Seconds() != 30 {
		t.Errorf("defaults: %+v", c)
	}
	c, err = loadServiceConfig(envMap(map[string]string{
		"MAILER_SERVICE_CONCURRENCY": "4", "MAILER_SERVICE_RATE": "13.5", "MAILER_SERVICE_BATCH_PARALLEL": "3",
		"MAILER_IDEMPOTENCY_TABLE": "idem", "MAILER_DELIVERY_TABLE": "deliveries", "MAILER_ENVIRONMENT": "staging",
	}))
	if err != nil || c.Enabled || c.Concurrency != 4 || c.Rate != 13.5 || c.BatchParallel != 3 || c.IdempotencyTable != "idem" || c.Record.Table != "deliveries" || c.Environment != "staging" {
		t.Errorf("set: %+v, %v", c, err)
	}
	for _, bad := range []map[string]string{
		{"MAILER_SERVICE_CONCURRENCY": "0"}, {"MAILER_SERVICE_CONCURRENCY": "1.5"},
		{"MAILER_SERVICE_RATE": "0"}, {"MAILER_SERVICE_RATE": "-1"}, {"MAILER_SERVICE_RATE": "NaN"}, {"MAILER_SERVICE_RATE": "Inf"}, {"MAILER_SERVICE_RATE": "fast"},
		{"MAILER_SERVICE_BATCH_PARALLEL": "0"}, {"MAILER_SERVICE_BATCH_PARALLEL": "11"},
		{"MAILER_SERVICE": "yes please"},
	} {
		_, err := loadServiceConfig(envMap(bad))
		for name := range bad {
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%v: error %v does not name %s", bad, err, name)
			}
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"MAILER_SERVICE", "MAILER_SERVICE_CONCURRENCY", "MAILER_SERVICE_RATE", "MAILER_SERVICE_BATCH_PARALLEL"} {
		if !strings.Contains(envDoc, "  "+v+" ") {
			t.Errorf("mailer help does not document %s", v)
		}
		if !strings.Contains(string(readme), "| `"+v+"` |") {
			t.Errorf("README's configuration table lacks %s", v)
		}
	}
	// Every problem at once.
	_, err = loadServiceConfig(envMap(map[string]string{"MAILER_SERVICE_RATE": "0", "MAILER_SERVICE_CONCURRENCY": "x", "MAILER_DELIVERY": "smtp"}))
	for _, want := range []string{"MAILER_SERVICE_RATE", "MAILER_SERVICE_CONCURRENCY", "MAILER_DELIVERY"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
}

// TestServerDispatch: the send function's server (no KMS key, no pool)
// answers a send-queue batch and a function URL event from the service
// handler, and a Cognito event with the sender's configuration error.
func TestServerDispatch(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "maildir")
	env := envMap(map[string]string{"MAILER_SERVICE": "true", "MAILER_DELIVERY": "maildir:" + dir, "AWS_REGION": "us-east-1"})
	var logs, m bytes.Buffer
	s, err := newServer(context.Background(), env, newLogger(&logs, env), &m)
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.handle(context.Background(), sqsEvent(t, goodRequest))
	if r, ok := out.(events.SQSEventResponse); err != nil || !ok || r.BatchItemFailures == nil {
		t.Errorf("send queue: %#v, %v", out, err)
	}
	out, err = s.handle(context.Background(), urlEvent(t, "POST", service.Path, goodRequest, false))
	if r, ok := out.(events.LambdaFunctionURLResponse); err != nil || !ok || r.StatusCode != 200 {
		t.Errorf("function URL: %#v, %v", out, err)
	}
	if _, err := s.handle(context.Background(), marshal(t, readEvent(t, "ForgotPassword"))); err == nil || !strings.Contains(err.Error(), "MAILER_KMS_KEY_ARNS") {
		t.Errorf("Cognito event: %v", err)
	}
	if _, err := s.handle(context.Background(), sqsEvent(t, snsEnvelope)); err == nil || !strings.Contains(err.Error(), "MAILER_DELIVERY_TABLE") {
		t.Errorf("SES events: %v", err)
	}
	if n := maildirCount(t, dir); n != 2 {
		t.Errorf("%d mails, want 2", n)
	}
	if !strings.Contains(logs.String(), `"send service ready"`) {
		t.Errorf("no start line: %s", logs.String())
	}

	// Without MAILER_SERVICE, a function URL event is refused and a
	// non-SNS SQS batch goes to the events handler as before.
	s2, err := newServer(context.Background(), envMap(map[string]string{"MAILER_DELIVERY_TABLE": "t", "AWS_REGION": "us-east-1"}), newLogger(&logs, env), &m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.handle(context.Background(), urlEvent(t, "POST", service.Path, goodRequest, false)); err == nil || !strings.Contains(err.Error(), "MAILER_SERVICE") {
		t.Errorf("function URL without the service: %v", err)
	}
	if s2.service != nil {
		t.Error("service wired without MAILER_SERVICE")
	}
	if _, err := newServer(context.Background(), envMap(map[string]string{"MAILER_SERVICE": "true", "MAILER_SERVICE_RATE": "-2"}), newLogger(&logs, env), &m); err == nil || !strings.Contains(err.Error(), "MAILER_SERVICE_RATE") {
		t.Errorf("bad service configuration starts: %v", err)
	}
	for v, want := range map[string]bool{"": false, "false": false, "0": false, "FALSE": false, "true": true, "1": true, "T": true, "maybe": true} {
		if got := serviceWanted(envMap(map[string]string{"MAILER_SERVICE": v})); got != want {
			t.Errorf("MAILER_SERVICE=%q: service wanted %v", v, got)
		}
	}
	if _, err := newServer(context.Background(), envMap(map[string]string{"MAILER_SERVICE": "maybe", "MAILER_DELIVERY_TABLE": "t"}), newLogger(&logs, env), &m); err == nil || !strings.Contains(err.Error(), "MAILER_SERVICE=") {
		t.Errorf("MAILER_SERVICE=maybe starts: %v", err)
	}
}

// FuzzHandleFuncURL: whatever the event, the function URL answers one of
// its statuses with a JSON body, and never panics.
func FuzzHandleFuncURL(f *testing.F) {
	f.Add(urlEvent(f, "POST", service.Path, goodRequest, false))
	f.Add(urlEvent(f, "POST", service.Path, base64.StdEncoding.EncodeToString([]byte(goodRequest)), true))
	f.Add(urlEvent(f, "PUT", "/", "", false))
	f.Add([]byte(`{"version":"2.0","requestContext":{"http":{"method":"POST","path":"/v1/send"},"authorizer":null},"body":"{}","isBase64Encoded":true}`))
	f.Add([]byte(`[]`))
	dir := filepath.Join(f.TempDir(), "maildir")
	cfg, err := loadServiceConfig(envMap(map[string]string{"MAILER_DELIVERY": "maildir:" + dir}))
	if err != nil {
		f.Fatal(err)
	}
	h, err := newServiceHandler(context.Background(), cfg, aws.Config{}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, event []byte) {
		resp := handleFuncURL(context.Background(), h, io.Discard, event)
		switch resp.StatusCode {
		case 200, 400, 404, 405, 409, 422, 429, 503:
		default:
			t.Fatalf("status %d", resp.StatusCode)
		}
		if !json.Valid([]byte(resp.Body)) || resp.Headers["Content-Type"] != "application/json" {
			t.Fatalf("answer %v %q", resp.Headers, resp.Body)
		}
	})
}
