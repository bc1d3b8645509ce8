package standin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// SigV4 checks the AWS Signature Version 4 of requests the way an AWS
// endpoint does: it rebuilds the request from the headers the signature
// names (SignedHeaders), signs it again with the AWS SDK's own v4 signer
// and the known secret, and compares. The rules are those of "Elements of
// an AWS API request signature" and "Create a signed AWS API request"
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-signing-elements.html,
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html):
// the credential scope is <date>/<region>/<service>/aws4_request, host and
// x-amz-date are always signed, and a request more than 5 minutes from the
// server's clock is refused.
type SigV4 struct {
	// Credentials are the only ones accepted (the test access key and
	// secret; a session token, when set, must come as X-Amz-Security-Token).
	Credentials aws.Credentials
	Service     string
	Region      string
	// Now is the server's clock; time.Now when nil.
	Now func() time.Time
}

// ErrSignature is a missing or wrong signature.
var ErrSignature = errors.New("standin: signature does not match")

// maxClockSkew is how far X-Amz-Date may be from the server's clock.
const maxClockSkew = 5 * time.Minute

// Verify checks r's Authorization header against body (the request body,
// already read). Every error wraps ErrSignature.
func (s SigV4) Verify(r *http.Request, body []byte) error {
	auth := r.Header.Get("Authorization")
	const algo = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, algo) {
		return fmt.Errorf("%w: no AWS4-HMAC-SHA256 Authorization header", ErrSignature)
	}
	fields := map[string]string{}
	for _, part := range strings.Split(strings.TrimPrefix(auth, algo), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("%w: malformed Authorization header", ErrSignature)
		}
		fields[k] = v
	}
	credential, signedHeaders, signature := fields["Credential"], fields["SignedHeaders"], fields["Signature"]
	if credential == "" || signedHeaders == "" || signature == "" {
		return fmt.Errorf("%w: Authorization lacks Credential, SignedHeaders or Signature", ErrSignature)
	}
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return fmt.Errorf("%w: malformed credential scope", ErrSignature)
	}
	if scope[0] != s.Credentials.AccessKeyID {
		return fmt.Errorf("%w: unknown access key", ErrSignature)
	}
	if scope[2] != s.Region || scope[3] != s.Service {
		return fmt.Errorf("%w: credential scope is for %s/%s, want %s/%s", ErrSignature, scope[2], scope[3], s.Region, s.Service)
	}
	amzDate := r.Header.Get("X-Amz-Date")
	when, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return fmt.Errorf("%w: no valid X-Amz-Date", ErrSignature)
	}
	if scope[1] != when.Format("20060102") {
		return fmt.Errorf("%w: credential scope date is not X-Amz-Date's", ErrSignature)
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	if d := now().Sub(when); d > maxClockSkew || d < -maxClockSkew {
		return fmt.Errorf("%w: signature expired or not yet valid (X-Amz-Date %s)", ErrSignature, amzDate)
	}
	signed := strings.Split(signedHeaders, ";")
	if !slices.Contains(signed, "host") || !slices.Contains(signed, "x-amz-date") {
		return fmt.Errorf("%w: host and x-amz-date must be signed", ErrSignature)
	}

	// The request as the signer saw it: the same method, path, query and
	// signed headers, nothing else.
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	again, err := http.NewRequestWithContext(context.Background(), r.Method, u.String(), nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSignature, err)
	}
	again.Host = r.Host
	for _, h := range signed {
		switch h {
		case "host", "authorization":
		case "content-length":
			again.ContentLength = int64(len(body))
		default:
			vals := r.Header.Values(h)
			if len(vals) == 0 {
				return fmt.Errorf("%w: signed header %s is missing", ErrSignature, h)
			}
			again.Header[http.CanonicalHeaderKey(h)] = vals
		}
	}
	payloadHash := r.Header.Get("X-Amz-Content-Sha256")
	sum := sha256.Sum256(body)
	switch {
	case payloadHash == "" || payloadHash == "UNSIGNED-PAYLOAD":
		if payloadHash == "" {
			payloadHash = hex.EncodeToString(sum[:])
		}
	case payloadHash != hex.EncodeToString(sum[:]):
		return fmt.Errorf("%w: X-Amz-Content-Sha256 is not the body's hash", ErrSignature)
	}
	creds := s.Credentials
	if creds.SessionToken != "" && r.Header.Get("X-Amz-Security-Token") != creds.SessionToken {
		return fmt.Errorf("%w: missing or wrong X-Amz-Security-Token", ErrSignature)
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, again, payloadHash, s.Service, s.Region, when); err != nil {
		return fmt.Errorf("%w: %v", ErrSignature, err)
	}
	want := again.Header.Get("Authorization")
	wantSigned, wantSig := "", ""
	for _, part := range strings.Split(strings.TrimPrefix(want, algo), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "SignedHeaders":
			wantSigned = v
		case "Signature":
			wantSig = v
		}
	}
	if wantSigned != signedHeaders || subtle.ConstantTimeCompare([]byte(wantSig), []byte(signature)) != 1 {
		return ErrSignature
	}
	return nil
}
