package standin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrDovecotMissing means dovecot (apt dovecot-imapd dovecot-lmtpd) is not
// installed, or cannot run its mail user here (it needs root to switch to
// uid 65534).
var ErrDovecotMissing = errors.New("standin: dovecot not available (apt-get install dovecot-imapd dovecot-lmtpd; runs as root)")

// MailUID is the uid and gid dovecot runs mail access as (it refuses 0).
const MailUID = 65534

// Dovecot is a dovecot child process serving IMAP and LMTP on 127.0.0.1,
// with passwd-file users and Maildirs under a private folder.
type Dovecot struct {
	// IMAPAddr and LMTPAddr are "127.0.0.1:PORT".
	IMAPAddr, LMTPAddr string
	// IMAPSAddr is the implicit-TLS IMAP listener (StartDovecotTLS only).
	IMAPSAddr string
	// Dir holds the configuration, the run directory, the log and the mail.
	Dir string

	cmd      *exec.Cmd
	waitDone chan struct{}
	once     sync.Once
}

// DovecotBinary finds dovecot.
func DovecotBinary() (string, error) {
	if p, err := exec.LookPath("dovecot"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/dovecot", "/usr/local/sbin/dovecot"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", ErrDovecotMissing
}

// StartDovecot starts dovecot with users (address → password). Mail for a
// user lives in Dir/mail/<address>/Maildir. ctx bounds the start.
func StartDovecot(ctx context.Context, users map[string]string) (*Dovecot, error) {
	return startDovecot(ctx, users, nil, nil)
}

// StartDovecotTLS is StartDovecot with an implicit-TLS IMAP listener
// (IMAPSAddr) serving the PEM certificate chain and key.
func StartDovecotTLS(ctx context.Context, users map[string]string, certPEM, keyPEM []byte) (*Dovecot, error) {
	if len(certPEM) == 0 || len(keyPEM) == 0 {
		return nil, errors.New("standin: dovecot TLS needs a certificate and a key")
	}
	return startDovecot(ctx, users, certPEM, keyPEM)
}

func startDovecot(ctx context.Context, users map[string]string, certPEM, keyPEM []byte) (*Dovecot, error) {
	bin, err := DovecotBinary()
	if err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("%w: not running as root", ErrDovecotMissing)
	}
	if _, err := os.Stat("/usr/lib/dovecot/lmtp"); err != nil {
		return nil, fmt.Errorf("%w: the LMTP server (dovecot-lmtpd) is missing", ErrDovecotMissing)
	}
	dir, err := os.MkdirTemp("", "standin-dovecot-")
	if err != nil {
		return nil, err
	}
	// The mail user must reach its Maildir: the folder is traversable, the
	// mail folder belongs to it.
	if err := os.Chmod(dir, 0o711); err != nil {
		return nil, err
	}
	mail := filepath.Join(dir, "mail")
	if err := os.Mkdir(mail, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chown(mail, MailUID, MailUID); err != nil {
		return nil, err
	}
	var pw strings.Builder
	for user, pass := range users {
		if strings.ContainsAny(user+pass, ":\n") {
			return nil, errors.New("standin: dovecot user or password contains ':' or a newline")
		}
		fmt.Fprintf(&pw, "%s:{PLAIN}%s:%d:%d::%s/%s\n", user, pass, MailUID, MailUID, mail, user)
	}
	if err := os.WriteFile(filepath.Join(dir, "users"), []byte(pw.String()), 0o644); err != nil {
		return nil, err
	}
	imapPort, err := freePort()
	if err != nil {
		return nil, err
	}
	lmtpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	d := &Dovecot{Dir: dir, IMAPAddr: fmt.Sprintf("127.0.0.1:%d", imapPort), LMTPAddr: fmt.Sprintf("127.0.0.1:%d", lmtpPort)}
	sslConf, imapsPort := "ssl = no", 0
	if certPEM != nil {
		if imapsPort, err = freePort(); err != nil {
			return nil, err
		}
		d.IMAPSAddr = fmt.Sprintf("127.0.0.1:%d", imapsPort)
		certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		if err := os.WriteFile(certPath, certPEM, 0o644); err != nil {
			return nil, err
		}
		if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
			return nil, err
		}
		sslConf = fmt.Sprintf("ssl = yes\nssl_cert = <%s\nssl_key = <%s\nssl_min_protocol = TLSv1.2", certPath, keyPath)
	}
	conf := fmt.Sprintf(`# standin: dovecot on 127.0.0.1 only, for tests
protocols = imap lmtp
listen = 127.0.0.1
base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
%[5]s
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:~/Maildir
mail_uid = %[4]d
mail_gid = %[4]d
first_valid_uid = %[4]d
last_valid_uid = %[4]d
first_valid_gid = %[4]d
mail_privileged_group =
lmtp_save_to_detail_mailbox = no
recipient_delimiter =
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/users
}
userdb {
  driver = passwd-file
  args = username_format=%%u %[1]s/users
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[2]d
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = %[6]d
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = %[3]d
  }
  unix_listener lmtp {
    mode = 0600
  }
}
service imap {
  process_limit = 16
}
service stats {
  unix_listener stats-reader {
    mode = 0600
  }
  unix_listener stats-writer {
    mode = 0600
  }
}
`, dir, imapPort, lmtpPort, MailUID, sslConf, imapsPort)
	confPath := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-F", "-c", confPath)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL} // no orphan if the test process dies
	var out LockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("standin: start dovecot: %w", err)
	}
	d.cmd = cmd
	d.waitDone = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(d.waitDone)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if ready(d.IMAPAddr) && ready(d.LMTPAddr) && (d.IMAPSAddr == "" || ready(d.IMAPSAddr)) {
			return d, nil
		}
		select {
		case <-d.waitDone:
			log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			return nil, fmt.Errorf("standin: dovecot exited: %s %s", strings.TrimSpace(out.String()), clipLog(log))
		case <-ctx.Done():
			d.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.Close()
			return nil, errors.New("standin: dovecot did not listen within 30s")
		}
	}
}

// clipLog keeps the last 2000 bytes of a log, never starting inside a
// UTF-8 character.
func clipLog(b []byte) string {
	if len(b) > 2000 {
		return strings.ToValidUTF8(string(b[len(b)-2000:]), "")
	}
	return string(b)
}

func ready(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Log returns dovecot's log (it never holds a password or a mail body).
func (d *Dovecot) Log() string {
	b, _ := os.ReadFile(filepath.Join(d.Dir, "dovecot.log"))
	return string(b)
}

// Close stops dovecot and removes its folder.
func (d *Dovecot) Close() error {
	d.once.Do(func() {
		if d.cmd != nil && d.cmd.Process != nil {
			pid := d.cmd.Process.Pid
			_ = syscall.Kill(-pid, syscall.SIGTERM)
			select {
			case <-d.waitDone:
			case <-time.After(5 * time.Second):
				_ = syscall.Kill(-pid, syscall.SIGKILL)
				<-d.waitDone
			}
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
		os.RemoveAll(d.Dir)
	})
	return nil
}

// Deliver hands raw to dovecot over LMTP for one recipient.
func (d *Dovecot) Deliver(ctx context.Context, from, to string, raw []byte) error {
	return DeliverLMTP(ctx, d.LMTPAddr, from, to, raw)
}

// DeliverLMTP delivers raw to one recipient over LMTP (RFC 2033) at addr,
// the way an MTA hands mail to a mailbox server: LHLO, MAIL FROM, RCPT TO,
// DATA with dot-stuffing, one reply per recipient.
func DeliverLMTP(ctx context.Context, addr, from, to string, raw []byte) error {
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("lmtp dial: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	} else {
		conn.SetDeadline(time.Now().Add(30 * time.Second))
	}
	tp := textproto.NewConn(conn)
	expect := func(code int) error {
		_, _, err := tp.ReadResponse(code)
		return err
	}
	if err := expect(220); err != nil {
		return fmt.Errorf("lmtp greeting: %w", err)
	}
	steps := []struct {
		cmd  string
		code int
	}{
		{"LHLO standin.localhost", 250},
		{"MAIL FROM:<" + from + ">", 250},
		{"RCPT TO:<" + to + ">", 250},
		{"DATA", 354},
	}
	for _, s := range steps {
		if err := tp.PrintfLine("%s", s.cmd); err != nil {
			return err
		}
		if err := expect(s.code); err != nil {
			return fmt.Errorf("lmtp %s: %w", strings.Fields(s.cmd)[0], err)
		}
	}
	w := tp.DotWriter()
	if _, err := io.Copy(w, bytes.NewReader(raw)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := expect(250); err != nil {
		return fmt.Errorf("lmtp delivery to %s: %w", to, err)
	}
	_ = tp.PrintfLine("QUIT")
	return nil
}
