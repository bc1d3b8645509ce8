package preview

import (
	"bufio"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/render"
	"github.com/Phenom-earth/phenom-mailer/templates"
)

func TestListenLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "localhost:0", "[::1]:0", "[::]:0", "192.0.2.1:0", "example.com:80", "127.0.0.2:0", "127.0.0.1", "127.0.0.1:http"} {
		ln, err := ListenLoopback(addr)
		if err == nil {
			ln.Close()
			t.Errorf("ListenLoopback(%q) listens, want a refusal", addr)
		}
	}
	for _, addr := range []string{"0.0.0.0:0", ":8080", "localhost:0", "[::]:0"} {
		if _, err := ListenLoopback(addr); !errors.Is(err, ErrNotLoopback) {
			t.Errorf("ListenLoopback(%q) = %v, want ErrNotLoopback", addr, err)
		}
	}
	ln, err := ListenLoopback("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if !strings.HasPrefix(ln.Addr().String(), "127.0.0.1:") {
		t.Errorf("listening on %s", ln.Addr())
	}
}

// copyTemplates writes the embedded templates into a folder, to edit.
func copyTemplates(t *testing.T) string {
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

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// editCatalogue rewrites one string of locales/en.json on disk.
func editCatalogue(t *testing.T, dir, old, new string) {
	t.Helper()
	p := filepath.Join(dir, "locales", "en.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("test setup: en.json lacks %q", old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestServeLiveReload edits the templates under a running server, as a
// designer would: the open gallery is told to reload and then shows the
// change; a broken template shows its error over the last good mails.
func TestServeLiveReload(t *testing.T) {
	dir := copyTemplates(t)
	s, _ := EMLSender("")
	srv := &Server{
		Load: func() (*render.Renderer, error) {
			fsys, err := ReadDirFS(dir)
			if err != nil {
				return nil, err
			}
			return render.New(fsys, render.Options{})
		},
		Sender:   s,
		Watch:    dir,
		Interval: 20 * time.Millisecond,
	}
	ln, err := ListenLoopback("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	base := "http://" + ln.Addr().String()

	// Wait for the first load.
	var page string
	for i := 0; i < 200; i++ {
		var code int
		if code, page = get(t, base+"/"); code == http.StatusOK && strings.Contains(page, "Reset your Phenom password") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(page, "Reset your Phenom password") || !strings.Contains(page, `new EventSource("/_events")`) {
		t.Fatal("the gallery does not show the mails with live reload")
	}
	for path, want := range map[string]string{
		"/es/ForgotPassword.html": "<title>Restablece tu contraseña de Phenom</title>",
		"/en/ForgotPassword.txt":  "Your code: " + SampleCode + "\n",
		"/en/SignUp.eml":          "Subject: Verify your email address for Phenom",
	} {
		if code, body := get(t, base+path); code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("GET %s = %d, lacking %q", path, code, want)
		}
	}
	for _, path := range []string{"/en/Nope.html", "/../go.mod", "/en/ForgotPassword.tmpl"} {
		if code, _ := get(t, base+path); code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, code)
		}
	}

	// Listen for reloads as the gallery does.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/_events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("/_events Content-Type %q", ct)
	}
	events := bufio.NewReader(resp.Body)
	waitReload := func() {
		t.Helper()
		got := make(chan string, 1)
		go func() {
			for {
				line, err := events.ReadString('\n')
				if err != nil || strings.HasPrefix(line, "event: reload") {
					got <- line
					return
				}
			}
		}()
		select {
		case line := <-got:
			if !strings.HasPrefix(line, "event: reload") {
				t.Fatalf("event stream ended: %q", line)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no reload event after a template change")
		}
	}

	editCatalogue(t, dir, `"ForgotPassword.subject": "Reset your Phenom password"`, `"ForgotPassword.subject": "Choose a new Phenom password"`)
	waitReload()
	if _, page = get(t, base+"/"); !strings.Contains(page, "Choose a new Phenom password") || strings.Contains(page, "Reset your Phenom password") {
		t.Error("after the edit the gallery does not show the new subject")
	}

	// A broken template: the error is shown, the last good mails stay.
	if err := os.WriteFile(filepath.Join(dir, "SignUp.tmpl"), []byte(`{{define "subject"}}{{t "SignUp.subject"}}{{end}}{{define "html"}}{{if}}{{end}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	waitReload()
	_, page = get(t, base+"/")
	if !strings.Contains(page, "The templates on disk do not load") || !strings.Contains(page, "SignUp.tmpl") || !strings.Contains(page, "Choose a new Phenom password") {
		t.Error("a broken template is not reported over the last good mails")
	}
}
