// Package failure classifies what went wrong in one invocation: a short,
// stable reason for logs and the `mailer invoke` outcome, and whether a
// retry can help. Permanent failures (bad ciphertext, wrong pool, no email
// address) are refused and never retried; everything else is retryable, so
// that Lambda's asynchronous retries get another chance to send.
//
// The reasons are a closed set, listed with their class and meaning in
// Reasons (reasons.go): Permanent and Retryable take one of its constants,
// and tests hold every call site and the README to that list.
package failure

import "errors"

// ErrDuplicate is matched by the error of a delivery that finds its event
// already sent or in progress: not a failure, the outcome "duplicate".
var ErrDuplicate = errors.New("duplicate delivery")

// Error is a classified failure. Err holds the cause and must never carry a
// decrypted code, a temporary password or a rendered body.
type Error struct {
	Reason    Reason // one of Reasons, e.g. ReasonPoolMismatch
	Permanent bool   // a retry cannot help
	Err       error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return string(e.Reason)
	}
	return string(e.Reason) + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Permanent returns a failure that a retry cannot fix; reason is a
// ClassPermanent constant.
func Permanent(reason Reason, err error) error {
	return &Error{Reason: reason, Permanent: true, Err: err}
}

// Retryable returns a failure that a later attempt may get past; reason is
// a ClassRetryable constant.
func Retryable(reason Reason, err error) error {
	return &Error{Reason: reason, Err: err}
}

// Classify returns the reason and permanence of err. An error that was never
// classified is retryable with reason ReasonInternal: at least one more
// attempt is better than a lost mail.
func Classify(err error) (reason string, permanent bool) {
	var fe *Error
	if errors.As(err, &fe) {
		return string(fe.Reason), fe.Permanent
	}
	return string(ReasonInternal), false
}
