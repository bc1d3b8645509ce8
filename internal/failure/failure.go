// Package failure classifies what went wrong in one invocation: a short,
// stable reason for logs and the `mailer invoke` outcome, and whether a
// retry can help. Permanent failures (bad ciphertext, wrong pool, no email
// address) are refused and never retried; everything else is retryable, so
// that Lambda's asynchronous retries get another chance to send.
package failure

import "errors"

// ErrDuplicate is matched by the error of a delivery that finds its event
// already sent or in progress: not a failure, the outcome "duplicate".
var ErrDuplicate = errors.New("duplicate delivery")

// Error is a classified failure. Err holds the cause and must never carry a
// decrypted code, a temporary password or a rendered body.
type Error struct {
	Reason    string // short snake_case reason, e.g. "pool_mismatch"
	Permanent bool   // a retry cannot help
	Err       error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Reason
	}
	return e.Reason + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Permanent returns a failure that a retry cannot fix.
func Permanent(reason string, err error) error {
	return &Error{Reason: reason, Permanent: true, Err: err}
}

// Retryable returns a failure that a later attempt may get past.
func Retryable(reason string, err error) error {
	return &Error{Reason: reason, Err: err}
}

// Classify returns the reason and permanence of err. An error that was never
// classified is retryable with reason "internal": at least one more attempt
// is better than a lost mail.
func Classify(err error) (reason string, permanent bool) {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Reason, fe.Permanent
	}
	return "internal", false
}
