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
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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

// writeMails writes each mail as <dir>/<i>.eml (transformed by as, when
// set) and returns the paths in order: the judges read files, one process
// for all mails.
func writeMails(dir string, mails [][]byte, as func([]byte) []byte) ([]string, error) {
	names := make([]string, len(mails))
	for i, raw := range mails {
		if as != nil {
			raw = as(raw)
		}
		names[i] = filepath.Join(dir, strconv.Itoa(i)+".eml")
		if err := os.WriteFile(names[i], raw, 0o600); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// runJudge runs a judge's process and returns what it printed. Exit code 3
// is the judges' own way of saying their library is missing (missing);
// any other failure quotes the last line of stderr, prefixed with what.
func runJudge(cmd *exec.Cmd, what string, missing *MissingError) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == 3 {
			return nil, missing
		}
		return nil, fmt.Errorf("%s: %w: %s", what, err, lastLine(stderr.String()))
	}
	return stdout.Bytes(), nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
