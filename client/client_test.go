package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/Phenom-earth/phenom-mailer/client"
	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

func notice() client.Request {
	return client.Request{
		Template: "notice",
		To:       "ada@example.com",
		Locale:   "es",
		Data: map[string]any{
			"subject":    "Your export is ready",
			"heading":    "Export ready",
			"paragraphs": []string{"Your dossier export finished."},
			"button":     map[string]string{"label": "Download", "url": "https://www.thephenom.app/exports/42"},
		},
		IdempotencyKey: "order-42-export",
		Tags:           map[string]string{"service": "hasura"},
	}
}

func testCreds() aws.CredentialsProvider {
	c := standin.CallerCredentials()
	return credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")
}

// mailerDouble is an HTTP server on 127.0.0.1 that checks the request as
// the function URL would (SigV4 for lambda with the test credentials, 403
// {"Message":"Forbidden"} otherwise) and as the mailer's route does (POST
// /v1/send, JSON), then answers with a fixed status, headers and body.
func mailerDouble(t *testing.T, status int, headers map[string]string, body string) (*httptest.Server, *atomic.Int64, *[]byte) {
	t.Helper()
	verifier := standin.SigV4{Credentials: standin.CallerCredentials(), Service: "lambda", Region: standin.Region}
	var hits atomic.Int64
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		got = b
		if err := verifier.Verify(r, b); err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(403)
			io.WriteString(w, `{"Message":"Forbidden"}`)
			return
		}
		if r.Method != http.MethodPost || r.URL.Path != "/v1/send" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request %s %s (%s), want POST /v1/send application/json", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		}
		w.Header().Set("Content-Type", "application/json")
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits, &got
}

// TestURLSenderStatuses: each status of the contract's table, and what a
// caller gets for it: the parsed answer and an error of the right type.
func TestURLSenderStatuses(t *testing.T) {
	type kind int
	const (
		ok kind = iota
		refused
		retryable
		other
	)
	cases := []struct {
		name    string
		status  int
		headers map[string]string
		body    string
		kind    kind
		want    client.Response
	}{
		{"sent", 200, nil, `{"message_id":"0100-abc","outcome":"sent","request_id":"r-1"}`, ok,
			client.Response{StatusCode: 200, MessageID: "0100-abc", Outcome: "sent", RequestID: "r-1"}},
		{"duplicate already sent", 200, nil, `{"message_id":"0100-first","outcome":"duplicate","reason":"already_sent"}`, ok,
			client.Response{StatusCode: 200, MessageID: "0100-first", Outcome: "duplicate", Reason: "already_sent"}},
		{"duplicate in progress", 409, nil, `{"outcome":"duplicate","reason":"in_progress"}`, retryable,
			client.Response{StatusCode: 409, Outcome: "duplicate", Reason: "in_progress"}},
		{"request invalid", 400, nil, `{"outcome":"refused","reason":"request_invalid","errors":["data.button.url: must be an absolute https URL","data.heading: required"]}`, refused,
			client.Response{StatusCode: 400, Outcome: "refused", Reason: "request_invalid", Errors: []string{"data.button.url: must be an absolute https URL", "data.heading: required"}}},
		{"unknown template", 400, nil, `{"outcome":"refused","reason":"unknown_template","errors":["template: unknown template \"x\""]}`, refused,
			client.Response{StatusCode: 400, Outcome: "refused", Reason: "unknown_template", Errors: []string{`template: unknown template "x"`}}},
		{"idempotency conflict", 422, nil, `{"outcome":"refused","reason":"idempotency_conflict"}`, refused,
			client.Response{StatusCode: 422, Outcome: "refused", Reason: "idempotency_conflict"}},
		{"suppressed", 422, nil, `{"outcome":"suppressed","reason":"suppressed_bounce"}`, refused,
			client.Response{StatusCode: 422, Outcome: "suppressed", Reason: "suppressed_bounce"}},
		{"throttled", 429, map[string]string{"Retry-After": "1"}, `{"outcome":"failed","reason":"ses_throttled"}`, retryable,
			client.Response{StatusCode: 429, Outcome: "failed", Reason: "ses_throttled", RetryAfter: time.Second}},
		{"dkim not ready", 503, map[string]string{"Retry-After": "60"}, `{"outcome":"failed","reason":"dkim_not_ready"}`, retryable,
			client.Response{StatusCode: 503, Outcome: "failed", Reason: "dkim_not_ready", RetryAfter: time.Minute}},
		{"other failure", 503, map[string]string{"Retry-After": "5"}, `{"outcome":"failed","reason":"ses_unavailable"}`, retryable,
			client.Response{StatusCode: 503, Outcome: "failed", Reason: "ses_unavailable", RetryAfter: 5 * time.Second}},
		{"function error", 502, nil, `{"Message":"Internal Server Error"}`, retryable,
			client.Response{StatusCode: 502, Error: "Internal Server Error"}},
		{"wrong path", 404, nil, `{"error":"no route"}`, other,
			client.Response{StatusCode: 404, Error: "no route"}},
		{"wrong method", 405, nil, `{"error":"method not allowed"}`, other,
			client.Response{StatusCode: 405, Error: "method not allowed"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, hits, got := mailerDouble(t, c.status, c.headers, c.body)
			s := client.NewURL(srv.URL+"/", testCreds(), standin.Region, &http.Client{Timeout: 10 * time.Second})
			resp, err := s.Send(t.Context(), notice())
			if hits.Load() != 1 {
				t.Fatalf("%d requests, want 1", hits.Load())
			}
			want, _ := notice().Encode()
			if string(*got) != string(want) {
				t.Errorf("body sent %s, want the request's JSON %s", *got, want)
			}
			if !equalResponse(resp, c.want) {
				t.Errorf("Response %+v, want %+v", resp, c.want)
			}
			var re *client.RefusedError
			var rt *client.RetryableError
			var se *client.StatusError
			switch c.kind {
			case ok:
				if err != nil {
					t.Fatalf("err %v, want nil", err)
				}
			case refused:
				if !errors.As(err, &re) || errors.As(err, &rt) {
					t.Fatalf("err %T %v, want *RefusedError", err, err)
				}
				if !equalResponse(re.Response, c.want) {
					t.Errorf("RefusedError carries %+v", re.Response)
				}
			case retryable:
				if !errors.As(err, &rt) || errors.As(err, &re) {
					t.Fatalf("err %T %v, want *RetryableError", err, err)
				}
				if rt.RetryAfter != c.want.RetryAfter {
					t.Errorf("RetryAfter %s, want %s", rt.RetryAfter, c.want.RetryAfter)
				}
			case other:
				if !errors.As(err, &se) || errors.As(err, &re) || errors.As(err, &rt) {
					t.Fatalf("err %T %v, want *StatusError", err, err)
				}
			}
			if err != nil && strings.Contains(err.Error(), "ada@example.com") {
				t.Errorf("error names the recipient: %v", err)
			}
		})
	}
}

func equalResponse(a, b client.Response) bool {
	return a.StatusCode == b.StatusCode && a.MessageID == b.MessageID && a.Outcome == b.Outcome &&
		a.Reason == b.Reason && strings.Join(a.Errors, "\n") == strings.Join(b.Errors, "\n") &&
		a.RetryAfter == b.RetryAfter && a.RequestID == b.RequestID && a.Error == b.Error
}

// TestURLSenderWrongCredentials: a signature with another secret is AWS's
// 403, a *StatusError (the set-up is wrong, not the request).
func TestURLSenderWrongCredentials(t *testing.T) {
	srv, _, _ := mailerDouble(t, 200, nil, `{"outcome":"sent","message_id":"x"}`)
	c := standin.CallerCredentials()
	s := client.NewURL(srv.URL, credentials.NewStaticCredentialsProvider(c.AccessKeyID, "wrong-secret", ""), standin.Region, nil)
	resp, err := s.Send(t.Context(), notice())
	var se *client.StatusError
	if !errors.As(err, &se) || resp.StatusCode != 403 || resp.Error != "Forbidden" {
		t.Fatalf("Send = %+v, %v; want 403 Forbidden as *StatusError", resp, err)
	}
}

// TestLocalRefusal: a request without a template or a recipient, or over
// 64 KiB, is refused before anything is sent, with its field paths.
func TestLocalRefusal(t *testing.T) {
	big := notice()
	big.Data = map[string]any{"heading": strings.Repeat("x", client.MaxRequestSize)}
	cases := []struct {
		name string
		req  client.Request
		want []string
	}{
		{"no template, no recipient", client.Request{}, []string{"template: required", "to: required"}},
		{"over 64 KiB", big, []string{"request: over 65536 bytes"}},
		{"data that is not JSON", client.Request{Template: "notice", To: "a@b.c", Data: func() {}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, hits, _ := mailerDouble(t, 200, nil, `{}`)
			resp, err := client.NewURL(srv.URL, testCreds(), standin.Region, nil).Send(t.Context(), c.req)
			var re *client.RefusedError
			if !errors.As(err, &re) || re.Reason != "request_invalid" || resp.Reason != "request_invalid" {
				t.Fatalf("URL Send err %v, want a local *RefusedError request_invalid", err)
			}
			if c.want != nil && strings.Join(re.Errors, "|") != strings.Join(c.want, "|") {
				t.Errorf("errors %q, want %q", re.Errors, c.want)
			}
			if hits.Load() != 0 {
				t.Error("a refused request was sent")
			}
			api := &countingSQS{}
			if _, err := client.NewSQS(api, "https://sqs.example/q").Send(t.Context(), c.req); !errors.As(err, &re) {
				t.Fatalf("SQS Send err %v, want *RefusedError", err)
			}
			if api.n != 0 {
				t.Error("a refused request went to SQS")
			}
		})
	}
}

type countingSQS struct{ n int }

func (c *countingSQS) SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	c.n++
	return &sqs.SendMessageOutput{MessageId: aws.String("m")}, nil
}

// TestURLSenderThroughFuncURLStandIn: the client's signature is accepted by
// the function URL stand-in, whose Lambda (the echo program under
// aws-lambda-rie) gets the request JSON as the body of a payload-2.0 event
// with the caller's ARN.
func TestURLSenderThroughFuncURLStandIn(t *testing.T) {
	f := standin.EchoFuncURLForTest(t)
	s := client.NewURL(f.URL, testCreds(), standin.Region, &http.Client{Timeout: 30 * time.Second})
	resp, err := s.Send(t.Context(), notice())
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if resp.StatusCode != 200 || resp.Outcome != "sent" || !strings.HasPrefix(resp.MessageID, "echo-") || resp.RequestID == "" {
		t.Fatalf("Response %+v", resp)
	}
	if f.Accepted() != 1 || f.Refused() != 0 {
		t.Fatalf("stand-in accepted %d, refused %d; want 1, 0", f.Accepted(), f.Refused())
	}
	var ev struct {
		Body           string `json:"body"`
		RequestContext struct {
			RequestID  string `json:"requestId"`
			Authorizer struct {
				IAM struct {
					UserARN string `json:"userArn"`
				} `json:"iam"`
			} `json:"authorizer"`
		} `json:"requestContext"`
	}
	if err := json.Unmarshal(f.Events()[0], &ev); err != nil {
		t.Fatal(err)
	}
	want, _ := notice().Encode()
	if ev.Body != string(want) {
		t.Errorf("the function got body %s, want %s", ev.Body, want)
	}
	if ev.RequestContext.Authorizer.IAM.UserARN != standin.FuncURLCallerARN || ev.RequestContext.RequestID != resp.RequestID {
		t.Errorf("event context %+v", ev.RequestContext)
	}
}

// TestSQSSender against moto's SQS: the message received back from the
// queue is the request's JSON, and Send returned its message id.
func TestSQSSender(t *testing.T) {
	m := standin.MotoForTest(t)
	api := sqs.New(sqs.Options{
		Region:       standin.Region,
		BaseEndpoint: aws.String(m.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	ctx := t.Context()
	q, err := api.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("phenom-mailer-test-send")})
	if err != nil {
		t.Fatal(err)
	}
	id, err := client.NewSQS(api, aws.ToString(q.QueueUrl)).Send(ctx, notice())
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	out, err := api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 {
		t.Fatalf("received %d messages, want 1", len(out.Messages))
	}
	msg := out.Messages[0]
	if aws.ToString(msg.MessageId) != id {
		t.Errorf("Send returned %q, the queue holds %q", id, aws.ToString(msg.MessageId))
	}
	want, _ := notice().Encode()
	if aws.ToString(msg.Body) != string(want) {
		t.Errorf("body %s, want %s", aws.ToString(msg.Body), want)
	}
	var back map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(msg.Body)), &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"template", "to", "locale", "data", "idempotency_key", "tags"} {
		if _, ok := back[k]; !ok {
			t.Errorf("body lacks %q", k)
		}
	}
	if len(back) != 6 {
		t.Errorf("body has %d fields, want the contract's 6: %v", len(back), back)
	}
}

// TestEncodeOmitsEmpty: the optional fields are left out, nil data is {}.
func TestEncodeOmitsEmpty(t *testing.T) {
	b, err := client.Request{Template: "welcome", To: "ada@example.com"}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"template":"welcome","to":"ada@example.com","data":{}}` {
		t.Errorf("Encode = %s", b)
	}
}

// TestImportsNoInternal: other Phenom services import this package; it
// must not link the mailer's internal packages (Go would refuse them
// outside this module anyway, and they would drag the whole mailer in).
func TestImportsNoInternal(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps gave %d packages", len(deps))
	}
	for _, d := range deps {
		if strings.HasPrefix(d, "github.com/Phenom-earth/phenom-mailer/") && d != "github.com/Phenom-earth/phenom-mailer/client" {
			t.Errorf("client links %s", d)
		}
	}
}

// TestEncodeNilMapData: a nil map is {} too, not null.
func TestEncodeNilMapData(t *testing.T) {
	var data map[string]any
	b, err := client.Request{Template: "welcome", To: "ada@example.com", Data: data}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"data":{}`) {
		t.Errorf("Encode = %s", b)
	}
}
