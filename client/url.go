package client

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
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// maxResponseSize bounds how much of an answer is read: the mailer's are a
// few hundred bytes.
const maxResponseSize = 1 << 20

// URLSender sends requests to the service function's URL, signed with
// SigV4 for the service "lambda".
type URLSender struct {
	endpoint string
	creds    aws.CredentialsProvider
	region   string
	http     *http.Client
	signer   *v4.Signer
	now      func() time.Time
}

// NewURL returns a sender to the function URL functionURL (the Terraform
// output send_function_url, https://<url-id>.lambda-url.<region>.on.aws/),
// signing with credentials from creds (cfg.Credentials of an aws.Config) for
// region. A nil httpClient is http.DefaultClient; give one with a timeout.
func NewURL(functionURL string, creds aws.CredentialsProvider, region string, httpClient *http.Client) *URLSender {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return &URLSender{
		endpoint: strings.TrimRight(functionURL, "/") + "/v1/send",
		creds:    creds,
		region:   region,
		http:     httpClient,
		signer:   v4.NewSigner(),
		now:      time.Now,
	}
}

// answer is the body the mailer answers with (and AWS's {"Message": ...}
// for what it refuses before the function runs).
type answer struct {
	MessageID  string   `json:"message_id"`
	Outcome    string   `json:"outcome"`
	Reason     string   `json:"reason"`
	Errors     []string `json:"errors"`
	RequestID  string   `json:"request_id"`
	Error      string   `json:"error"`
	AWSMessage string   `json:"Message"`
}

// Send POSTs the request to <function URL>/v1/send and returns the answer.
// The error is nil for 200 (sent, or a duplicate of a sent request, with
// the first message id); a *RefusedError for 400 and 422 (and a request
// that fails Encode, not sent); a *RetryableError for 409, 429 and 5xx,
// with RetryAfter; a *StatusError for anything else (403: the signature or
// the IAM policy). The Response is filled in every case the mailer or AWS
// answered.
func (s *URLSender) Send(ctx context.Context, req Request) (Response, error) {
	body, err := req.Encode()
	if err != nil {
		var refused *RefusedError
		if errors.As(err, &refused) {
			return refused.Response, err
		}
		return Response{}, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, bytes.NewReader(body))
	if err != nil {
		return Response{}, fmt.Errorf("client: url request: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	creds, err := s.creds.Retrieve(ctx)
	if err != nil {
		return Response{}, fmt.Errorf("client: credentials: %w", err)
	}
	sum := sha256.Sum256(body)
	if err := s.signer.SignHTTP(ctx, creds, hreq, hex.EncodeToString(sum[:]), "lambda", s.region, s.now()); err != nil {
		return Response{}, fmt.Errorf("client: sign: %w", err)
	}
	resp, err := s.http.Do(hreq)
	if err != nil {
		return Response{}, fmt.Errorf("client: url send: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize))
	if err != nil {
		return Response{StatusCode: resp.StatusCode}, fmt.Errorf("client: read answer (HTTP %d): %w", resp.StatusCode, err)
	}
	out := parseResponse(resp, raw)
	switch code := resp.StatusCode; {
	case code == http.StatusOK:
		return out, nil
	case code == http.StatusBadRequest || code == http.StatusUnprocessableEntity:
		return out, &RefusedError{out}
	case code == http.StatusConflict || code == http.StatusTooManyRequests || code >= 500:
		return out, &RetryableError{out}
	default:
		return out, &StatusError{out}
	}
}

func parseResponse(resp *http.Response, raw []byte) Response {
	out := Response{StatusCode: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	var a answer
	if err := json.Unmarshal(raw, &a); err != nil {
		// Not the mailer's JSON (a proxy's page, say): keep a short,
		// printable beginning as the error.
		out.Error = strings.TrimSpace(string(raw[:min(len(raw), 200)]))
		return out
	}
	out.MessageID, out.Outcome, out.Reason, out.Errors, out.RequestID = a.MessageID, a.Outcome, a.Reason, a.Errors, a.RequestID
	out.Error = a.Error
	if out.Error == "" {
		out.Error = a.AWSMessage
	}
	return out
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP-date
// (RFC 9110 10.2.3).
func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d.Round(time.Second)
		}
	}
	return 0
}
