// Package awsretry holds the retry policies for AWS calls, one per kind of
// call: the mailer's (jittered exponential backoff within the caller's
// deadline, without the SDK's client-wide retry quota, which a burst of
// faults would otherwise exhaust for every later invocation of a warm
// Lambda) and the inbox reader's Cognito calls. It knows nothing of the
// calls' callers, configuration or environment.
package awsretry

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
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

// NoLockout is the policy of Cognito user-pool calls on a test user
// (ForgotPassword, ConfirmForgotPassword, sign-in): it retries transient
// failures but never LimitExceeded or TooManyFailedAttempts (the SDK counts
// LimitExceededException as throttling), nor a wrong or expired code: a
// retry there only deepens the lockout.
func NoLockout() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 3
		o.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
			var ae smithy.APIError
			if errors.As(err, &ae) {
				switch ae.ErrorCode() {
				case "LimitExceededException", "TooManyFailedAttemptsException", "CodeMismatchException", "ExpiredCodeException":
					return aws.FalseTernary
				}
			}
			return aws.UnknownTernary
		})}, o.Retryables...)
	})
}
