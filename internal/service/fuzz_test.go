package service

import (
	"context"
	"strings"
	"testing"
)

// FuzzHandle: any body gives an outcome without panicking; a body that
// does not decode and validate is never sent; a refused request says why.
func FuzzHandle(f *testing.F) {
	for _, s := range []string{
		`{"template":"notice","to":"ada@example.com","data":{"subject":"s","heading":"h","paragraphs":["p"]}}`,
		`{"template":"notice","to":"ada@example.com","locale":"pt-BR","data":{"subject":"s","heading":"h","paragraphs":["p"],"button":{"label":"l","url":"https://x.example/"},"code":"1","footnote":"f"},"idempotency_key":"k","tags":{"service":"a"}}`,
		`{"template":"welcome","to":"ada@example.com","data":{"name":"Ada"}}`,
		`{"template":"welcome","to":"ada@example.com","data":{"name":"Ada\r\nBcc: eve@example.com"}}`,
		`{"template":"SignUp","to":"ada@example.com","data":{"username":"u","code":"1"}}`,
		`{"template":"notice","to":"a@b","data":{"paragraphs":"p","button":{"url":"http://x"}}}`,
		`{"template":"notice","to":"ada@example.com","data":{"subject":"s","heading":"h","paragraphs":[1,{}]}}`,
		`{"template":"notice","to":"ada@example.com","data":null}`,
		`{"template":"notice","to":"ada@example.com","data":{"subject":"s","heading":"h","paragraphs":["p"]}} {}`,
		`[]`, `null`, ``, `{`, `{"tags":{"":""}}`,
	} {
		f.Add([]byte(s))
	}
	h, s := newTestHandler(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		before := len(s.sent)
		res := h.Handle(context.Background(), body, Source{Kind: SourceSQS, MessageID: "m-1"})
		req, err := Decode(body)
		valid := err == nil && Validate(req) == nil
		switch res.Outcome {
		case OutcomeSent:
			if !valid || len(s.sent) != before+1 {
				t.Fatalf("sent an invalid request (or sent %d mails): %q", len(s.sent)-before, body)
			}
		case OutcomeRefused:
			if len(s.sent) != before || res.Reason == "" {
				t.Fatalf("refused %+v, sent %d", res, len(s.sent)-before)
			}
			if !valid && len(res.Errors) == 0 {
				t.Fatalf("an invalid request refused without a problem: %+v", res)
			}
			for _, p := range res.Errors {
				if !strings.Contains(p, ": ") {
					t.Fatalf("problem without a field path: %q", p)
				}
			}
		default:
			t.Fatalf("outcome %q for %q", res.Outcome, body)
		}
		if res.Requeue() {
			t.Fatalf("requeued with a sender that never fails: %+v", res)
		}
		_ = res.HTTP()
	})
}
