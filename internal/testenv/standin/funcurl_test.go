package standin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// signedRequest builds a request to url signed with the SDK's v4 signer.
func signedRequest(t *testing.T, method, url, contentType string, body []byte, creds aws.Credentials, service string, when time.Time) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, Region, when); err != nil {
		t.Fatal(err)
	}
	return req
}

func TestSigV4Verify(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	good := CallerCredentials()
	v := SigV4{Credentials: good, Service: "lambda", Region: Region, Now: func() time.Time { return now }}
	body := []byte(`{"template":"notice"}`)
	var got error
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = v.Verify(r, b)
	}))
	defer srv.Close()

	wrongSecret := good
	wrongSecret.SecretAccessKey = "not-the-secret"
	otherKey := good
	otherKey.AccessKeyID = "AKIAOTHERKEY00000000"
	cases := []struct {
		name   string
		req    func() *http.Request
		wantOK bool
	}{
		{"signed right", func() *http.Request {
			return signedRequest(t, "POST", srv.URL+"/v1/send?x=1", "application/json", body, good, "lambda", now)
		}, true},
		{"signed 4 minutes ago", func() *http.Request {
			return signedRequest(t, "POST", srv.URL+"/v1/send", "application/json", body, good, "lambda", now.Add(-4*time.Minute))
		}, true},
		{"unsigned", func() *http.Request {
			r, _ := http.NewRequest("POST", srv.URL+"/v1/send", bytes.NewReader(body))
			return r
		}, false},
		{"wrong secret", func() *http.Request {
			return signedRequest(t, "POST", srv.URL+"/v1/send", "application/json", body, wrongSecret, "lambda", now)
		}, false},
		{"unknown access key", func() *http.Request {
			return signedRequest(t, "POST", srv.URL+"/v1/send", "application/json", body, otherKey, "lambda", now)
		}, false},
		{"signed for another service", func() *http.Request {
			return signedRequest(t, "POST", srv.URL+"/v1/send", "application/json", body, good, "execute-api", now)
		}, false},
		{"signed 6 minutes ago", func() *http.Request {
			return signedRequest(t, "POST", srv.URL+"/v1/send", "application/json", body, good, "lambda", now.Add(-6*time.Minute))
		}, false},
		{"body changed after signing", func() *http.Request {
			r := signedRequest(t, "POST", srv.URL+"/v1/send", "application/json", body, good, "lambda", now)
			other := []byte(`{"template":"welcome"}`)
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(other)), int64(len(other))
			return r
		}, false},
		{"path changed after signing", func() *http.Request {
			r := signedRequest(t, "POST", srv.URL+"/v1/send", "application/json", body, good, "lambda", now)
			r.URL.Path = "/v1/other"
			return r
		}, false},
		{"signed header changed", func() *http.Request {
			r := signedRequest(t, "POST", srv.URL+"/v1/send", "application/json", body, good, "lambda", now)
			r.Header.Set("Content-Type", "text/plain")
			return r
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got = errors.New("handler not reached")
			resp, err := http.DefaultClient.Do(c.req())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if c.wantOK && got != nil {
				t.Fatalf("refused a good signature: %v", got)
			}
			if !c.wantOK && !errors.Is(got, ErrSignature) {
				t.Fatalf("Verify = %v, want ErrSignature", got)
			}
		})
	}
}

// TestFuncURLEndToEnd: requests signed with the SDK go through the stand-in
// to the echo Lambda under aws-lambda-rie; the event it got and the
// mapping of its answers are what a function URL gives.
func TestFuncURLEndToEnd(t *testing.T) {
	f := EchoFuncURLForTest(t)
	creds := CallerCredentials()
	do := func(t *testing.T, req *http.Request) (*http.Response, []byte) {
		t.Helper()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}

	t.Run("event shape", func(t *testing.T) {
		body := []byte(`{"template":"notice","to":"ada@example.com"}`)
		req := signedRequest(t, "POST", f.URL+"/v1/send?a=1&a=2&b=x", "application/json", body, creds, "lambda", time.Now())
		req.Header.Set("X-Custom-Thing", "Value")
		req.Header.Set("Cookie", "s=1; t=2")
		// Cookies and X-Custom-Thing are not signed: added after signing,
		// as a proxy might.
		before := time.Now()
		resp, got := do(t, req)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("HTTP %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), got)
		}
		var answer struct {
			Outcome   string          `json:"outcome"`
			RequestID string          `json:"request_id"`
			Event     json.RawMessage `json:"event"`
		}
		if err := json.Unmarshal(got, &answer); err != nil {
			t.Fatal(err)
		}
		if answer.Outcome != "sent" {
			t.Fatalf("answer %s", got)
		}
		var ev events.LambdaFunctionURLRequest
		if err := json.Unmarshal(answer.Event, &ev); err != nil {
			t.Fatal(err)
		}
		checks := []struct{ what, got, want string }{
			{"version", ev.Version, "2.0"},
			{"rawPath", ev.RawPath, "/v1/send"},
			{"rawQueryString", ev.RawQueryString, "a=1&a=2&b=x"},
			{"queryStringParameters.a", ev.QueryStringParameters["a"], "1,2"},
			{"headers.content-type", ev.Headers["content-type"], "application/json"},
			{"headers.x-custom-thing", ev.Headers["x-custom-thing"], "Value"},
			{"headers.host", ev.Headers["host"], ev.RequestContext.DomainName},
			{"headers.x-forwarded-proto", ev.Headers["x-forwarded-proto"], "https"},
			{"cookies", strings.Join(ev.Cookies, "|"), "s=1|t=2"},
			{"body", ev.Body, string(body)},
			{"requestContext.http.method", ev.RequestContext.HTTP.Method, "POST"},
			{"requestContext.http.path", ev.RequestContext.HTTP.Path, "/v1/send"},
			{"requestContext.http.sourceIp", ev.RequestContext.HTTP.SourceIP, "127.0.0.1"},
			{"requestContext.requestId", ev.RequestContext.RequestID, answer.RequestID},
			{"requestContext.accountId", ev.RequestContext.AccountID, FuncURLAccountID},
			{"authorizer.iam.userArn", ev.RequestContext.Authorizer.IAM.UserARN, FuncURLCallerARN},
			{"authorizer.iam.accessKey", ev.RequestContext.Authorizer.IAM.AccessKey, FuncURLAccessKeyID},
			{"authorizer.iam.accountId", ev.RequestContext.Authorizer.IAM.AccountID, "123456789012"},
			{"authorizer.iam.userId", ev.RequestContext.Authorizer.IAM.UserID, FuncURLCallerID},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
			}
		}
		if ev.IsBase64Encoded {
			t.Error("a JSON body came base64-encoded")
		}
		if _, ok := ev.Headers["X-Custom-Thing"]; ok {
			t.Error("header names are not lower-cased")
		}
		if _, ok := ev.Headers["cookie"]; ok {
			t.Error("the Cookie header stayed among the headers")
		}
		if ev.RequestContext.RequestID == "" {
			t.Error("no requestId")
		}
		ts, err := time.Parse("02/Jan/2006:15:04:05 -0700", ev.RequestContext.Time)
		if err != nil {
			t.Errorf("requestContext.time %q: %v", ev.RequestContext.Time, err)
		}
		epoch := time.UnixMilli(ev.RequestContext.TimeEpoch)
		if epoch.Before(before.Add(-time.Second)) || epoch.After(time.Now().Add(time.Second)) || ts.Unix() != epoch.Unix() {
			t.Errorf("time %s / timeEpoch %d are not the request's time", ev.RequestContext.Time, ev.RequestContext.TimeEpoch)
		}
	})

	t.Run("binary body is base64", func(t *testing.T) {
		body := []byte{0, 1, 2, 0xff}
		resp, got := do(t, signedRequest(t, "POST", f.URL+"/v1/send", "application/octet-stream", body, creds, "lambda", time.Now()))
		if resp.StatusCode != 200 {
			t.Fatalf("HTTP %d: %s", resp.StatusCode, got)
		}
		var a struct {
			Event events.LambdaFunctionURLRequest
		}
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatal(err)
		}
		dec, err := base64.StdEncoding.DecodeString(a.Event.Body)
		if !a.Event.IsBase64Encoded || err != nil || !bytes.Equal(dec, body) {
			t.Errorf("binary body arrived as %q (isBase64Encoded %v)", a.Event.Body, a.Event.IsBase64Encoded)
		}
	})

	t.Run("response mapping", func(t *testing.T) {
		cases := []struct {
			path, wantType string
			status         int
			check          func(*testing.T, *http.Response, []byte)
		}{
			{"/plain", "application/json", 200, func(t *testing.T, _ *http.Response, b []byte) {
				if string(b) != `{"echo":true,"path":"/plain"}` {
					t.Errorf("body %s, want the returned JSON", b)
				}
			}},
			{"/binary", "application/octet-stream", 200, func(t *testing.T, _ *http.Response, b []byte) {
				if !bytes.Equal(b, []byte{0, 1, 2, 0xff}) {
					t.Errorf("body %x, want the decoded bytes", b)
				}
			}},
			{"/cookies", "", 204, func(t *testing.T, r *http.Response, _ []byte) {
				if c := r.Header.Values("Set-Cookie"); len(c) != 2 || c[0] != "a=1; Path=/" {
					t.Errorf("Set-Cookie %q, want the two cookies", c)
				}
			}},
			{"/status/429", "application/json", 429, func(t *testing.T, r *http.Response, b []byte) {
				if r.Header.Get("Retry-After") != "7" || !strings.Contains(string(b), `"reason":"echo_429"`) {
					t.Errorf("Retry-After %q, body %s", r.Header.Get("Retry-After"), b)
				}
			}},
			{"/error", "application/json", 502, func(t *testing.T, _ *http.Response, b []byte) {
				if strings.Contains(string(b), "asked to fail") {
					t.Errorf("the function's error message leaked: %s", b)
				}
			}},
		}
		for _, c := range cases {
			t.Run(c.path, func(t *testing.T) {
				resp, b := do(t, signedRequest(t, "GET", f.URL+c.path, "", nil, creds, "lambda", time.Now()))
				if resp.StatusCode != c.status || resp.Header.Get("Content-Type") != c.wantType {
					t.Fatalf("HTTP %d %q, want %d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), c.status, c.wantType, b)
				}
				c.check(t, resp, b)
			})
		}
	})

	t.Run("bad signature is 403 and never reaches the function", func(t *testing.T) {
		invoked, refused := len(f.Events()), f.Refused()
		wrong := creds
		wrong.SecretAccessKey = "guessed"
		for _, req := range []*http.Request{
			signedRequest(t, "POST", f.URL+"/v1/send", "application/json", []byte(`{}`), wrong, "lambda", time.Now()),
			func() *http.Request {
				r, _ := http.NewRequest("POST", f.URL+"/v1/send", strings.NewReader(`{}`))
				return r
			}(),
		} {
			resp, b := do(t, req)
			if resp.StatusCode != 403 || strings.TrimSpace(string(b)) != `{"Message":"Forbidden"}` {
				t.Errorf("HTTP %d %s, want 403 {\"Message\":\"Forbidden\"}", resp.StatusCode, b)
			}
		}
		if n := len(f.Events()); n != invoked {
			t.Errorf("the function was invoked %d times for refused requests", n-invoked)
		}
		if f.Refused() != refused+2 {
			t.Errorf("Refused() = %d, want %d", f.Refused(), refused+2)
		}
	})
}

// FuzzSigV4Verify: whatever the Authorization and X-Amz-Date headers hold,
// Verify answers with an error wrapping ErrSignature, never a panic, and
// never accepts what was not signed with the secret.
func FuzzSigV4Verify(f *testing.F) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Add("AWS4-HMAC-SHA256 Credential="+FuncURLAccessKeyID+"/20260301/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=00", "20260301T120000Z")
	f.Add("AWS4-HMAC-SHA256 Credential=/, SignedHeaders=, Signature=", "")
	f.Add("AWS4-HMAC-SHA256 ,,,==", "x")
	v := SigV4{Credentials: CallerCredentials(), Service: "lambda", Region: Region, Now: func() time.Time { return now }}
	f.Fuzz(func(t *testing.T, auth, date string) {
		r, err := http.NewRequest("POST", "http://127.0.0.1:1/v1/send", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Authorization", auth)
		r.Header.Set("X-Amz-Date", date)
		if err := v.Verify(r, []byte("{}")); !errors.Is(err, ErrSignature) {
			t.Fatalf("Verify = %v, want ErrSignature", err)
		}
	})
}
