package inbox

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// IMAP reads a mailbox over IMAP (implicit TLS for imaps, plain for imap,
// which should only ever be a loopback test server), read-only (EXAMINE,
// BODY.PEEK): it changes no flags. Received is INTERNALDATE. The connection
// is kept between looks and redialled after an error. WorkMail-compatible:
// LOGIN with the full address.
type IMAP struct {
	Addr     string // host:port
	TLS      bool
	User     string
	Password string
	Mailbox  string
	// TLSConfig for imaps (nil: system roots, ServerName from Addr).
	TLSConfig *tls.Config
	// MaxSize skips larger messages (DefaultMaxSize when zero).
	MaxSize int64
	// MaxMessages bounds how many recent messages one look reads (20 when zero).
	MaxMessages int

	mu sync.Mutex
	c  *imapclient.Client
}

func (m *IMAP) String() string {
	scheme := "imap"
	if m.TLS {
		scheme = "imaps"
	}
	return scheme + "://" + m.User + "@" + m.Addr + "/" + m.Mailbox
}

// Close logs out.
func (m *IMAP) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.c == nil {
		return nil
	}
	_ = m.c.Logout().Wait()
	err := m.c.Close()
	m.c = nil
	return err
}

func (m *IMAP) dial(ctx context.Context) (*imapclient.Client, error) {
	d := &net.Dialer{Timeout: 15 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", m.Addr)
	if err != nil {
		return nil, fmt.Errorf("imap dial %s: %w", m.Addr, err)
	}
	if m.TLS {
		cfg := m.TLSConfig.Clone()
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			host, _, _ := net.SplitHostPort(m.Addr)
			cfg.ServerName = host
		}
		cfg.MinVersion = tls.VersionTLS12
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("imap tls %s: %w", m.Addr, err)
		}
		conn = tc
	}
	c := imapclient.New(conn, nil)
	if err := c.WaitGreeting(); err != nil {
		c.Close()
		return nil, fmt.Errorf("imap greeting: %w", err)
	}
	if err := c.Login(m.User, m.Password).Wait(); err != nil {
		c.Close()
		// The server's answer never quotes the password; it is dropped anyway.
		var ie *imap.Error
		if errors.As(err, &ie) {
			return nil, fmt.Errorf("imap login as %s refused: %s", m.User, ie.Text)
		}
		return nil, errors.New("imap login as " + m.User + " failed")
	}
	return c, nil
}

// Fetch implements Source.
func (m *IMAP) Fetch(ctx context.Context, since time.Time, skip func(string) bool) ([]Message, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	msgs, err := m.fetch(ctx, since, skip)
	if err != nil && m.c != nil {
		m.c.Close()
		m.c = nil
	}
	return msgs, err
}

func (m *IMAP) fetch(ctx context.Context, since time.Time, skip func(string) bool) ([]Message, error) {
	if m.c == nil {
		c, err := m.dial(ctx)
		if err != nil {
			return nil, err
		}
		m.c = c
	}
	stop := context.AfterFunc(ctx, func() { m.c.Close() })
	defer stop()
	// EXAMINE each look: it refreshes the mailbox view and sets nothing \Seen.
	if _, err := m.c.Select(m.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return nil, fmt.Errorf("imap examine %s: %w", m.Mailbox, err)
	}
	crit := &imap.SearchCriteria{}
	if !since.IsZero() {
		// SINCE compares dates only, in the server's zone: a day earlier,
		// then the exact INTERNALDATE below.
		crit.Since = since.Add(-24 * time.Hour)
	}
	data, err := m.c.UIDSearch(crit, nil).Wait()
	if err != nil {
		return nil, fmt.Errorf("imap search: %w", err)
	}
	uids := data.AllUIDs()
	if len(uids) == 0 {
		return nil, nil
	}
	meta, err := m.c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, InternalDate: true, RFC822Size: true}).Collect()
	if err != nil {
		return nil, fmt.Errorf("imap fetch: %w", err)
	}
	max := m.MaxSize
	if max <= 0 {
		max = DefaultMaxSize
	}
	limit := m.MaxMessages
	if limit <= 0 {
		limit = 20
	}
	var want []*imapclient.FetchMessageBuffer
	for _, b := range meta {
		if b.RFC822Size > max || b.InternalDate.Before(since) {
			continue
		}
		if skip != nil && skip(strconv.FormatUint(uint64(b.UID), 10)) {
			continue
		}
		want = append(want, b)
	}
	sort.Slice(want, func(i, j int) bool { return want[i].InternalDate.After(want[j].InternalDate) })
	if len(want) > limit {
		want = want[:limit]
	}
	if len(want) == 0 {
		return nil, nil
	}
	var set imap.UIDSet
	when := map[imap.UID]time.Time{}
	for _, b := range want {
		set.AddNum(b.UID)
		when[b.UID] = b.InternalDate
	}
	section := &imap.FetchItemBodySection{Peek: true}
	bodies, err := m.c.Fetch(set, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		return nil, fmt.Errorf("imap fetch bodies: %w", err)
	}
	var out []Message
	for _, b := range bodies {
		raw := b.FindBodySection(section)
		if raw == nil || int64(len(raw)) > max {
			continue
		}
		out = append(out, Message{ID: strconv.FormatUint(uint64(b.UID), 10), Received: when[b.UID], Raw: raw})
	}
	return out, nil
}
