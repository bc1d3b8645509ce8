// Package cli holds what the project's commands (cmd/mailer,
// cmd/inboxreader) share at their boundary: the error that carries a
// process exit code out of a command's run function to its main. It knows
// nothing of any command's flags, environment or codes' meanings.
package cli

// ExitError is an error that ends the process with Code.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }
