package inbox

import (
	"context"
	"errors"
	"fmt"
)

// ErrSpec marks a source spec that cannot be opened as written (a usage
// error): unparseable, or an IMAP source without its password.
var ErrSpec = errors.New("bad source")

// ErrNoPassword: an IMAP source was given without its password.
var ErrNoPassword = &SpecError{Err: errors.New("an IMAP source needs a password")}

// SpecError is a spec Open refuses; it matches ErrSpec and reads as the
// reason alone.
type SpecError struct{ Err error }

func (e *SpecError) Error() string        { return e.Err.Error() }
func (e *SpecError) Unwrap() error        { return e.Err }
func (e *SpecError) Is(target error) bool { return target == ErrSpec }

// Deps is what opening a source may need; the caller builds it (the
// password from wherever it keeps it, the S3 client from its AWS config).
type Deps struct {
	// IMAPPassword is the IMAP user's password (imap:// and imaps://).
	IMAPPassword string
	// S3 returns the client of an s3:// source; called only for one.
	S3 func(ctx context.Context) (S3API, error)
}

// Open returns the source a spec names (see ParseSpec) and a func that
// releases it (an IMAP connection). Errors wrapping ErrSpec are the
// caller's to fix; any other error came from building a dependency.
func Open(ctx context.Context, spec string, deps Deps) (Source, func(), error) {
	sp, err := ParseSpec(spec)
	if err != nil {
		return nil, nil, &SpecError{Err: err}
	}
	switch sp.Kind {
	case KindMaildir:
		return &Maildir{Path: sp.Path}, func() {}, nil
	case KindIMAP, KindIMAPS:
		if deps.IMAPPassword == "" {
			return nil, nil, ErrNoPassword
		}
		m := &IMAP{Addr: sp.Addr, TLS: sp.Kind == KindIMAPS, User: sp.User, Password: deps.IMAPPassword, Mailbox: sp.Mailbox}
		return m, func() { m.Close() }, nil
	case KindS3:
		if deps.S3 == nil {
			return nil, nil, errors.New("s3 source: no S3 client")
		}
		client, err := deps.S3(ctx)
		if err != nil {
			return nil, nil, err
		}
		return &S3{Client: client, Bucket: sp.Bucket, Prefix: sp.Prefix}, func() {}, nil
	}
	return nil, nil, &SpecError{Err: fmt.Errorf("unknown source kind %q", sp.Kind)}
}
