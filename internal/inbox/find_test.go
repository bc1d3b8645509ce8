package inbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func writeMail(t *testing.T, dir, name string, raw []byte, mtime time.Time) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func newMaildir(t *testing.T) (string, *Maildir) {
	t.Helper()
	dir := t.TempDir()
	for _, sub := range []string{"new", "cur", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return dir, &Maildir{Path: dir}
}

// TestFindTimeJudgement: only mail received after the request (less the
// skew allowance), by both the source's time and the Date header, counts;
// the newest match wins.
func TestFindTimeJudgement(t *testing.T) {
	dir, src := newMaildir(t)
	req := time.Now().Add(-time.Minute)
	signed := []string{"thephenom.app"}
	// Older than the request: by file time, and by Date with a new file time.
	writeMail(t, filepath.Join(dir, "cur"), "old-file", build(t, mailOpts{signers: signed, date: req.Add(-time.Hour)}), req.Add(-time.Hour))
	writeMail(t, filepath.Join(dir, "new"), "old-date", build(t, mailOpts{signers: signed, date: req.Add(-10 * time.Minute)}), req.Add(time.Second))
	// Another recipient and another sender, both new.
	writeMail(t, filepath.Join(dir, "new"), "other-to", build(t, mailOpts{signers: signed, to: "someone@thephenom.app"}), req.Add(2*time.Second))
	writeMail(t, filepath.Join(dir, "new"), "other-from", build(t, mailOpts{from: "x@example.com"}), req.Add(2*time.Second))

	q := Query{To: testTo, Since: req}
	_, err := Find(context.Background(), src, q)
	var nm *NoMatchError
	if !errors.As(err, &nm) || !errors.Is(err, ErrNoMatch) {
		t.Fatalf("want no match, got %v", err)
	}
	if nm.Skipped[SkipDate] != 1 || nm.Skipped[SkipTo] != 1 || nm.Skipped[SkipFrom] != 1 || nm.Seen != 3 {
		t.Errorf("skipped %v of %d (the old file is not even listed)", nm.Skipped, nm.Seen)
	}

	// Within the skew allowance counts; the newest of two wins.
	writeMail(t, filepath.Join(dir, "new"), "a-within-skew", build(t, mailOpts{signers: signed, date: req.Add(-3 * time.Second)}), req.Add(-3*time.Second))
	writeMail(t, filepath.Join(dir, "new"), "z-newest", build(t, mailOpts{signers: signed, date: req.Add(5 * time.Second), text: resetText("111222"), html: resetHTML("111222")}), req.Add(5*time.Second))
	m, err := Find(context.Background(), src, q)
	if err != nil || m.ID != "z-newest" {
		t.Fatalf("found %q, %v", m.ID, err)
	}
	v, err := Check(context.Background(), m, policy)
	if err != nil || v.Code != "111222" {
		t.Fatalf("check: %v", err)
	}
	// Without skew, the message 3 s early does not count.
	os.Remove(filepath.Join(dir, "new", "z-newest"))
	if _, err := Find(context.Background(), src, Query{To: testTo, Since: req, Skew: -1}); !errors.Is(err, ErrNoMatch) {
		t.Errorf("no skew: %v", err)
	}
	if m, err := Find(context.Background(), src, q); err != nil || m.ID != "a-within-skew" {
		t.Errorf("within skew: %q %v", m.ID, err)
	}
}

// TestEMLFolder: a folder of .eml files is read too; other files are not.
func TestEMLFolder(t *testing.T) {
	dir := t.TempDir()
	raw := build(t, mailOpts{signers: []string{"thephenom.app"}})
	writeMail(t, dir, "reset.eml", raw, time.Now())
	writeMail(t, dir, "notes.txt", raw, time.Now())
	msgs, err := (&Maildir{Path: dir}).Fetch(context.Background(), time.Time{}, nil)
	if err != nil || len(msgs) != 1 || msgs[0].ID != "reset.eml" {
		t.Fatalf("%d messages, %v", len(msgs), err)
	}
	if msgs, _ := (&Maildir{Path: dir, MaxSize: 100}).Fetch(context.Background(), time.Time{}, nil); len(msgs) != 0 {
		t.Errorf("a message over the size limit was read")
	}
	if _, err := (&Maildir{Path: filepath.Join(dir, "missing")}).Fetch(context.Background(), time.Time{}, nil); err == nil {
		t.Errorf("a missing folder must be an error")
	}
}

// TestWait polls until the mail lands, and gives up with ErrNoMatch.
func TestWait(t *testing.T) {
	dir, src := newMaildir(t)
	req := time.Now()
	q := Query{To: testTo, Since: req}
	raw := build(t, mailOpts{signers: []string{"thephenom.app"}, date: req})
	go func() {
		time.Sleep(300 * time.Millisecond)
		writeMail(t, filepath.Join(dir, "new"), "late", raw, time.Now())
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	m, err := Wait(ctx, src, q, Backoff{Initial: 50 * time.Millisecond, Max: 200 * time.Millisecond, Factor: 2})
	if err != nil || m.ID != "late" {
		t.Fatalf("wait: %q %v", m.ID, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}

	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	_, err = Wait(ctx2, src, Query{To: "nobody@thephenom.app", Since: req}, Backoff{Initial: 50 * time.Millisecond, Max: 100 * time.Millisecond, Factor: 2})
	var nm *NoMatchError
	if !errors.As(err, &nm) || nm.Looks < 2 {
		t.Fatalf("want no match after several looks, got %v", err)
	}
}

type flaky struct {
	Maildir
	fails int
}

func (f *flaky) Fetch(ctx context.Context, since time.Time, skip func(string) bool) ([]Message, error) {
	if f.fails > 0 {
		f.fails--
		return nil, errors.New("connection refused")
	}
	return f.Maildir.Fetch(ctx, since, skip)
}

// TestWaitRetriesSourceErrors: passing source errors are retried and
// reported; five in a row end the wait with the error.
func TestWaitRetriesSourceErrors(t *testing.T) {
	dir, _ := newMaildir(t)
	writeMail(t, filepath.Join(dir, "new"), "m", build(t, mailOpts{signers: []string{"thephenom.app"}}), time.Now())
	var heard []int
	b := Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond, Factor: 2, OnError: func(look int, err error) { heard = append(heard, look) }}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	src := &flaky{Maildir: Maildir{Path: dir}, fails: 2}
	if _, err := Wait(ctx, src, Query{To: testTo}, b); err != nil {
		t.Fatalf("wait: %v", err)
	}
	if len(heard) != 2 || heard[0] != 1 || heard[1] != 2 {
		t.Errorf("heard of looks %v", heard)
	}
	src.fails = 10
	if _, err := Wait(ctx, src, Query{To: testTo}, b); err == nil || errors.Is(err, ErrNoMatch) {
		t.Errorf("a source that stays down: %v", err)
	}
}
