package inbox

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestOpen(t *testing.T) {
	ctx := context.Background()
	s3Calls := 0
	deps := Deps{S3: func(context.Context) (S3API, error) { s3Calls++; return nil, errors.New("no aws here") }}

	src, closer, err := Open(ctx, "maildir:/tmp/box", deps)
	if err != nil {
		t.Fatal(err)
	}
	closer()
	if md, ok := src.(*Maildir); !ok || md.Path != "/tmp/box" {
		t.Errorf("maildir spec opened %T %v", src, src)
	}

	_, _, err = Open(ctx, "imaps://qa@imap.example.com/INBOX", deps)
	if err != ErrNoPassword || !errors.Is(err, ErrSpec) {
		t.Errorf("an IMAP source without a password: got %v, want ErrNoPassword (an ErrSpec)", err)
	}
	deps.IMAPPassword = "hunter2pw"
	src, closer, err = Open(ctx, "imaps://qa@imap.example.com/INBOX", deps)
	if err != nil {
		t.Fatal(err)
	}
	closer()
	if m, ok := src.(*IMAP); !ok || m.Addr != "imap.example.com:993" || !m.TLS || m.Password != "hunter2pw" {
		t.Errorf("imaps spec opened %T", src)
	}
	if strings.Contains(src.String(), "hunter2pw") {
		t.Errorf("the source's description shows the password")
	}

	_, _, err = Open(ctx, "ftp://x", deps)
	if !errors.Is(err, ErrSpec) || !strings.HasPrefix(err.Error(), "unknown source") {
		t.Errorf("a bad spec: got %v, want an ErrSpec reading as ParseSpec's message", err)
	}
	if s3Calls != 0 {
		t.Errorf("the S3 client was built for a source that is not S3")
	}
	if _, _, err = Open(ctx, "s3://bucket/prefix", deps); s3Calls != 1 || err == nil || errors.Is(err, ErrSpec) {
		t.Errorf("an s3 source must build its client once and pass its error on as not a usage error: calls %d, err %v", s3Calls, err)
	}
}
