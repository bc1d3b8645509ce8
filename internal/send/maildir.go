package send

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/failure"
)

// Maildir delivers each message as a file in a Maildir (tmp/, new/, cur/),
// for local runs with no AWS account. The inbox reader reads the same folder.
type Maildir struct {
	Path string
}

// Deliver implements Transport: it writes into tmp/ and renames into new/,
// so a reader never sees half a message. The message id is the file name.
func (m *Maildir) Deliver(_ context.Context, raw []byte, _ Envelope) (string, error) {
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(m.Path, sub), 0o700); err != nil {
			return "", failure.Retryable(failure.ReasonMaildirFailed, fmt.Errorf("maildir: %w", err))
		}
	}
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", failure.Retryable(failure.ReasonMaildirFailed, fmt.Errorf("maildir: %w", err))
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	name := strconv.FormatInt(time.Now().UnixNano(), 10) + "." + hex.EncodeToString(r[:]) + "." + host
	tmp := filepath.Join(m.Path, "tmp", name)
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return "", failure.Retryable(failure.ReasonMaildirFailed, fmt.Errorf("maildir: %w", err))
	}
	if err := os.Rename(tmp, filepath.Join(m.Path, "new", name)); err != nil {
		_ = os.Remove(tmp)
		return "", failure.Retryable(failure.ReasonMaildirFailed, fmt.Errorf("maildir: %w", err))
	}
	return name, nil
}
