package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/Phenom-earth/phenom-mailer/client"
	"github.com/Phenom-earth/phenom-mailer/internal/delivery"
	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// The send function's tests: the real bootstrap (the Lambda build) under
// aws-lambda-rie with MAILER_SERVICE=true and no KMS key or pool, SES on
// moto behind fault proxies, the idempotency table on moto's DynamoDB, the
// send queue on moto's SQS and the function URL stand-in in front.

// Recipients the SES fault proxies act on: every SendEmail to
// throttledAddr is throttled while throttling is on, every SendEmail to
// slowAddr is held back slowSend before it reaches SES.
const (
	throttledAddr = "throttled@example.com"
	slowAddr      = "slow@example.com"
	slowSend      = 3 * time.Second
)

type serviceStack struct {
	bootstrap string
	ses       string // the SES endpoint the function uses (the outer proxy)
	throttle  *standin.FaultProxy
	table     string
	// deliveries is the delivery record's table (MAILER_DELIVERY_TABLE).
	deliveries string
	env        []string
}

var serviceTableSeq atomic.Int64

// newServiceStack resets moto (the From domain with DKIM SUCCESS), creates
// an idempotency table, starts the SES fault proxies and builds the
// bootstrap.
func newServiceStack(t *testing.T) *serviceStack {
	t.Helper()
	needStack(t)
	if _, err := standin.FindRIE(); err != nil {
		standin.SkipOrFail(t, err)
	}
	freshSES(t, true)
	n := serviceTableSeq.Add(1)
	s := &serviceStack{table: fmt.Sprintf("mailer-service-idempotency-%d", n), deliveries: fmt.Sprintf("mailer-service-deliveries-%d", n)}
	if err := motoStandin.CreateIdempotencyTable(context.Background(), s.table); err != nil {
		t.Fatal(err)
	}
	if err := motoStandin.CreateDeliveryTable(context.Background(), s.deliveries); err != nil {
		t.Fatal(err)
	}
	slow, err := standin.StartFaultProxy(motoStandin.URL, sendEmailTo(slowAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { slow.Close() })
	slow.Always(&standin.Fault{Kind: standin.Delay, Delay: slowSend})
	if s.throttle, err = standin.StartFaultProxy(slow.URL, sendEmailTo(throttledAddr)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.throttle.Close() })
	s.throttleOn(true)
	s.ses = s.throttle.URL
	s.bootstrap = buildBootstrap(t)
	s.env = []string{
		"MAILER_SERVICE=true",
		"MAILER_SERVICE_CONCURRENCY=1",
		"MAILER_SERVICE_RATE=50",
		"AWS_ENDPOINT_URL_SESV2=" + s.ses,
		"AWS_ENDPOINT_URL_DYNAMODB=" + motoStandin.URL,
		"MAILER_IDEMPOTENCY_TABLE=" + s.table,
		"MAILER_ENVIRONMENT=rie",
		"MAILER_DKIM_SELECTOR=mailer",
		"MAILER_DKIM_PRIVATE_KEY=" + dkimKeyPEM,
		// The send function has none of the Cognito sender's variables.
		"MAILER_DELIVERY_TABLE=" + s.deliveries,
		"MAILER_KMS_KEY_ARNS=", "MAILER_ALLOWED_POOLS=", "MAILER_DELIVERY=",
		"MAILER_FROM=", "MAILER_REQUIRE_DKIM=", "MAILER_CHECK_SUPPRESSION=",
	}
	return s
}

func (s *serviceStack) throttleOn(on bool) {
	if on {
		f := standin.Throttle(429, "TooManyRequestsException")
		s.throttle.Always(&f)
		return
	}
	s.throttle.Always(nil)
}

// start runs one instance of the send function (Lambda would run several).
func (s *serviceStack) start(t *testing.T, extra ...string) *standin.RIE {
	t.Helper()
	return standin.RIEForTest(t, s.bootstrap, append(slices.Clone(s.env), extra...)...)
}

// sendEmailTo selects the SES SendEmail calls to addr.
func sendEmailTo(addr string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		if !isSendEmail(r) {
			return false
		}
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		return bytes.Contains(b, []byte(`"`+addr+`"`))
	}
}

// invokeRIE posts one event to the emulator and returns the function's
// answer; a function error fails the test.
func invokeRIE(t *testing.T, r *standin.RIE, event []byte) []byte {
	t.Helper()
	b, err := postEvent(r, event)
	if err != nil {
		t.Fatalf("%v\n%s", err, r.Logs.String())
	}
	return b
}

// postEvent is invokeRIE for another goroutine than the test's.
func postEvent(r *standin.RIE, event []byte) ([]byte, error) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Post(r.InvokeURL, "application/json", bytes.NewReader(event))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.Header.Get("X-Amz-Function-Error") != "" || bytes.Contains(b, []byte(`"errorMessage"`)) {
				return nil, fmt.Errorf("function error: %s", b)
			}
			return b, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("emulator never answered: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sendQueue is a queue on moto's SQS with a one-second visibility timeout,
// read as Lambda's event source mapping reads it.
type sendQueue struct {
	url, arn string
	client   *sqs.Client
}

func newSendQueue(t *testing.T) *sendQueue {
	t.Helper()
	ctx := context.Background()
	c := motoStandin.SQSClient()
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName:  aws.String(fmt.Sprintf("mailer-send-%d", time.Now().UnixNano())),
		Attributes: map[string]string{"VisibilityTimeout": "1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	return &sendQueue{url: aws.ToString(out.QueueUrl), arn: attrs.Attributes["QueueArn"], client: c}
}

func (q *sendQueue) send(t *testing.T, body string) string {
	t.Helper()
	out, err := q.client.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &q.url, MessageBody: &body})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.MessageId)
}

// receive waits (up to 10 s) until want messages are visible and returns
// them as the SQS event the event source mapping hands the function,
// without deleting them.
func (q *sendQueue) receive(t *testing.T, want int) (event []byte, receipts map[string]string) {
	t.Helper()
	var recs []events.SQSMessage
	receipts = map[string]string{}
	deadline := time.Now().Add(10 * time.Second)
	for len(recs) < want && time.Now().Before(deadline) {
		out, err := q.client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: &q.url, MaxNumberOfMessages: int32(want - len(recs)), WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			recs = append(recs, events.SQSMessage{
				MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
				Body: aws.ToString(m.Body), Md5OfBody: aws.ToString(m.MD5OfBody), Attributes: m.Attributes,
				MessageAttributes: map[string]events.SQSMessageAttribute{},
				EventSource:       "aws:sqs", EventSourceARN: q.arn, AWSRegion: standin.Region,
			})
			receipts[aws.ToString(m.MessageId)] = aws.ToString(m.ReceiptHandle)
		}
	}
	if len(recs) != want {
		t.Fatalf("received %d messages, want %d", len(recs), want)
	}
	b, err := json.Marshal(events.SQSEvent{Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	return b, receipts
}

// settle deletes the messages that are not batch item failures, as the
// event source mapping does with ReportBatchItemFailures.
func (q *sendQueue) settle(t *testing.T, receipts map[string]string, failed []string) {
	t.Helper()
	for id, rh := range receipts {
		if slices.Contains(failed, id) {
			continue
		}
		if _, err := q.client.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: &q.url, ReceiptHandle: aws.String(rh)}); err != nil {
			t.Fatal(err)
		}
	}
}

func batchFailures(t *testing.T, answer []byte) []string {
	t.Helper()
	var resp struct {
		BatchItemFailures []struct {
			ItemIdentifier string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(answer, &resp); err != nil || resp.BatchItemFailures == nil {
		t.Fatalf("answer %s is not an SQS batch response (%v)", answer, err)
	}
	ids := []string{}
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

// recipients are the To addresses of the mails moto holds.
func recipients(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, raw := range sentMails(t) {
		env := parseMail(t, raw)
		out = append(out, strings.Trim(env.GetHeader("To"), "<>"))
	}
	slices.Sort(out)
	return out
}

func noticeRequest(to, key string) string {
	b, _ := json.Marshal(map[string]any{
		"template": "notice", "to": to, "locale": "es",
		"data":            map[string]any{"subject": "Export ready", "heading": "Export ready", "paragraphs": []string{"Your dossier export finished."}},
		"idempotency_key": key, "tags": map[string]string{"service": "docs"},
	})
	return string(b)
}

// TestSendQueueUnderRIE: a batch from the send queue with good, refused
// and throttled messages gives exactly the throttled one as a batch item
// failure, one mail per good message and none for the refused one; the
// throttled message, received again from the queue, is sent then.
func TestSendQueueUnderRIE(t *testing.T) {
	s := newServiceStack(t)
	q := newSendQueue(t)
	fn := s.start(t)

	good1 := q.send(t, noticeRequest("ada@example.com", ""))
	good2 := q.send(t, `{"template":"welcome","to":"grace@example.com","data":{"name":"Grace"}}`)
	bad := q.send(t, `{"template":"notice","to":"bob@example.com","data":{"subject":"x","heading":"x","paragraphs":["x"],"button":{"label":"Open","url":"http://insecure.example"}}}`)
	throttled := q.send(t, noticeRequest(throttledAddr, ""))

	event, receipts := q.receive(t, 4)
	failed := batchFailures(t, invokeRIE(t, fn, event))
	if len(failed) != 1 || failed[0] != throttled {
		t.Fatalf("batch item failures %v, want only the throttled message %s (good %s %s, bad %s)\n%s", failed, throttled, good1, good2, bad, fn.Logs.String())
	}
	q.settle(t, receipts, failed)
	if got := recipients(t); !slices.Equal(got, []string{"ada@example.com", "grace@example.com"}) {
		t.Fatalf("mails to %v, want one to each good message's recipient", got)
	}

	// SES accepts again; SQS hands the throttled message back after its
	// visibility timeout, and it is sent once.
	s.throttleOn(false)
	event, receipts = q.receive(t, 1)
	if _, ok := receipts[throttled]; !ok {
		t.Fatalf("redelivered %v, want %s", receipts, throttled)
	}
	if failed := batchFailures(t, invokeRIE(t, fn, event)); len(failed) != 0 {
		t.Fatalf("redelivery: batch item failures %v\n%s", failed, fn.Logs.String())
	}
	q.settle(t, receipts, nil)
	if got := recipients(t); !slices.Equal(got, []string{"ada@example.com", "grace@example.com", throttledAddr}) {
		t.Fatalf("mails to %v after the redelivery", got)
	}
	for _, raw := range sentMails(t) {
		verifyDKIM(t, raw)
	}

	// The delivery record holds each attempt: the throttled one failed,
	// then sent; the refused one refused.
	store := &delivery.Store{Client: motoStandin.DynamoClient(), Table: s.deliveries}
	for addr, want := range map[string][]string{throttledAddr: {"failed/ses_throttled", "sent/"}, "bob@example.com": {"refused/request_invalid"}, "ada@example.com": {"sent/"}} {
		mails, err := store.ByRecipient(context.Background(), addr, time.Now().Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range mails {
			for _, a := range m.Attempts {
				if a.Source != delivery.SourceService || a.Trigger == "" || a.RequestID == "" {
					t.Errorf("%s: attempt %+v", addr, a)
				}
				got = append(got, a.Outcome+"/"+a.Reason)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: delivery record %v, want %v", addr, got, want)
		}
	}
	out, _ := q.client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &q.url, WaitTimeSeconds: 2})
	if len(out.Messages) != 0 {
		t.Errorf("%d messages left in the queue", len(out.Messages))
	}

	logs := fn.Logs.String()
	for _, want := range []string{
		`"message":"send service ready"`, `"message":"service mail refused"`, `"reason":"request_invalid"`,
		`"reason":"ses_throttled"`, `"ServiceMails":1`, `"Template":"notice"`, `"Service":"docs"`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the function's output lacks %s", want)
		}
	}
	if n := strings.Count(logs, `"message":"service mail sent"`); n != 3 {
		t.Errorf("%d sent lines, want 3", n)
	}
	assertNoSecrets(t, "send function logs", logs, "ada@example.com", "grace@example.com", "Your dossier export finished.")
}

// funcURLPost signs body as the test caller and POSTs it to the function
// URL stand-in.
func funcURLPost(t *testing.T, f *standin.FuncURL, method, path, contentType, body string) (int, http.Header, map[string]any) {
	t.Helper()
	status, h, answer, err := funcURLDo(f, method, path, contentType, body)
	if err != nil {
		t.Fatal(err)
	}
	return status, h, answer
}

// funcURLDo is funcURLPost for another goroutine than the test's.
func funcURLDo(f *standin.FuncURL, method, path, contentType, body string) (int, http.Header, map[string]any, error) {
	req, err := http.NewRequest(method, f.URL+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), standin.CallerCredentials(), req, hex.EncodeToString(sum[:]), "lambda", standin.Region, time.Now()); err != nil {
		return 0, nil, nil, err
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var answer map[string]any
	if err := json.Unmarshal(raw, &answer); err != nil {
		return 0, nil, nil, fmt.Errorf("HTTP %d, body %q is not JSON", resp.StatusCode, raw)
	}
	return resp.StatusCode, resp.Header, answer, nil
}

// TestFunctionURLUnderRIE: every status of the function URL, from the
// payload-2.0 events the function URL stand-in makes of signed requests,
// answered by the real bootstrap under aws-lambda-rie.
func TestFunctionURLUnderRIE(t *testing.T) {
	s := newServiceStack(t)
	fn := s.start(t)
	f := standin.FuncURLForTest(t, fn.InvokeURL)
	// A second instance of the function (Lambda runs several at once;
	// aws-lambda-rie runs one invocation at a time).
	fn2 := s.start(t)
	f2 := standin.FuncURLForTest(t, fn2.InvokeURL)
	type answerWant struct {
		status  int
		outcome string
		reason  string
	}
	check := func(name string, status int, h http.Header, a map[string]any, w answerWant) {
		t.Helper()
		if status != w.status || a["outcome"] != w.outcome || w.reason != "" && a["reason"] != w.reason || h.Get("Content-Type") != "application/json" {
			t.Errorf("%s: HTTP %d %v, want %d %s %s", name, status, a, w.status, w.outcome, w.reason)
		}
	}

	// 200: sent, with SES's message id; the body may arrive base64-encoded.
	status, h, a := funcURLPost(t, f, "POST", "/v1/send", "application/json", noticeRequest("ada@example.com", "k-sent"))
	check("sent", status, h, a, answerWant{200, "sent", ""})
	if a["message_id"] == "" || a["message_id"] == nil || a["request_id"] == nil {
		t.Errorf("sent without a message id or request id: %v", a)
	}
	status, h, a = funcURLPost(t, f, "POST", "/v1/send", "application/octet-stream", `{"template":"welcome","to":"grace@example.com","data":{"name":"Grace"}}`)
	check("sent, base64 body", status, h, a, answerWant{200, "sent", ""})
	if n := len(f.Events()); n != 2 || !strings.Contains(string(f.Events()[1]), `"isBase64Encoded":true`) {
		t.Errorf("the stand-in did not base64-encode the binary body")
	}

	// 400: every problem at once, each with its field path.
	status, h, a = funcURLPost(t, f, "POST", "/v1/send", "application/json",
		`{"template":"notice","to":"not an address","locale":"e s","data":{"subject":"","paragraphs":[],"button":{"label":"Open","url":"http://insecure.example"}},"idempotency_key":"has space","tags":{"template":"x","service":"bad value"}}`)
	check("invalid", status, h, a, answerWant{400, "refused", "request_invalid"})
	errs, _ := json.Marshal(a["errors"])
	for _, path := range []string{"to:", "locale:", "data.heading:", "data.paragraphs", "data.button.url:", "idempotency_key:", "tags.template:", "tags.service:"} {
		if !strings.Contains(string(errs), `"`+path) {
			t.Errorf("400 errors lack %s: %s", path, errs)
		}
	}
	status, h, a = funcURLPost(t, f, "POST", "/v1/send", "application/json", `{"template":"invoice","to":"ada@example.com","data":{}}`)
	check("unknown template", status, h, a, answerWant{400, "refused", "unknown_template"})

	// 409 while the same key is in flight on another instance; 200 with
	// the first message id once sent; 422 for another request with it.
	slowReq := noticeRequest(slowAddr, "k-slow")
	type result struct {
		status int
		a      map[string]any
		err    error
	}
	first := make(chan result, 1)
	go func() {
		status, _, a, err := funcURLDo(f, "POST", "/v1/send", "application/json", slowReq)
		first <- result{status, a, err}
	}()
	waitForClaims(t, s.table, 2) // k-sent, then k-slow
	status, h, a = funcURLPost(t, f2, "POST", "/v1/send", "application/json", slowReq)
	check("in flight", status, h, a, answerWant{409, "duplicate", "in_progress"})
	r := <-first
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.status != 200 || r.a["outcome"] != "sent" || r.a["message_id"] == nil {
		t.Fatalf("the slow request: HTTP %d %v", r.status, r.a)
	}
	status, h, a = funcURLPost(t, f2, "POST", "/v1/send", "application/json", slowReq)
	check("repeat", status, h, a, answerWant{200, "duplicate", "already_sent"})
	if a["message_id"] != r.a["message_id"] {
		t.Errorf("repeat: message id %v, want the first one %v", a["message_id"], r.a["message_id"])
	}
	status, h, a = funcURLPost(t, f, "POST", "/v1/send", "application/json", noticeRequest("other@example.com", "k-slow"))
	check("conflict", status, h, a, answerWant{422, "refused", "idempotency_conflict"})

	// 429 with Retry-After when SES throttles.
	status, h, a = funcURLPost(t, f, "POST", "/v1/send", "application/json", noticeRequest(throttledAddr, "k-throttled"))
	check("throttled", status, h, a, answerWant{429, "failed", "ses_throttled"})
	if h.Get("Retry-After") != "1" {
		t.Errorf("429 Retry-After %q, want 1", h.Get("Retry-After"))
	}

	// Only POST /v1/send.
	status, _, a = funcURLPost(t, f, "GET", "/v1/send", "", "")
	if status != 405 || a["error"] == nil {
		t.Errorf("GET: HTTP %d %v", status, a)
	}
	status, _, a = funcURLPost(t, f, "POST", "/v2/send", "application/json", noticeRequest("ada@example.com", ""))
	if status != 404 || a["error"] == nil {
		t.Errorf("wrong path: HTTP %d %v", status, a)
	}

	if got := recipients(t); !slices.Equal(got, []string{"ada@example.com", "grace@example.com", slowAddr}) {
		t.Errorf("mails to %v", got)
	}
	logs := fn.Logs.String() + fn2.Logs.String()
	if !strings.Contains(logs, `"caller":"`+standin.FuncURLCallerARN+`"`) || !strings.Contains(logs, `"service":"hasura"`) {
		t.Errorf("the caller's ARN and name are not in the log lines")
	}
	assertNoSecrets(t, "send function logs", logs, "ada@example.com", "grace@example.com", "Your dossier export finished.")

	// 503 while the From identity has no DKIM SUCCESS: another function
	// whose From domain is an SES identity without DKIM.
	if _, err := motoStandin.SESClient().CreateEmailIdentity(context.Background(), sesCreateInput("notready.example")); err != nil {
		t.Fatal(err)
	}
	fn3 := s.start(t, "MAILER_FROM=Phenom <noreply@notready.example>", "MAILER_DKIM_SELECTOR=", "MAILER_DKIM_PRIVATE_KEY=")
	f3 := standin.FuncURLForTest(t, fn3.InvokeURL)
	status, h, a = funcURLPost(t, f3, "POST", "/v1/send", "application/json", noticeRequest("ada@example.com", "k-notready"))
	check("not ready", status, h, a, answerWant{503, "failed", "dkim_not_ready"})
	if h.Get("Retry-After") != "60" {
		t.Errorf("503 Retry-After %q, want 60", h.Get("Retry-After"))
	}
	if n := len(sentMails(t)); n != 3 {
		t.Errorf("SES holds %d mails, want 3", n)
	}
}

// waitForClaims waits until the idempotency table holds n items.
func waitForClaims(t *testing.T, table string, n int) {
	t.Helper()
	deadline := time.Now().Add(slowSend)
	for {
		out, err := motoStandin.DynamoClient().Scan(context.Background(), &dynamodb.ScanInput{TableName: &table})
		if err != nil {
			t.Fatal(err)
		}
		if int(out.Count) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the idempotency table holds %d items, want %d", out.Count, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClientEndToEndUnderRIE: the Go client package, as another Phenom
// service uses it, against the real send function: over the function URL
// (signed, through the stand-in) it gets SES's message id, and the mail is
// in moto; over SQS (client.NewSQS into moto's queue) its message, handed
// to the function as the event source mapping would, is sent too.
func TestClientEndToEndUnderRIE(t *testing.T) {
	s := newServiceStack(t)
	fn := s.start(t)
	f := standin.FuncURLForTest(t, fn.InvokeURL)
	creds := standin.CallerCredentials()
	provider := credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, "")
	ctx := context.Background()

	url := client.NewURL(f.URL, provider, standin.Region, &http.Client{Timeout: time.Minute})
	resp, err := url.Send(ctx, client.Request{
		Template: "notice", To: "ada@example.com", Locale: "es",
		Data:           map[string]any{"subject": "Export ready", "heading": "Export ready", "paragraphs": []string{"Your dossier export finished."}},
		IdempotencyKey: "order-42-export",
	})
	if err != nil || resp.StatusCode != 200 || resp.Outcome != "sent" || resp.MessageID == "" || resp.RequestID == "" {
		t.Fatalf("URL: %+v, %v\n%s", resp, err, fn.Logs.String())
	}
	sent, err := motoStandin.SentEmails()
	if err != nil || len(sent) != 1 {
		t.Fatalf("moto holds %d mails (%v), want 1", len(sent), err)
	}
	if !strings.Contains(fn.Logs.String(), `"message_id":"`+resp.MessageID+`"`) {
		t.Errorf("the log line lacks SES's message id %s", resp.MessageID)
	}
	again, err := url.Send(ctx, client.Request{
		Template: "notice", To: "ada@example.com", Locale: "es",
		Data:           map[string]any{"subject": "Export ready", "heading": "Export ready", "paragraphs": []string{"Your dossier export finished."}},
		IdempotencyKey: "order-42-export",
	})
	if err != nil || again.Outcome != "duplicate" || again.MessageID != resp.MessageID {
		t.Errorf("repeat: %+v, %v; want the first message id", again, err)
	}
	_, err = url.Send(ctx, client.Request{Template: "notice", To: "ada@example.com", Data: map[string]any{"subject": "x"}})
	var refused *client.RefusedError
	if !errors.As(err, &refused) || refused.StatusCode != 400 || len(refused.Errors) < 2 {
		t.Errorf("invalid request: %v", err)
	}

	q := newSendQueue(t)
	id, err := client.NewSQS(q.client, q.url).Send(ctx, client.Request{Template: "welcome", To: "grace@example.com", Data: map[string]string{"name": "Grace"}, Tags: map[string]string{"service": "chat"}})
	if err != nil || id == "" {
		t.Fatalf("SQS: %q, %v", id, err)
	}
	event, receipts := q.receive(t, 1)
	if _, ok := receipts[id]; !ok {
		t.Fatalf("received %v, want %s", receipts, id)
	}
	if failed := batchFailures(t, invokeRIE(t, fn, event)); len(failed) != 0 {
		t.Fatalf("SQS: batch item failures %v\n%s", failed, fn.Logs.String())
	}
	if got := recipients(t); !slices.Equal(got, []string{"ada@example.com", "grace@example.com"}) {
		t.Errorf("mails to %v", got)
	}
	if !strings.Contains(fn.Logs.String(), `"service":"chat"`) {
		t.Error("the SQS message's service tag is not in its log line")
	}
}

// TestSendQueueInFlightUnderRIE: two messages of the same request (same
// idempotency key) reach two instances at once. The second finds the key
// in flight and goes back to the queue; delivered again after the first
// was sent, it is a duplicate: one mail in all.
func TestSendQueueInFlightUnderRIE(t *testing.T) {
	s := newServiceStack(t)
	q := newSendQueue(t)
	fn1, fn2 := s.start(t), s.start(t)
	req := noticeRequest(slowAddr, "export-7")
	first := q.send(t, req)
	event1, receipts1 := q.receive(t, 1)
	second := q.send(t, req)
	if _, ok := receipts1[first]; !ok {
		t.Fatalf("received %v, want %s", receipts1, first)
	}
	type answer struct {
		b   []byte
		err error
	}
	done := make(chan answer, 1)
	go func() {
		b, err := postEvent(fn1, event1)
		done <- answer{b, err}
	}()
	waitForClaims(t, s.table, 1)

	event2, receipts2 := q.receive(t, 1)
	if _, ok := receipts2[second]; !ok {
		t.Fatalf("received %v, want %s", receipts2, second)
	}
	failed := batchFailures(t, invokeRIE(t, fn2, event2))
	if len(failed) != 1 || failed[0] != second {
		t.Fatalf("in flight: batch item failures %v, want %s\n%s", failed, second, fn2.Logs.String())
	}
	q.settle(t, receipts2, failed)
	a1 := <-done
	if a1.err != nil {
		t.Fatalf("first: %v\n%s", a1.err, fn1.Logs.String())
	}
	if failed := batchFailures(t, a1.b); len(failed) != 0 {
		t.Fatalf("first: batch item failures %v\n%s", failed, fn1.Logs.String())
	}
	q.settle(t, receipts1, nil)

	event2, receipts2 = q.receive(t, 1)
	if _, ok := receipts2[second]; !ok {
		t.Fatalf("redelivered %v, want %s", receipts2, second)
	}
	if failed := batchFailures(t, invokeRIE(t, fn2, event2)); len(failed) != 0 {
		t.Fatalf("redelivery: batch item failures %v\n%s", failed, fn2.Logs.String())
	}
	q.settle(t, receipts2, nil)
	if n := len(sentMails(t)); n != 1 {
		t.Errorf("SES holds %d mails, want 1", n)
	}
	if logs := fn2.Logs.String(); !strings.Contains(logs, `"reason":"in_progress"`) || !strings.Contains(logs, `"reason":"already_sent"`) {
		t.Errorf("the second instance's lines lack in_progress then already_sent:\n%s", logs)
	}
}
