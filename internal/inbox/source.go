package inbox

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Source kinds.
const (
	KindS3      = "s3"
	KindIMAP    = "imap"
	KindIMAPS   = "imaps"
	KindMaildir = "maildir"
)

// Spec is a parsed --source.
type Spec struct {
	Kind string
	// s3://BUCKET/PREFIX
	Bucket, Prefix string
	// imap[s]://USER@HOST[:PORT]/MAILBOX (the password never appears in it)
	User, Addr, Mailbox string
	// maildir:PATH
	Path string
}

// ParseSpec parses s3://bucket/prefix, imaps://user@host[:port]/MAILBOX,
// imap://user@host[:port]/MAILBOX and maildir:PATH. A user name that is an
// address may keep its "@" or write it as %40.
func ParseSpec(s string) (Spec, error) {
	switch {
	case strings.HasPrefix(s, "maildir:"):
		p := strings.TrimPrefix(s, "maildir:")
		if p == "" {
			return Spec{}, errors.New("maildir: needs a path (maildir:PATH)")
		}
		return Spec{Kind: KindMaildir, Path: p}, nil
	case strings.HasPrefix(s, "s3://"):
		rest := strings.TrimPrefix(s, "s3://")
		bucket, prefix, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return Spec{}, errors.New("s3 source needs a bucket (s3://BUCKET/PREFIX)")
		}
		return Spec{Kind: KindS3, Bucket: bucket, Prefix: prefix}, nil
	case strings.HasPrefix(s, "imap://"), strings.HasPrefix(s, "imaps://"):
		u, err := url.Parse(s)
		if err != nil {
			return Spec{}, errors.New("imap source is not a URL (imaps://USER@HOST[:PORT]/MAILBOX)")
		}
		if _, has := u.User.Password(); has {
			return Spec{}, errors.New("imap source must not carry a password: set INBOX_IMAP_PASSWORD")
		}
		if u.User == nil || u.User.Username() == "" || u.Hostname() == "" {
			return Spec{}, errors.New("imap source needs USER@HOST (imaps://USER@HOST[:PORT]/MAILBOX)")
		}
		port := u.Port()
		if port == "" {
			port = "143"
			if u.Scheme == KindIMAPS {
				port = "993"
			}
		}
		mbox := strings.TrimPrefix(u.Path, "/")
		if mbox == "" {
			mbox = "INBOX"
		}
		return Spec{Kind: u.Scheme, User: u.User.Username(), Addr: net.JoinHostPort(u.Hostname(), port), Mailbox: mbox}, nil
	}
	return Spec{}, fmt.Errorf("unknown source %q: use s3://BUCKET/PREFIX, imaps://USER@HOST/MAILBOX, imap://USER@HOST/MAILBOX or maildir:PATH", clip(s, 80))
}
