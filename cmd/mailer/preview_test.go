package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jhillyerd/enmime/v2"

	"github.com/Phenom-earth/phenom-mailer/internal/preview"
	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
	"github.com/Phenom-earth/phenom-mailer/templates"
)

func runPreviewCmd(t *testing.T, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"preview"}, args...), envMap(env), strings.NewReader(""), &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	if err != nil {
		return exitSetup
	}
	return exitOK
}

func TestPreviewOut(t *testing.T) {
	dir := t.TempDir()
	stdout, _, err := runPreviewCmd(t, nil, "--out", dir)
	if err != nil {
		t.Fatalf("preview --out: %v", err)
	}
	lines := regexp.MustCompile(`(?m)^(en|es)/\w+ +html +[0-9.]+ KB +eml +[0-9.]+ KB +checks ok$`).FindAllString(stdout, -1)
	if len(lines) != 20 {
		t.Errorf("stdout has %d mail lines with passing checks, want 20:\n%s", len(lines), stdout)
	}
	for _, name := range []string{"index.html", "en/ForgotPassword.html", "en/ForgotPassword.txt", "en/ForgotPassword.eml", "es/AccountTakeOverNotification.eml"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("missing %s: %v", name, err)
		}
	}
}

// TestPreviewFailingChecks: the configuration a deployment would use is
// what the preview shows, and a check it breaks fails the command.
func TestPreviewFailingChecks(t *testing.T) {
	dir := t.TempDir()
	stdout, _, err := runPreviewCmd(t, map[string]string{"PASSWORD_RESET_URL": "http://reset.example.com/reset"}, "--out", dir)
	if exitCode(err) != exitSetup || !strings.Contains(err.Error(), "2 checks failed") {
		t.Fatalf("preview with an http reset URL: %v, want exit 1 and 2 failed checks (en and es ForgotPassword)", err)
	}
	if !regexp.MustCompile(`(?m)^en/ForgotPassword .* FAILED every link absolute https: .*<a> link: http://reset\.example\.com/reset is not https`).MatchString(stdout) {
		t.Errorf("stdout does not say which check failed:\n%s", stdout)
	}
	index, _ := os.ReadFile(filepath.Join(dir, "index.html"))
	if !strings.Contains(string(index), "2 of 180 checks fail") {
		t.Error("the gallery does not report the failures")
	}
}

func TestPreviewUsage(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"--templates", "templates"},
		{"--out", t.TempDir(), "extra"},
		{"--nope"},
		{"--serve", "0.0.0.0:0"},
		{"--serve", ":0"},
		{"--serve", "localhost:0"},
		{"--serve", "[::]:0"},
		{"--send-to", "not an address"},
		{"--send-to", "a@example.com, b@example.com"},
	} {
		_, _, err := runPreviewCmd(t, nil, args...)
		if exitCode(err) != exitUsage {
			t.Errorf("preview %q: %v, want exit %d", args, err, exitUsage)
		}
	}
	dir := t.TempDir()
	// A refused address stops the command before it writes anything.
	if _, _, err := runPreviewCmd(t, nil, "--out", dir, "--serve", "0.0.0.0:0"); !errors.Is(err, preview.ErrNotLoopback) {
		t.Errorf("--serve 0.0.0.0:0: %v, want ErrNotLoopback", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the refused command wrote %d files", len(entries))
	}
}

// copyTemplateDir writes the embedded templates into a folder.
func copyTemplateDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(templates.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, p), 0o755)
		}
		b, err := fs.ReadFile(templates.FS, p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, p), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestPreviewTemplatesDir(t *testing.T) {
	tdir := copyTemplateDir(t)
	p := filepath.Join(tdir, "locales", "es.json")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, bytes.Replace(b, []byte("Restablece tu contraseña de Phenom"), []byte("Cambia tu contraseña de Phenom"), 1), 0o644)
	out := t.TempDir()
	if _, _, err := runPreviewCmd(t, nil, "--out", out, "--templates", tdir); err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(filepath.Join(out, "es", "ForgotPassword.html"))
	if !strings.Contains(string(html), "<title>Cambia tu contraseña de Phenom</title>") {
		t.Error("--templates did not read the catalogue from the folder")
	}

	// A missing key in the Spanish catalogue is refused, naming it.
	os.WriteFile(p, bytes.Replace(b, []byte(`"SignUp.ignore"`), []byte(`"SignUp.ignorar"`), 1), 0o644)
	_, _, err := runPreviewCmd(t, nil, "--out", t.TempDir(), "--templates", tdir)
	if exitCode(err) != exitSetup || !strings.Contains(err.Error(), `locales/es.json lacks "SignUp.ignore"`) {
		t.Errorf("preview over a catalogue with a missing key: %v", err)
	}
	if _, _, err := runPreviewCmd(t, nil, "--out", t.TempDir(), "--templates", filepath.Join(tdir, "nope")); exitCode(err) != exitSetup {
		t.Errorf("preview --templates over a missing folder: %v", err)
	}
}

func TestPreviewServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr standin.LockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"preview", "--serve", "127.0.0.1:0", "--templates", copyTemplateDir(t)}, envMap(nil), strings.NewReader(""), &stdout, &stderr)
	}()
	addr := regexp.MustCompile(`serving (http://127\.0\.0\.1:\d+/)`)
	var url string
	for i := 0; i < 500 && url == ""; i++ {
		if m := addr.FindStringSubmatch(stdout.String()); m != nil {
			url = m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	if url == "" {
		cancel()
		t.Fatalf("no serving line on stdout: %q, stderr %q (%v)", stdout.String(), stderr.String(), <-done)
	}
	var page string
	for i := 0; i < 200 && !strings.Contains(page, "Reset your Phenom password"); i++ {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			page = string(b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(page, "Reset your Phenom password") || !strings.Contains(page, "EventSource") {
		t.Error("the served gallery lacks the mails or live reload")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("preview --serve after Ctrl-C: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("preview --serve does not stop when its context ends")
	}
}

// TestPreviewSendTo sends every sample through the handler's own sender
// wiring (Maildir delivery, DKIM signing), as `make demo` would.
func TestPreviewSendTo(t *testing.T) {
	maildir := t.TempDir()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	env := map[string]string{
		"MAILER_DELIVERY":         "maildir:" + maildir,
		"MAILER_FROM":             "Phenom Preview <preview@thephenom.app>",
		"MAILER_DKIM_SELECTOR":    "preview",
		"MAILER_DKIM_PRIVATE_KEY": string(keyPEM),
	}
	stdout, stderr, err := runPreviewCmd(t, env, "--send-to", "designer@example.com")
	if err != nil {
		t.Fatalf("preview --send-to: %v", err)
	}
	if n := strings.Count(stdout, "\nsent ") + strings.Count(stdout[:min(5, len(stdout))], "sent "); n != 20 {
		t.Errorf("stdout reports %d sent mails, want 20", n)
	}
	if !strings.Contains(stderr, `"recipient":"d***@example.com"`) || strings.Contains(stderr, "designer@") {
		t.Errorf("the log line does not mask the recipient")
	}
	files, _ := os.ReadDir(filepath.Join(maildir, "new"))
	if len(files) != 20 {
		t.Fatalf("%d mails in the Maildir, want 20", len(files))
	}
	subjects := map[string]bool{}
	for _, f := range files {
		raw, err := os.ReadFile(filepath.Join(maildir, "new", f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		e, err := enmime.ReadEnvelope(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		subjects[e.GetHeader("Subject")] = true
		if e.GetHeader("To") != "<designer@example.com>" && e.GetHeader("To") != "designer@example.com" {
			t.Errorf("To = %q", e.GetHeader("To"))
		}
		if !strings.Contains(e.GetHeader("From"), "preview@thephenom.app") || !strings.HasPrefix(string(raw), "DKIM-Signature: ") {
			t.Errorf("%s: not From MAILER_FROM or not DKIM-signed", e.GetHeader("Subject"))
		}
		if !strings.Contains(e.Text, "designer@example.com") {
			t.Errorf("%s: the footer is not addressed to the recipient", e.GetHeader("Subject"))
		}
	}
	// 19: the notice's subject is the caller's data, the same example in
	// both locales.
	if len(subjects) != 19 {
		t.Errorf("%d distinct subjects, want 19", len(subjects))
	}
}
