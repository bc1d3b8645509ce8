package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/Phenom-earth/phenom-mailer/internal/service"
	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// These tests run `mailer invoke` on the send service's events, the
// examples in testdata/service: an SQS event of send requests and a
// function URL event (payload format 2.0). What it prints is what Lambda
// would return.

func readServiceEvent(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(mustRepoFile(t, "testdata/service/"+name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// invokeServiceStack is the send function's environment against moto, with the
// idempotency table, and SES behind a proxy that can throttle the sends.
func invokeServiceStack(t *testing.T) *standin.FaultProxy {
	t.Helper()
	proxy, err := standin.StartFaultProxy(motoStandin.URL, isSendEmail)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	newFaultStack(t, true, map[string]string{
		"AWS_ENDPOINT_URL_SESV2": proxy.URL,
		"MAILER_SERVICE":         "true",
		"MAILER_TIMEOUT":         "20s",
	})
	return proxy
}

func TestInvokeServiceSQSEvent(t *testing.T) {
	needStack(t)
	proxy := invokeServiceStack(t)
	event := readServiceEvent(t, "sqs-event.json")
	type response struct {
		BatchItemFailures []struct {
			ItemIdentifier string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	failures := func(line []byte) []string {
		t.Helper()
		var r response
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil || r.BatchItemFailures == nil {
			t.Fatalf("%s is not an SQS batch response (%v)", line, err)
		}
		var ids []string
		for _, f := range r.BatchItemFailures {
			ids = append(ids, f.ItemIdentifier)
		}
		sort.Strings(ids)
		return ids
	}

	// SES throttles every send: the two good requests go back to the
	// queue, the unknown template is refused and dropped.
	throttle := standin.Throttle(429, "TooManyRequestsException")
	proxy.Always(&throttle)
	line, exit, logs := invokeRaw(t, event)
	want := []string{"0b3c2a1e-7f5d-4c3b-9a8e-1d2f3a4b5c01", "0b3c2a1e-7f5d-4c3b-9a8e-1d2f3a4b5c02"}
	if got := failures(line); strings.Join(got, ",") != strings.Join(want, ",") || exit != exitRetryable {
		t.Fatalf("throttled: exit %d, batchItemFailures %v; want exit 4 and %v", exit, got, want)
	}
	if !strings.Contains(logs, `"reason":"unknown_template"`) {
		t.Error("the refused request is not logged with its reason")
	}
	if n := len(sentMails(t)); n != 0 {
		t.Fatalf("%d mails while throttled", n)
	}

	// SQS delivers the batch again (the refused one too, in this test):
	// both good requests are sent, nothing goes back.
	proxy.Always(nil)
	line, exit, logs = invokeRaw(t, event)
	if got := failures(line); len(got) != 0 || exit != 0 {
		t.Fatalf("redelivery: exit %d, batchItemFailures %v; want exit 0 and none", exit, got)
	}
	mails := sentMails(t)
	if len(mails) != 2 {
		t.Fatalf("%d mails, want 2", len(mails))
	}
	subjects := []string{parseMail(t, mails[0]).GetHeader("Subject"), parseMail(t, mails[1]).GetHeader("Subject")}
	if !strings.Contains(strings.Join(subjects, "|"), "Your export is ready") {
		t.Errorf("subjects %q: the notice's is missing", subjects)
	}
	assertNoSecrets(t, "logs", logs, "test-staging@thephenom.app", "qa+welcome@thephenom.app", "Your dossier export finished")

	// And once more: every request is a duplicate now (by its key, or by
	// the SQS message id), no mail, nothing back to the queue.
	line, exit, _ = invokeRaw(t, event)
	if got := failures(line); len(got) != 0 || exit != 0 {
		t.Fatalf("third delivery: exit %d, batchItemFailures %v", exit, got)
	}
	if n := len(sentMails(t)); n != 2 {
		t.Fatalf("%d mails after a repeated batch, want still 2", n)
	}
}

// urlAnswer is a function URL's answer as the Lambda returns it.
type urlAnswer struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
}

func (r urlAnswer) body(t *testing.T) map[string]any {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal([]byte(r.Body), &b); err != nil {
		t.Fatalf("body %q is not JSON: %v", r.Body, err)
	}
	return b
}

func invokeURL(t *testing.T, event []byte) (urlAnswer, int, string) {
	t.Helper()
	line, exit, logs := invokeRaw(t, event)
	var r urlAnswer
	if err := json.Unmarshal(line, &r); err != nil || r.StatusCode == 0 {
		t.Fatalf("%s is not a function URL response (%v)", line, err)
	}
	if r.Headers["Content-Type"] != "application/json" {
		t.Errorf("headers %v, want Content-Type application/json", r.Headers)
	}
	return r, exit, logs
}

// editURLEvent changes the example URL event.
func editURLEvent(t *testing.T, edit func(ev map[string]any)) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(readServiceEvent(t, "url-event.json"), &ev); err != nil {
		t.Fatal(err)
	}
	edit(ev)
	return marshal(t, ev)
}

func TestInvokeServiceURLEvent(t *testing.T) {
	needStack(t)
	proxy := invokeServiceStack(t)
	event := readServiceEvent(t, "url-event.json")

	res, exit, logs := invokeURL(t, event)
	b := res.body(t)
	if res.StatusCode != 200 || exit != 0 || b["outcome"] != "sent" || b["message_id"] == "" || b["message_id"] == nil {
		t.Fatalf("exit %d, %d %s", exit, res.StatusCode, res.Body)
	}
	first := b["message_id"]
	if n := len(sentMails(t)); n != 1 {
		t.Fatalf("%d mails, want 1", n)
	}
	// The caller's IAM name is the service tag; its ARN is recorded.
	if !strings.Contains(logs, `"service":"hasura"`) || !strings.Contains(logs, `"caller":"arn:aws:iam::111122223333:user/hasura"`) {
		t.Errorf("the log line does not name the caller:\n%s", logs)
	}
	assertNoSecrets(t, "logs and response", logs+res.Body, "test-staging@thephenom.app", "Your dossier export finished")

	// The same request again (its body base64-encoded this time): 200 with
	// the first message id, no second mail.
	again := editURLEvent(t, func(ev map[string]any) {
		ev["body"] = base64.StdEncoding.EncodeToString([]byte(ev["body"].(string)))
		ev["isBase64Encoded"] = true
	})
	res, exit, _ = invokeURL(t, again)
	if b := res.body(t); res.StatusCode != 200 || exit != 0 || b["outcome"] != "duplicate" || b["message_id"] != first {
		t.Fatalf("repeat: exit %d, %d %s; want 200 duplicate with message id %v", exit, res.StatusCode, res.Body, first)
	}

	// The key with another request: 422.
	conflict := editURLEvent(t, func(ev map[string]any) {
		ev["body"] = strings.Replace(ev["body"].(string), `"locale":"es"`, `"locale":"fr"`, 1)
	})
	res, exit, _ = invokeURL(t, conflict)
	if b := res.body(t); res.StatusCode != 422 || exit != exitRefused || b["reason"] != "idempotency_conflict" {
		t.Fatalf("conflict: exit %d, %d %s; want 422 idempotency_conflict and exit 3", exit, res.StatusCode, res.Body)
	}

	// A request with field problems: 400 with each problem's path.
	bad := editURLEvent(t, func(ev map[string]any) {
		ev["body"] = `{"template":"notice","to":"ada@example.com","data":{"heading":"h","paragraphs":["p"],"button":{"label":"b","url":"http://x.example"}}}`
	})
	res, exit, _ = invokeURL(t, bad)
	if b := res.body(t); res.StatusCode != 400 || exit != exitRefused || !strings.Contains(res.Body, "data.button.url: must be an absolute https URL") || b["reason"] != "request_invalid" {
		t.Fatalf("bad request: exit %d, %d %s", exit, res.StatusCode, res.Body)
	}

	// Throttled: 429 with Retry-After, exit 4.
	throttle := standin.Throttle(429, "TooManyRequestsException")
	proxy.Always(&throttle)
	fresh := editURLEvent(t, func(ev map[string]any) {
		ev["body"] = strings.Replace(ev["body"].(string), `"idempotency_key":"export-43"`, `"idempotency_key":"export-44"`, 1)
	})
	res, exit, _ = invokeURL(t, fresh)
	if res.StatusCode != 429 || res.Headers["Retry-After"] == "" || exit != exitRetryable {
		t.Fatalf("throttled: exit %d, %d %v %s; want 429 with Retry-After and exit 4", exit, res.StatusCode, res.Headers, res.Body)
	}
	proxy.Always(nil)

	// Wrong path and method.
	for _, tt := range []struct {
		method, path string
		status       int
	}{{"POST", "/v2/send", 404}, {"GET", "/v1/send", 405}} {
		ev := editURLEvent(t, func(ev map[string]any) {
			ev["rawPath"] = tt.path
			http := ev["requestContext"].(map[string]any)["http"].(map[string]any)
			http["method"], http["path"] = tt.method, tt.path
		})
		res, exit, _ := invokeURL(t, ev)
		if res.StatusCode != tt.status || exit != exitRefused {
			t.Errorf("%s %s: exit %d, %d %s; want %d and exit 3", tt.method, tt.path, exit, res.StatusCode, res.Body, tt.status)
		}
	}
	if n := len(sentMails(t)); n != 1 {
		t.Fatalf("%d mails in all, want 1", n)
	}
}

// Without MAILER_SERVICE=true `mailer invoke` does what the bootstrap
// does: a function URL event is not served, and a send-queue event goes
// to the SES events handler (here not configured either): exit 2, saying
// which variable is missing.
func TestInvokeServiceEventsNeedTheSendFunction(t *testing.T) {
	for _, name := range []string{"sqs-event.json", "url-event.json"} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), []string{"invoke", "--event", mustRepoFile(t, "testdata/service/"+name)},
			envMap(map[string]string{"MAILER_DELIVERY": "maildir:" + t.TempDir()}), nil, &stdout, &stderr)
		var ee *exitError
		if !errors.As(err, &ee) || ee.Code != exitUsage || !strings.Contains(err.Error(), "MAILER_SERVICE=true") {
			t.Errorf("%s: err %v, want exit 2 naming MAILER_SERVICE=true", name, err)
		}
		if stdout.Len() != 0 {
			t.Errorf("%s: printed %q", name, stdout.String())
		}
	}
}

// The example events in testdata/service stay what Lambda sends: the SQS
// event's md5OfBody match the bodies, every body is a send request, the
// URL event has exactly the fields of the function URL stand-in's event
// (payload format 2.0), and eventShapeOf routes both to the send service.
func TestServiceExampleEvents(t *testing.T) {
	sqsEvent := readServiceEvent(t, "sqs-event.json")
	if got := eventShapeOf(sqsEvent); got != shapeSendQueue {
		t.Errorf("sqs-event.json: shape %d, want the send queue", got)
	}
	var ev struct {
		Records []struct {
			MessageID string `json:"messageId"`
			Body      string `json:"body"`
			MD5OfBody string `json:"md5OfBody"`
		} `json:"Records"`
	}
	if err := json.Unmarshal(sqsEvent, &ev); err != nil || len(ev.Records) != 3 {
		t.Fatalf("sqs-event.json: %v, %d records", err, len(ev.Records))
	}
	for _, r := range ev.Records {
		if sum := md5.Sum([]byte(r.Body)); hex.EncodeToString(sum[:]) != r.MD5OfBody {
			t.Errorf("record %s: md5OfBody does not match its body", r.MessageID)
		}
		if _, err := service.Decode([]byte(r.Body)); err != nil {
			t.Errorf("record %s: %v", r.MessageID, err)
		}
	}

	urlEvent := readServiceEvent(t, "url-event.json")
	if got := eventShapeOf(urlEvent); got != shapeFuncURL {
		t.Errorf("url-event.json: shape %d, want the function URL", got)
	}
	dec := json.NewDecoder(bytes.NewReader(urlEvent))
	dec.DisallowUnknownFields()
	var u standin.FuncURLEvent
	if err := dec.Decode(&u); err != nil {
		t.Fatalf("url-event.json is not the stand-in's payload-2.0 event: %v", err)
	}
	if u.Version != "2.0" || u.RequestContext.HTTP.Method != "POST" || u.RawPath != service.Path || u.RequestContext.Authorizer.IAM.UserARN == "" {
		t.Errorf("url-event.json: %+v", u)
	}
	if _, err := service.Decode([]byte(u.Body)); err != nil {
		t.Errorf("url-event.json body: %v", err)
	}

	var data map[string]any
	if err := json.Unmarshal(readServiceEvent(t, "notice-data.json"), &data); err != nil {
		t.Fatal(err)
	}
	if err := service.Validate(&service.Request{Template: "notice", To: "ada@example.com", Data: data}); err != nil {
		t.Errorf("notice-data.json: %v", err)
	}
}
