package trace

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/Phenom-earth/phenom-mailer/internal/delivery"
)

// A Lambda on-failure record around the repository's ForgotPassword event
// (its real ciphertext), shaped as the Lambda developer guide's example.
func failedRecord(t testing.TB, requestID, email, errMsg string) (body, ciphertext string) {
	t.Helper()
	raw, err := os.ReadFile("../../testdata/events/ForgotPassword.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	req := ev["request"].(map[string]any)
	req["userAttributes"].(map[string]any)["email"] = email
	ciphertext = req["code"].(string)
	b, _ := json.Marshal(map[string]any{
		"version":   "1.0",
		"timestamp": "2026-12-02T09:03:12.345Z",
		"requestContext": map[string]any{"requestId": requestID, "condition": "RetriesExhausted", "approximateInvokeCount": 3,
			"functionArn": "arn:aws:lambda:us-east-1:111122223333:function:phenom-mailer-staging:$LATEST"},
		"requestPayload":  ev,
		"responseContext": map[string]any{"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
		"responsePayload": map[string]any{"errorMessage": errMsg, "errorType": "errorString"},
	})
	return string(b), ciphertext
}

func TestParseFailedRecord(t *testing.T) {
	_, ct := failedRecord(t, "r-1", "", "")
	body, _ := failedRecord(t, "r-1", "QA+Reset@ThePhenom.app", "kms_unavailable: decrypt for qa+reset@thephenom.app, other@example.com, code "+ct+" failed")
	f, err := ParseFailedRecord([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := FailedEvent{RequestID: "r-1", Condition: "RetriesExhausted", Attempts: 3,
		FailedAt:        time.Date(2026, 12, 2, 9, 3, 12, 345e6, time.UTC),
		FunctionARN:     "arn:aws:lambda:us-east-1:111122223333:function:phenom-mailer-staging:$LATEST",
		ExecutedVersion: "$LATEST", FunctionError: "Unhandled", ErrorType: "errorString",
		ErrorMessage: "kms_unavailable: decrypt for Q***@ThePhenom.app, o***@example.com, code [redacted] failed",
		Trigger:      "ForgotPassword", Pool: "us-east-1_n8gO6SbP6", ClientID: "6sjjnkaeagnqgkmbl1mr5rtfsr",
		Recipient: "Q***@ThePhenom.app", recipient: "qa+reset@thephenom.app"}
	if f != want {
		t.Errorf("got  %+v\nwant %+v", f, want)
	}
	js, _ := json.Marshal(f)
	if bytes.Contains(bytes.ToLower(js), []byte("qa+reset")) || bytes.Contains(js, []byte(ct[:40])) {
		t.Errorf("the JSON form holds the address or the ciphertext: %s", js)
	}

	for name, body := range map[string]string{
		"not json":     "{",
		"no context":   `{"version":"1.0","requestPayload":{}}`,
		"no id":        `{"requestContext":{"requestId":"  "}}`,
		"wrong type":   `{"requestContext":"x"}`,
		"a bare array": `[]`,
	} {
		if _, err := ParseFailedRecord([]byte(body)); !errors.Is(err, ErrNotOnFailureRecord) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A payload that is not a Cognito event, an error that is a string.
	f, err = ParseFailedRecord([]byte(`{"requestContext":{"requestId":"r-2","condition":"EventAgeExceeded"},"requestPayload":"x","responsePayload":"boom for a@b.example"}`))
	if err != nil || f.Trigger != "" || f.Recipient != "" || f.ErrorMessage != "boom for a***@b.example" {
		t.Errorf("%+v, %v", f, err)
	}
}

type fakeQueue struct {
	recs []QueuedRecord
	err  error
}

func (q fakeQueue) Peek(context.Context) ([]QueuedRecord, error) { return q.recs, q.err }

func TestRunFindsFailedEvents(t *testing.T) {
	queued := time.Date(2026, 12, 2, 9, 3, 13, 0, time.UTC)
	a, ct := failedRecord(t, "r-1", "test-staging@thephenom.app", "maildir_failed")
	b, _ := failedRecord(t, "r-2", "Test-Staging@ThePhenom.app", "x")
	c, _ := failedRecord(t, "r-3", "someone@thephenom.app", "x")
	q := fakeQueue{recs: []QueuedRecord{{a, queued}, {b, queued}, {c, queued}, {"garbage", queued}}}
	mail := delivery.Mail{Attempts: []delivery.Attempt{{Trigger: "ForgotPassword", Outcome: "failed", Reason: "maildir_failed", RequestID: "r-1", Time: queued.Add(-time.Minute)}}}

	rep, err := Run(context.Background(), &fakeStore{mails: []delivery.Mail{mail}}, nil, q, Query{RequestID: "r-1"})
	if err != nil || !rep.Found() || len(rep.Failed) != 1 || rep.Failed[0].QueuedSince != queued || !strings.Contains(rep.FailedNote, "1 message(s)") {
		t.Fatalf("%+v, %v", rep, err)
	}
	var text, js bytes.Buffer
	_ = rep.WriteText(&text)
	_ = rep.WriteJSON(&js)
	for _, want := range []string{"verdict: not sent: the event failed every attempt (RetriesExhausted)", "since 2026-12-02 09:03:13.000 UTC", "tell the user to ask again"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	if !strings.Contains(js.String(), `"kind":"mail"`) || !strings.Contains(js.String(), `"failed_event":{"request_id":"r-1"`) || strings.Contains(js.String(), `"kind":"failed_event"`) {
		t.Errorf("json:\n%s", js.String())
	}

	// By address, lower-cased: r-1 on the mail, r-2 alone; r-3 is another address.
	rep, _ = Run(context.Background(), &fakeStore{mails: []delivery.Mail{mail}}, nil, q, Query{To: "TEST-staging@thephenom.app"})
	if len(rep.Failed) != 2 {
		t.Fatalf("by address: %+v", rep.Failed)
	}
	js.Reset()
	_ = rep.WriteJSON(&js)
	if strings.Count(js.String(), `"kind":"failed_event"`) != 1 || strings.Contains(js.String(), ct[:40]) {
		t.Errorf("json:\n%s", js.String())
	}
	// --since excludes an older failure.
	rep, _ = Run(context.Background(), &fakeStore{}, nil, q, Query{To: "test-staging@thephenom.app", Since: queued.Add(time.Hour)})
	if len(rep.Failed) != 0 || rep.Found() {
		t.Errorf("since: %+v", rep.Failed)
	}

	// Another id: nothing. A queue that cannot be read: a note, not an error.
	if rep, _ := Run(context.Background(), &fakeStore{}, nil, q, Query{RequestID: "r-9"}); rep.Found() {
		t.Error("another id found something")
	}
	rep, err = Run(context.Background(), &fakeStore{}, nil, fakeQueue{err: errors.New("AccessDenied for ops@thephenom.app")}, Query{RequestID: "r-1"})
	if err != nil || rep.Found() || !strings.Contains(rep.FailedNote, "could not read the failed-events queue: AccessDenied for o***@thephenom.app") {
		t.Errorf("%+v, %v", rep, err)
	}
	// No store: the queue alone; by message id, an error.
	rep, err = Run(context.Background(), nil, nil, q, Query{RequestID: "r-2"})
	if err != nil || len(rep.Failed) != 1 || rep.RecordNote == "" {
		t.Errorf("no store: %+v, %v", rep, err)
	}
	if _, err := Run(context.Background(), nil, nil, q, Query{MessageID: "m"}); err == nil {
		t.Error("a message id without a store is not an error")
	}
}

// FuzzParseFailedRecord: any body parses or is refused with
// ErrNotOnFailureRecord, never panics, and what it keeps is one bounded
// line without the event's ciphertext.
func FuzzParseFailedRecord(f *testing.F) {
	body, ct := failedRecord(f, "r-1", "qa@thephenom.app", "boom "+"AYADeCqrGfogvvRhjXjPWUd0+G4AgQACABVhd3MtY3J5cHRvLXB1YmxpYy1rZXkAREEwamJqREU5")
	f.Add([]byte(body))
	f.Add([]byte(`{"requestContext":{"requestId":"r"},"responsePayload":"x"}`))
	f.Add([]byte(`{"requestContext":{"requestId":"r"},"requestPayload":{"request":{"code":"abcd","userAttributes":{"email":"A@B"}}},"responsePayload":{"errorMessage":"abcd A@B"}}`))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fe, err := ParseFailedRecord(b)
		if err != nil {
			if !errors.Is(err, ErrNotOnFailureRecord) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		for _, s := range []string{fe.RequestID, fe.Condition, fe.ErrorMessage, fe.ErrorType, fe.Trigger, fe.Pool, fe.ClientID, fe.FunctionARN} {
			if strings.ContainsAny(s, "\r\n") || len(s) > 512 {
				t.Fatalf("field not one bounded line: %q", s)
			}
		}
		if utf8.Valid(b) && len(fe.ErrorMessage) > maxErrorMessage+3 {
			t.Fatalf("error message too long: %d", len(fe.ErrorMessage))
		}
		if strings.Contains(fe.ErrorMessage, ct[:64]) {
			t.Fatal("the ciphertext reached the error message")
		}
		if fe.recipient != "" && strings.Contains(fe.ErrorMessage, fe.recipient) {
			t.Fatalf("the recipient reached the error message: %q", fe.ErrorMessage)
		}
	})
}
