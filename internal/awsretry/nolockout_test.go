package awsretry

import (
	"testing"

	"github.com/aws/smithy-go"
)

// TestNoRetryStorm: the Cognito client never retries LimitExceeded (which
// the SDK counts as throttling) or a failed code, but does retry real
// throttling and server faults.
func TestNoRetryStorm(t *testing.T) {
	r := NoLockout()
	for code, want := range map[string]bool{
		"LimitExceededException":         false,
		"TooManyFailedAttemptsException": false,
		"CodeMismatchException":          false,
		"ExpiredCodeException":           false,
		"TooManyRequestsException":       true,
		"ThrottlingException":            true,
	} {
		if got := r.IsErrorRetryable(&smithy.GenericAPIError{Code: code}); got != want {
			t.Errorf("%s: retryable %v, want %v", code, got, want)
		}
	}
}
