package benchrun

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// exactProxy answers every call exactly its latency after the call
// arrived, the stand-in's own time included: the round trip "20 ms per SES
// call" describes. The slow stand-ins (a FaultProxy before moto) hold a call
// for the latency and then add moto's own answer on top, 5–9 ms a call
// here, which the mailer pays twice before its first send (the DKIM check,
// then SendEmail) and the peer once; this proxy takes that time out, as the
// send queue's section takes moto out with answers of its own.
//
// The first call of each kind (the method and path; the body is not read)
// goes to the stand-in behind, and its answer is recorded; every later call
// of that kind gets the recording, without the stand-in. That holds for the
// pairs it serves, one event sent again and again (one identity, one
// recipient, SendEmail's message id unread), and for nothing else: it is a
// measuring device, not a stand-in.
type exactProxy struct {
	URL     string
	latency time.Duration
	srv     *http.Server
	rp      *httputil.ReverseProxy

	mu       sync.Mutex
	recorded map[string]*recording
	replayed map[string]int // kind → calls answered from the recording
}

type recording struct {
	status int
	header http.Header
	body   []byte
}

func startExactProxy(target string, latency time.Duration) (*exactProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &exactProxy{URL: "http://" + l.Addr().String(), latency: latency,
		rp: httputil.NewSingleHostReverseProxy(u), recorded: map[string]*recording{}, replayed: map[string]int{}}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(l)
	return p, nil
}

func (p *exactProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	due := time.Now().Add(p.latency)
	kind := r.Method + " " + r.URL.Path
	p.mu.Lock()
	rec := p.recorded[kind]
	p.mu.Unlock()
	if rec == nil {
		rw := httptest.NewRecorder()
		p.rp.ServeHTTP(rw, r)
		rec = &recording{status: rw.Code, header: rw.Header().Clone(), body: bytes.Clone(rw.Body.Bytes())}
		// A 4xx is an answer too (GetSuppressedDestination's 404 says
		// "not on the list"); a 5xx is moto failing, asked again next time.
		if rec.status < 500 {
			p.mu.Lock()
			p.recorded[kind] = rec
			p.mu.Unlock()
		}
	} else {
		_, _ = io.Copy(io.Discard, r.Body)
		p.mu.Lock()
		p.replayed[kind]++
		p.mu.Unlock()
	}
	select {
	case <-time.After(time.Until(due)):
	case <-r.Context().Done():
		return
	}
	for k, v := range rec.header {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(rec.status)
	_, _ = w.Write(rec.body)
}

// sendEmailKind is SES v2 SendEmail's kind of call.
const sendEmailKind = "POST /v2/email/outbound-emails"

// Replayed is how many calls of kind (sendEmailKind, say)
// were answered from the recording, never reaching the stand-in.
func (p *exactProxy) Replayed(kind string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.replayed[kind]
}

func (p *exactProxy) Close() { p.srv.Close() }
