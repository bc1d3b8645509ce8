package inbox

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Maildir reads a Maildir (new/ and cur/) or, when the folder has neither,
// the .eml files in it. Received is the file's modification time. The
// mailer's MAILER_DELIVERY=maildir:PATH writes what this reads.
type Maildir struct {
	Path string
	// MaxSize skips larger files (DefaultMaxSize when zero).
	MaxSize int64
}

func (d *Maildir) String() string { return "maildir:" + d.Path }

// Fetch implements Source.
func (d *Maildir) Fetch(ctx context.Context, since time.Time, skip func(string) bool) ([]Message, error) {
	max := d.MaxSize
	if max <= 0 {
		max = DefaultMaxSize
	}
	var dirs []string
	for _, sub := range []string{"new", "cur"} {
		if fi, err := os.Stat(filepath.Join(d.Path, sub)); err == nil && fi.IsDir() {
			dirs = append(dirs, filepath.Join(d.Path, sub))
		}
	}
	emlOnly := false
	if len(dirs) == 0 {
		fi, err := os.Stat(d.Path)
		if err != nil {
			return nil, fmt.Errorf("maildir: %w", err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("maildir: %s is not a folder", d.Path)
		}
		dirs, emlOnly = []string{d.Path}, true
	}
	var out []Message
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("maildir: %w", err)
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			name := e.Name()
			if !e.Type().IsRegular() || strings.HasPrefix(name, ".") || (emlOnly && !strings.EqualFold(filepath.Ext(name), ".eml")) {
				continue
			}
			info, err := e.Info()
			if err != nil || info.Size() > max || info.ModTime().Before(since) || (skip != nil && skip(name)) {
				continue
			}
			raw, err := readLimited(filepath.Join(dir, name), max)
			if err != nil {
				continue // renamed or removed meanwhile
			}
			out = append(out, Message{ID: name, Received: info.ModTime(), Raw: raw})
		}
	}
	return out, nil
}

func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	return b, nil
}
