// Package awsretry holds the mailer's retry policies for AWS calls: jittered
// exponential backoff within the caller's deadline, without the SDK's
// client-wide retry quota (a burst of faults would otherwise exhaust it for
// every later invocation of a warm Lambda).
package awsretry

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// NoResend retries SES calls with jittered exponential backoff, within
// the caller's deadline, but only where the failed attempt cannot have sent
// a mail: throttling, SES's own 5xx answers, and connections that were never
// made. A connection lost after the request went out is not retried here:
// SendEmail is not idempotent, and a second attempt could send a second
// mail. Such a failure is reported as retryable to Lambda instead.
func NoResend(maxAttempts int, maxBackoff time.Duration) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxAttempts
		o.MaxBackoff = maxBackoff
		o.RateLimiter = ratelimit.None
		o.Retryables = []retry.IsErrorRetryable{
			retry.NoRetryCanceledError{},
			retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
				if errors.Is(err, context.DeadlineExceeded) {
					return aws.FalseTernary
				}
				return aws.UnknownTernary
			}),
			retry.RetryableErrorCode{Codes: map[string]struct{}{
				"TooManyRequestsException": {},
				"ThrottlingException":      {},
				"Throttling":               {},
				"LimitExceededException":   {},
				"InternalFailure":          {},
				"ServiceUnavailable":       {},
			}},
			retry.RetryableHTTPStatusCode{Codes: map[int]struct{}{429: {}, 500: {}, 502: {}, 503: {}, 504: {}}},
			retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
				var op *net.OpError
				if errors.As(err, &op) && op.Op == "dial" {
					return aws.TrueTernary
				}
				return aws.UnknownTernary
			}),
		}
	})
}

// Repeatable retries calls that are safe to repeat (KMS Decrypt, DynamoDB
// conditional writes): the SDK's standard retryables (throttling, 5xx,
// connection errors) with jittered backoff.
func Repeatable(maxAttempts int, maxBackoff time.Duration) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxAttempts
		o.MaxBackoff = maxBackoff
		o.RateLimiter = ratelimit.None
	})
}
