// Command echolambda is a test-only Lambda program for the function URL
// stand-in's tests and the callers' tests (the Go client, the TypeScript
// Worker example): it answers with the event it got, so a test sees what a
// function behind a function URL receives. It is not the mailer: the
// mailer's own answers are tested against the real bootstrap.
//
// By the request's path:
//   - /v1/send: 200, Content-Type application/json, body
//     {"outcome":"sent","message_id":"echo-<requestId>","request_id":"<requestId>","event":<the event>};
//   - /status/<code>, and any path under it (/status/422/v1/send: a caller
//     given the function URL <stand-in>/status/422): that status with
//     Retry-After: 7 and a refused or failed outcome with two field errors;
//   - /plain: a JSON object that is not a response ({"echo":true,"path":...});
//   - /binary: a base64-encoded body (the bytes 0x00 0x01 0x02 0xff);
//   - /cookies: 204 with two cookies;
//   - /error: a function error.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func handle(_ context.Context, raw json.RawMessage) (any, error) {
	var ev events.LambdaFunctionURLRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	reqID := ev.RequestContext.RequestID
	jsonResp := func(status int, body any, headers map[string]string) (events.LambdaFunctionURLResponse, error) {
		b, err := json.Marshal(body)
		if err != nil {
			return events.LambdaFunctionURLResponse{}, err
		}
		h := map[string]string{"Content-Type": "application/json"}
		for k, v := range headers {
			h[k] = v
		}
		return events.LambdaFunctionURLResponse{StatusCode: status, Headers: h, Body: string(b)}, nil
	}
	switch p := ev.RawPath; {
	case p == "/v1/send":
		return jsonResp(200, map[string]any{"outcome": "sent", "message_id": "echo-" + reqID, "request_id": reqID, "event": raw}, nil)
	case strings.HasPrefix(p, "/status/"):
		seg, _, _ := strings.Cut(strings.TrimPrefix(p, "/status/"), "/")
		code, err := strconv.Atoi(seg)
		if err != nil {
			return nil, err
		}
		outcome := "failed"
		if code < 500 && code != 429 && code != 409 {
			outcome = "refused"
		}
		return jsonResp(code, map[string]any{"outcome": outcome, "reason": "echo_" + strconv.Itoa(code), "errors": []string{"data.heading: required", "to: not one address SES can send to"}}, map[string]string{"Retry-After": "7"})
	case p == "/plain":
		return map[string]any{"echo": true, "path": p}, nil
	case p == "/binary":
		return events.LambdaFunctionURLResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/octet-stream"}, Body: "AAEC/w==", IsBase64Encoded: true}, nil
	case p == "/cookies":
		return events.LambdaFunctionURLResponse{StatusCode: 204, Cookies: []string{"a=1; Path=/", "b=2; Secure"}}, nil
	case p == "/error":
		return nil, errors.New("echolambda: asked to fail")
	}
	return jsonResp(404, map[string]string{"error": "no route " + ev.RawPath}, nil)
}

func main() { lambda.Start(handle) }
