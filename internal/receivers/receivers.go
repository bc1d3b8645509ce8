// Package receivers judges a built mail the way receiving systems do,
// with independent tools nobody in this project wrote: SpamAssassin's
// local rules (the spam score), dkimpy (a second DKIM verifier beside
// go-msgauth), and caniemail.com's support data through
// @jsx-email/doiuse-email (which CSS and HTML each mail client family
// honours). Each judge runs an installed tool; when the tool is missing it
// returns an error that satisfies IsMissing, so that callers can say "not
// checked" instead of failing (the tests do fail on it under CI=true).
//
// It must not know how a mail was built or sent, nor the environment;
// results name rules, properties and families, never a code or a body.
package receivers

import (
	"errors"
	"fmt"
)

// MissingError says that a judge's tool is not installed.
type MissingError struct {
	Tool string // "spamassassin", "python3-dkim", "node", "@jsx-email/doiuse-email"
	Fix  string // how to install it
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("%s missing (%s)", e.Tool, e.Fix)
}

// IsMissing reports whether err says a judge's tool is not installed, and
// returns that error.
func IsMissing(err error) (*MissingError, bool) {
	var m *MissingError
	ok := errors.As(err, &m)
	return m, ok
}
