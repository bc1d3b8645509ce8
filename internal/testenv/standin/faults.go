package standin

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// FaultKind is what the fault proxy does to one request.
type FaultKind int

const (
	// Pass forwards the request.
	Pass FaultKind = iota
	// Status answers with Fault.Status and Fault.Body without forwarding.
	Status
	// Delay waits Fault.Delay, then forwards the request only if the client
	// is still waiting: a request whose client gave up never reaches the
	// server, so a timed-out send sends nothing.
	Delay
	// Reset reads the request, then closes the connection without an
	// answer and without forwarding.
	Reset
)

// Fault is one scripted answer.
type Fault struct {
	Kind   FaultKind
	Status int
	Body   string
	Delay  time.Duration
}

// Throttle is the AWS JSON error answer for throttling, as SES v2 (429,
// TooManyRequestsException) and KMS (400, ThrottlingException) send it.
func Throttle(status int, code string) Fault {
	return Fault{Kind: Status, Status: status, Body: fmt.Sprintf(`{"__type":%q,"message":"Rate exceeded"}`, code)}
}

// ServerError is an HTTP 500 with an AWS InternalFailure body.
func ServerError() Fault {
	return Fault{Kind: Status, Status: 500, Body: `{"__type":"InternalFailure","message":"We encountered an internal error"}`}
}

// FaultProxy is a reverse proxy on 127.0.0.1 that injects scripted faults
// in front of a stand-in (KMS, SES, DynamoDB): a queue of faults for the
// next requests, then an optional standing fault, then pass-through.
type FaultProxy struct {
	URL string

	srv    *http.Server
	rp     *httputil.ReverseProxy
	mu     sync.Mutex
	queue  []Fault
	always *Fault
	counts map[FaultKind]int
	total  int
	filter func(*http.Request) bool
}

// StartFaultProxy puts a fault proxy in front of target ("http://127.0.0.1:PORT").
// filter, when not nil, limits faults to the requests it accepts (others pass).
func StartFaultProxy(target string, filter func(*http.Request) bool) (*FaultProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &FaultProxy{URL: "http://" + l.Addr().String(), rp: httputil.NewSingleHostReverseProxy(u), counts: map[FaultKind]int{}, filter: filter}
	p.rp.ErrorLog = nil
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(l)
	return p, nil
}

// Queue scripts the next requests' faults, in order.
func (p *FaultProxy) Queue(faults ...Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queue = append(p.queue, faults...)
}

// Always sets a fault for every request after the queue (nil: pass).
func (p *FaultProxy) Always(f *Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.always = f
}

// Clear drops queued and standing faults and the counters.
func (p *FaultProxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queue, p.always, p.counts, p.total = nil, nil, map[FaultKind]int{}, 0
}

// Count returns how many requests got each kind (Pass included) and in all.
func (p *FaultProxy) Count(k FaultKind) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[k]
}

// Close stops the proxy.
func (p *FaultProxy) Close() error { return p.srv.Close() }

func (p *FaultProxy) next(r *http.Request) Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := Fault{Kind: Pass}
	if p.filter == nil || p.filter(r) {
		switch {
		case len(p.queue) > 0:
			f, p.queue = p.queue[0], p.queue[1:]
		case p.always != nil:
			f = *p.always
		}
	}
	p.counts[f.Kind]++
	p.total++
	return f
}

func (p *FaultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f := p.next(r)
	switch f.Kind {
	case Status:
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(f.Status)
		_, _ = io.WriteString(w, f.Body)
		return
	case Reset:
		_, _ = io.Copy(io.Discard, r.Body)
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				if tc, ok := conn.(*net.TCPConn); ok {
					_ = tc.SetLinger(0) // RST, not FIN
				}
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	case Delay:
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done():
			return // the client gave up: never forward
		}
	}
	p.rp.ServeHTTP(w, r)
}
