package main

import (
	"errors"
	"testing"

	"github.com/Phenom-earth/phenom-mailer/internal/inbox"
	"github.com/Phenom-earth/phenom-mailer/internal/reset"
)

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
