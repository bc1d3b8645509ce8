package standin

import (
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// DNS is an authoritative-only DNS server on 127.0.0.1 (UDP and TCP on the
// same port) answering TXT queries from a fixed table: the DKIM key records
// a reader looks up with --resolver. Anything else gets NXDOMAIN.
type DNS struct {
	// Addr is "127.0.0.1:PORT".
	Addr string

	mu      sync.RWMutex
	txt     map[string][]string
	udp     *dns.Server
	tcp     *dns.Server
	queries int
}

// StartDNS serves txt (names with or without the trailing dot, any case).
func StartDNS(txt map[string]string) (*DNS, error) {
	d := &DNS{txt: map[string][]string{}}
	for name, v := range txt {
		d.SetTXT(name, v)
	}
	// Bind UDP first, then TCP on the same port; retry if TCP's is taken.
	for attempt := 0; attempt < 5; attempt++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			continue
		}
		d.Addr = pc.LocalAddr().String()
		h := dns.HandlerFunc(d.serve)
		d.udp = &dns.Server{PacketConn: pc, Handler: h}
		d.tcp = &dns.Server{Listener: ln, Handler: h}
		started := make(chan struct{}, 2)
		d.udp.NotifyStartedFunc = func() { started <- struct{}{} }
		d.tcp.NotifyStartedFunc = func() { started <- struct{}{} }
		go d.udp.ActivateAndServe()
		go d.tcp.ActivateAndServe()
		<-started
		<-started
		return d, nil
	}
	return nil, fmt.Errorf("standin: no free UDP+TCP port pair for DNS")
}

// SetTXT replaces the TXT record of name. A value longer than 255 bytes is
// split into character-strings, as DNS requires.
func (d *DNS) SetTXT(name, value string) {
	var parts []string
	for len(value) > 255 {
		parts = append(parts, value[:255])
		value = value[255:]
	}
	parts = append(parts, value)
	d.mu.Lock()
	d.txt[dns.CanonicalName(name)] = parts
	d.mu.Unlock()
}

// Queries is how many questions the server answered.
func (d *DNS) Queries() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.queries
}

func (d *DNS) serve(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	d.mu.Lock()
	d.queries++
	d.mu.Unlock()
	if len(r.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		w.WriteMsg(m)
		return
	}
	q := r.Question[0]
	d.mu.RLock()
	parts, ok := d.txt[strings.ToLower(dns.CanonicalName(q.Name))]
	d.mu.RUnlock()
	switch {
	case !ok:
		m.Rcode = dns.RcodeNameError
	case q.Qtype == dns.TypeTXT:
		m.Answer = append(m.Answer, &dns.TXT{
			Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
			Txt: parts,
		})
	}
	w.WriteMsg(m)
}

// Close stops both listeners.
func (d *DNS) Close() error {
	err1 := d.udp.Shutdown()
	err2 := d.tcp.Shutdown()
	if err1 != nil {
		return err1
	}
	return err2
}
