package standin

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// The function URL stand-in: what a Lambda function URL with AWS_IAM auth
// does in front of a function, for tests on 127.0.0.1.
//
// A function URL (https://<url-id>.lambda-url.<region>.on.aws) checks the
// request's SigV4 signature (service "lambda"), then whether the caller's
// IAM policy (and the function's resource policy) allows
// lambda:InvokeFunctionUrl and lambda:InvokeFunction, turns the HTTP request
// into an event of payload format 2.0, invokes the function and turns its
// answer back into an HTTP response. The request and response formats are
// those of "Invoking Lambda function URLs", section "Request and response
// payloads" (https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads),
// the same schema as API Gateway's HTTP API payload format 2.0.
//
// Emulated here: the signature check (SigV4 with the test credentials, AWS's
// 403 {"Message":"Forbidden"} when it is missing or wrong), the event, the
// invocation (aws-lambda-rie's invoke endpoint) and the response mapping.
// NOT emulated: the IAM authorisation itself. Whether the caller's policy
// allows the call is decided inside AWS; every correctly signed request is
// treated as coming from the one configured caller, whose ARN goes into
// requestContext.authorizer.iam. A test here can prove a caller signs
// correctly and reads the answers, never that its IAM policy is right.

// FuncURLOptions configures StartFuncURL.
type FuncURLOptions struct {
	// InvokeURL is aws-lambda-rie's invoke endpoint,
	// http://127.0.0.1:PORT/2015-03-31/functions/function/invocations.
	InvokeURL string
	// Credentials are the test access key and secret requests must be
	// signed with; CallerCredentials() when zero.
	Credentials aws.Credentials
	// Region is the function's region; Region when empty.
	Region string
	// CallerARN is the IAM identity every correctly signed request is
	// taken to come from (requestContext.authorizer.iam.userArn);
	// FuncURLCallerARN when empty.
	CallerARN string
	// Now is the clock for the signature's time check and the event's
	// time; time.Now when nil.
	Now func() time.Time
}

// The test caller: an IAM user of the test account.
const (
	FuncURLAccountID   = "123456789012"
	FuncURLCallerARN   = "arn:aws:iam::123456789012:user/hasura"
	FuncURLCallerID    = "AIDAFUNCURLSTANDIN01"
	FuncURLAccessKeyID = "AKIAFUNCURLSTANDIN01"
	funcURLSecretKey   = "funcurl-standin-secret-not-a-real-key"
	// funcURLID is the <url-id> of the stand-in's function URL.
	funcURLID = "standinfuncurl0000000000000000000"
)

// CallerCredentials are the test credentials the stand-in accepts by
// default.
func CallerCredentials() aws.Credentials {
	return aws.Credentials{AccessKeyID: FuncURLAccessKeyID, SecretAccessKey: funcURLSecretKey, Source: "standin"}
}

// Request and response size limits of function URLs: 6 MB each way for a
// buffered (non-streaming) URL ("Lambda quotas": invocation payload, 6 MB
// request and response, synchronous).
const funcURLMaxPayload = 6 * 1024 * 1024

// FuncURL is the running stand-in.
type FuncURL struct {
	// URL is the function URL, http://127.0.0.1:PORT (the real one is
	// https://<url-id>.lambda-url.<region>.on.aws/).
	URL string

	opts     FuncURLOptions
	verifier SigV4
	srv      *http.Server
	done     chan struct{}
	client   *http.Client
	// invokeMu: aws-lambda-rie runs one invocation at a time (Lambda
	// would start more instances).
	invokeMu sync.Mutex

	accepted, refused atomic.Int64
	mu                sync.Mutex
	events            []json.RawMessage
}

// StartFuncURL starts the stand-in on a free 127.0.0.1 port.
func StartFuncURL(opts FuncURLOptions) (*FuncURL, error) {
	if opts.InvokeURL == "" {
		return nil, errors.New("standin: function URL needs the Lambda's invoke URL")
	}
	if opts.Credentials.AccessKeyID == "" {
		opts.Credentials = CallerCredentials()
	}
	if opts.Region == "" {
		opts.Region = Region
	}
	if opts.CallerARN == "" {
		opts.CallerARN = FuncURLCallerARN
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &FuncURL{
		URL:      "http://" + ln.Addr().String(),
		opts:     opts,
		verifier: SigV4{Credentials: opts.Credentials, Service: "lambda", Region: opts.Region, Now: opts.Now},
		client:   &http.Client{Timeout: 2 * time.Minute},
		done:     make(chan struct{}),
	}
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(f.done)
		_ = f.srv.Serve(ln)
	}()
	return f, nil
}

// Close stops the server.
func (f *FuncURL) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := f.srv.Shutdown(ctx)
	<-f.done
	return err
}

// Accepted is how many requests passed the signature check and reached the
// function; Refused how many got 403.
func (f *FuncURL) Accepted() int { return int(f.accepted.Load()) }

// Refused is how many requests were refused for their signature.
func (f *FuncURL) Refused() int { return int(f.refused.Load()) }

// Events are the payload-2.0 events the function was invoked with, in order.
func (f *FuncURL) Events() []json.RawMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.events)
}

// awsMessage answers as the function URL front end does when it refuses a
// request before the function runs: {"Message": "..."}.
func awsMessage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-amzn-RequestId", newRequestID())
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"Message": msg})
}

func (f *FuncURL) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, funcURLMaxPayload+1))
	if err != nil {
		awsMessage(w, http.StatusBadRequest, "Bad Request")
		return
	}
	if len(body) > funcURLMaxPayload {
		awsMessage(w, http.StatusRequestEntityTooLarge, "Request must be smaller than 6291456 bytes for the InvokeFunction operation")
		return
	}
	if err := f.verifier.Verify(r, body); err != nil {
		f.refused.Add(1)
		awsMessage(w, http.StatusForbidden, "Forbidden")
		return
	}
	f.accepted.Add(1)
	event, err := json.Marshal(f.event(r, body))
	if err != nil {
		awsMessage(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	f.mu.Lock()
	f.events = append(f.events, event)
	f.mu.Unlock()

	payload, fnErr, err := f.invoke(r.Context(), event)
	if err != nil || fnErr {
		// A function error (or a failed invocation) is 502 at a function
		// URL.
		awsMessage(w, http.StatusBadGateway, "Internal Server Error")
		return
	}
	writeFunctionResponse(w, payload)
}

// FuncURLEvent is a function URL event, payload format 2.0, as the
// "Request payload format" of the page cited above shows it. (The mailer
// reads it as aws-lambda-go's events.LambdaFunctionURLRequest; this type
// also carries the fields Lambda sends that that type leaves out.)
type FuncURLEvent struct {
	Version               string            `json:"version"`
	RouteKey              string            `json:"routeKey"`
	RawPath               string            `json:"rawPath"`
	RawQueryString        string            `json:"rawQueryString"`
	Cookies               []string          `json:"cookies,omitempty"`
	Headers               map[string]string `json:"headers"`
	QueryStringParameters map[string]string `json:"queryStringParameters,omitempty"`
	RequestContext        FuncURLContext    `json:"requestContext"`
	Body                  string            `json:"body,omitempty"`
	PathParameters        map[string]string `json:"pathParameters,omitempty"`
	IsBase64Encoded       bool              `json:"isBase64Encoded"`
	StageVariables        map[string]string `json:"stageVariables,omitempty"`
}

// FuncURLContext is the event's requestContext.
type FuncURLContext struct {
	AccountID      string `json:"accountId"`
	APIID          string `json:"apiId"`
	Authentication any    `json:"authentication"`
	Authorizer     struct {
		IAM FuncURLIAM `json:"iam"`
	} `json:"authorizer"`
	DomainName   string `json:"domainName"`
	DomainPrefix string `json:"domainPrefix"`
	HTTP         struct {
		Method    string `json:"method"`
		Path      string `json:"path"`
		Protocol  string `json:"protocol"`
		SourceIP  string `json:"sourceIp"`
		UserAgent string `json:"userAgent"`
	} `json:"http"`
	RequestID string `json:"requestId"`
	RouteKey  string `json:"routeKey"`
	Stage     string `json:"stage"`
	Time      string `json:"time"`
	TimeEpoch int64  `json:"timeEpoch"`
}

// FuncURLIAM is requestContext.authorizer.iam: who signed the request.
type FuncURLIAM struct {
	AccessKey       string `json:"accessKey"`
	AccountID       string `json:"accountId"`
	CallerID        string `json:"callerId"`
	CognitoIdentity any    `json:"cognitoIdentity"`
	PrincipalOrgID  any    `json:"principalOrgId"`
	UserARN         string `json:"userArn"`
	UserID          string `json:"userId"`
}

func (f *FuncURL) event(r *http.Request, body []byte) FuncURLEvent {
	now := f.opts.Now().UTC()
	ev := FuncURLEvent{
		Version:        "2.0",
		RouteKey:       "$default",
		RawPath:        r.URL.EscapedPath(),
		RawQueryString: r.URL.RawQuery,
		Headers:        map[string]string{},
	}
	// Headers: names lower-cased, several values joined by commas; the
	// Cookie header goes to "cookies", one element per cookie.
	for name, vals := range r.Header {
		lname := strings.ToLower(name)
		if lname == "cookie" {
			for _, v := range vals {
				for _, c := range strings.Split(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						ev.Cookies = append(ev.Cookies, c)
					}
				}
			}
			continue
		}
		ev.Headers[lname] = strings.Join(vals, ",")
	}
	sourceIP, _, _ := net.SplitHostPort(r.RemoteAddr)
	domain := funcURLID + ".lambda-url." + f.opts.Region + ".on.aws"
	ev.Headers["host"] = domain
	// What the front end adds: the client's address, TLS (function URLs
	// are HTTPS only), a trace id.
	ev.Headers["x-forwarded-for"] = sourceIP
	ev.Headers["x-forwarded-proto"] = "https"
	ev.Headers["x-forwarded-port"] = "443"
	ev.Headers["x-amzn-trace-id"] = fmt.Sprintf("Root=1-%08x-%s", now.Unix(), randomHex(12))
	if q := r.URL.Query(); len(q) > 0 {
		ev.QueryStringParameters = map[string]string{}
		for k, vs := range q {
			ev.QueryStringParameters[k] = strings.Join(vs, ",")
		}
	}
	if len(body) > 0 {
		if isText(r.Header.Get("Content-Type")) {
			ev.Body = string(body)
		} else {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	c := &ev.RequestContext
	c.AccountID = FuncURLAccountID
	c.APIID, c.DomainName, c.DomainPrefix = funcURLID, domain, funcURLID
	c.HTTP.Method, c.HTTP.Path, c.HTTP.Protocol = r.Method, r.URL.Path, r.Proto
	c.HTTP.SourceIP, c.HTTP.UserAgent = sourceIP, r.UserAgent()
	c.RequestID = newRequestID()
	c.RouteKey, c.Stage = "$default", "$default"
	c.Time = now.Format("02/Jan/2006:15:04:05 -0700")
	c.TimeEpoch = now.UnixMilli()
	c.Authorizer.IAM = FuncURLIAM{
		AccessKey: f.opts.Credentials.AccessKeyID,
		AccountID: arnAccount(f.opts.CallerARN),
		CallerID:  FuncURLCallerID,
		UserARN:   f.opts.CallerARN,
		UserID:    FuncURLCallerID,
	}
	return ev
}

// isText reports whether a body of this content type reaches the function
// as text; anything else (or no content type) is base64-encoded, as a
// binary body is.
func isText(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		mt == "application/json", strings.HasSuffix(mt, "+json"),
		mt == "application/xml", strings.HasSuffix(mt, "+xml"),
		mt == "application/javascript", mt == "application/x-www-form-urlencoded":
		return true
	}
	return false
}

func arnAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) == 6 && parts[4] != "" {
		return parts[4]
	}
	return FuncURLAccountID
}

// invoke runs the function once through aws-lambda-rie. fnErr reports a
// function error: RIE's X-Amz-Function-Error header, or its
// {"errorMessage","errorType"} answer (RIE answers a handler's error with
// that body).
func (f *FuncURL) invoke(ctx context.Context, event []byte) (payload []byte, fnErr bool, err error) {
	f.invokeMu.Lock()
	defer f.invokeMu.Unlock()
	deadline := time.Now().Add(20 * time.Second)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.opts.InvokeURL, bytes.NewReader(event))
		if err != nil {
			return nil, false, err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := f.client.Do(req)
		if err != nil {
			// RIE listens before it is ready to take an invocation
			// the first time: retry connection errors briefly.
			if time.Now().After(deadline) || ctx.Err() != nil {
				return nil, false, err
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		payload, err = io.ReadAll(io.LimitReader(resp.Body, funcURLMaxPayload+1))
		resp.Body.Close()
		if err != nil {
			return nil, false, err
		}
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Amz-Function-Error") != "" {
			return payload, true, nil
		}
		var e struct {
			ErrorMessage *string `json:"errorMessage"`
			ErrorType    *string `json:"errorType"`
		}
		if json.Unmarshal(payload, &e) == nil && e.ErrorMessage != nil && e.ErrorType != nil {
			return payload, true, nil
		}
		if len(payload) > funcURLMaxPayload {
			return payload, true, nil
		}
		return payload, false, nil
	}
}

// writeFunctionResponse maps the function's answer onto the HTTP response
// as a function URL does ("Response payload format" on the page cited
// above): a JSON object with statusCode is the response (headers, cookies
// as Set-Cookie, body, base64-decoded when isBase64Encoded); any other valid
// JSON is the body of a 200 with Content-Type application/json. Anything
// that is not valid JSON, or a response object of the wrong shape, is a
// 502.
func writeFunctionResponse(w http.ResponseWriter, payload []byte) {
	if !json.Valid(payload) {
		awsMessage(w, http.StatusBadGateway, "Internal Server Error")
		return
	}
	var probe map[string]json.RawMessage
	if json.Unmarshal(payload, &probe) != nil || probe["statusCode"] == nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(payload)
		return
	}
	var resp struct {
		StatusCode      int               `json:"statusCode"`
		Headers         map[string]string `json:"headers"`
		Cookies         []string          `json:"cookies"`
		Body            *string           `json:"body"`
		IsBase64Encoded bool              `json:"isBase64Encoded"`
	}
	if err := json.Unmarshal(payload, &resp); err != nil || resp.StatusCode < 100 || resp.StatusCode > 599 {
		awsMessage(w, http.StatusBadGateway, "Internal Server Error")
		return
	}
	var body []byte
	if resp.Body != nil {
		body = []byte(*resp.Body)
		if resp.IsBase64Encoded {
			dec, err := base64.StdEncoding.DecodeString(*resp.Body)
			if err != nil {
				awsMessage(w, http.StatusBadGateway, "Internal Server Error")
				return
			}
			body = dec
		}
	}
	names := make([]string, 0, len(resp.Headers))
	for k := range resp.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		w.Header().Set(k, resp.Headers[k])
	}
	for _, c := range resp.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	if w.Header().Get("Content-Type") == "" {
		// No type given: none is made up (net/http would sniff one).
		w.Header()["Content-Type"] = nil
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
