package preview

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/render"
	"github.com/Phenom-earth/phenom-mailer/internal/send"
)

// ErrNotLoopback is returned by ListenLoopback for any address but
// 127.0.0.1: the preview server shows sample mail and has no
// authentication, so it never listens where another machine can reach it.
var ErrNotLoopback = errors.New("the preview server listens on 127.0.0.1 only")

// ListenLoopback listens on addr, which must be "127.0.0.1:PORT" (PORT 0
// picks a free port). Any other host, "localhost" and an empty host
// included, is refused with ErrNotLoopback.
func ListenLoopback(addr string) (net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("preview: address %q: %w", addr, err)
	}
	if host != "127.0.0.1" {
		return nil, fmt.Errorf("preview: address %q: %w", addr, ErrNotLoopback)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return nil, fmt.Errorf("preview: address %q: port must be a number from 0 to 65535", addr)
	}
	ln, err := net.Listen("tcp4", net.JoinHostPort(host, port))
	if err != nil {
		return nil, fmt.Errorf("preview: %w", err)
	}
	return ln, nil
}

// Server serves the gallery and every file Write would write, from
// memory, and rebuilds them when a file under Watch changes; open
// galleries then reload themselves (a server-sent event on /_events).
type Server struct {
	// Load returns a renderer over the current templates (for live
	// editing, read from the folder on disk each time).
	Load func() (*render.Renderer, error)
	// Sender builds the .eml files (see EMLSender).
	Sender *send.Sender
	// Watch is the template folder to poll for changes; "" serves what
	// Load returned first and never reloads.
	Watch string
	// Interval between polls of Watch (default 300ms).
	Interval time.Duration
	// Logger reports reloads and template errors (default: discard).
	Logger *slog.Logger

	mu      sync.Mutex
	mails   []Mail
	files   map[string][]byte // "en/SignUp.html" -> content
	langs   map[string]string
	loadErr string
	version int
	waiters map[chan struct{}]struct{}
	done    chan struct{}
}

// Reload rebuilds every mail from Load. When the templates do not load,
// the last good mails stay and the error is shown on the gallery; Reload
// returns it too.
func (s *Server) Reload() error {
	r, err := s.Load()
	var mails []Mail
	if err == nil {
		mails, err = Build(r, s.Sender, Samples(r.Locales()))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.version++
	if err != nil {
		s.loadErr = err.Error()
	} else {
		s.loadErr = ""
		s.mails = mails
		s.langs = Languages(r)
		s.files = make(map[string][]byte, 3*len(mails))
		for _, m := range mails {
			s.files[m.Name()+".html"] = []byte(m.Message.HTML)
			s.files[m.Name()+".txt"] = []byte(m.Message.Text)
			s.files[m.Name()+".eml"] = m.EML
		}
	}
	for w := range s.waiters {
		close(w)
		delete(s.waiters, w)
	}
	return err
}

// Version counts reloads: it changes each time Reload runs.
func (s *Server) Version() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version
}

// Serve loads the mails, then serves them on ln until ctx ends, polling
// Watch for template changes. A template error at start is not fatal: the
// gallery shows it until the templates load.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s.mu.Lock()
	s.waiters = map[chan struct{}]struct{}{}
	s.done = make(chan struct{})
	s.mu.Unlock()
	if err := s.Reload(); err != nil {
		log.Warn("preview: templates do not load", "error", err.Error())
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	var tick <-chan time.Time
	var last uint64
	if s.Watch != "" {
		interval := s.Interval
		if interval <= 0 {
			interval = 300 * time.Millisecond
		}
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
		last, _ = fingerprint(s.Watch)
	}
	for {
		select {
		case <-ctx.Done():
			close(s.done)
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				return fmt.Errorf("preview: shutdown: %w", err)
			}
			return nil
		case err := <-errc:
			return fmt.Errorf("preview: serve: %w", err)
		case <-tick:
			fp, err := fingerprint(s.Watch)
			if err != nil || fp == last {
				continue
			}
			last = fp
			if err := s.Reload(); err != nil {
				log.Warn("preview: templates do not load", "error", err.Error())
			} else {
				log.Info("preview: templates reloaded")
			}
		}
	}
}

// fingerprint hashes the names, sizes and modification times of every
// file under dir.
func fingerprint(dir string) (uint64, error) {
	h := fnv.New64a()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00%d\n", p, info.Size(), info.ModTime().UnixNano())
		return nil
	})
	return h.Sum64(), err
}

// ServeHTTP serves "/" (the gallery), "/<locale>/<Trigger>.html|.txt|.eml"
// and "/_events" (reload notices).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	switch p := strings.TrimPrefix(r.URL.Path, "/"); p {
	case "", "index.html":
		s.mu.Lock()
		mails, opts := s.mails, GalleryOptions{LiveReload: s.Watch != "", Error: s.loadErr, Languages: s.langs}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := WriteGallery(w, mails, opts); err != nil {
			http.Error(w, "gallery failed", http.StatusInternalServerError)
		}
	case "_events":
		s.events(w, r)
	default:
		s.mu.Lock()
		b, ok := s.files[p]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		switch filepath.Ext(p) {
		case ".html":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
		default: // .txt and .eml: shown as text in the browser
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		}
		w.Write(b)
	}
}

// events streams an "event: reload" to the page each time Reload runs.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fmt.Fprint(w, ": connected\n\n")
	fl.Flush()
	for {
		s.mu.Lock()
		if s.waiters == nil {
			s.mu.Unlock()
			return
		}
		wait := make(chan struct{})
		s.waiters[wait] = struct{}{}
		done := s.done
		s.mu.Unlock()
		select {
		case <-wait:
			fmt.Fprintf(w, "event: reload\ndata: %d\n\n", s.Version())
			fl.Flush()
		case <-r.Context().Done():
			s.forget(wait)
			return
		case <-done:
			s.forget(wait)
			return
		}
	}
}

func (s *Server) forget(w chan struct{}) {
	s.mu.Lock()
	delete(s.waiters, w)
	s.mu.Unlock()
}

// ReadDirFS returns os.DirFS(dir) after checking that dir is a folder, for
// Load functions that read templates from disk.
func ReadDirFS(dir string) (fs.FS, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("preview: templates: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("preview: templates: %s is not a folder", dir)
	}
	return os.DirFS(dir), nil
}
