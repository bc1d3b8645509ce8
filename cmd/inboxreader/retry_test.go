package main

import (
	"errors"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/Phenom-earth/phenom-mailer/internal/inbox"
	"github.com/Phenom-earth/phenom-mailer/internal/reset"
)

// TestNoRetryStorm: the Cognito client never retries LimitExceeded (which
// the SDK counts as throttling) or a failed code, but does retry real
// throttling and server faults.
func TestNoRetryStorm(t *testing.T) {
	r := noLimitRetries()
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

func TestExitCodes(t *testing.T) {
	for err, want := range map[error]int{
		nil:                                      exitOK,
		&reset.CognitoError{Name: "ExpiredCode"}: exitCognito,
		&inbox.UntrustedError{Reason: "dkim_none"}: exitUntrusted,
		&inbox.NoMatchError{}:                      exitNoMail,
		usageErr("x"):                              exitUsage,
		errors.New("s3 list: AccessDenied"):        exitOther,
	} {
		if got := exitCode(err); got != want {
			t.Errorf("%v: exit %d, want %d", err, got, want)
		}
	}
}
