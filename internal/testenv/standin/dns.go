package standin

import (
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// DNS is an authoritative-only DNS server on 127.0.0.1 (UDP and TCP on the
// same port) answering from a fixed table of TXT and CNAME records: the
// DKIM key records a reader looks up with --resolver, and the DMARC, SPF
// and Easy DKIM records `mailer doctor` checks. A name with a CNAME answers
// every question with it (RFC 1034 3.6.2: a CNAME has no other data); a
// known name asked for another type gets an empty answer (NODATA); any
// other name gets NXDOMAIN.
type DNS struct {
	// Addr is "127.0.0.1:PORT".
	Addr string

	mu      sync.RWMutex
	txt     map[string][][]string // name -> records -> character-strings
	cname   map[string]string
	udp     *dns.Server
	tcp     *dns.Server
	queries int
}

// StartDNS serves txt (names with or without the trailing dot, any case).
func StartDNS(txt map[string]string) (*DNS, error) {
	d := &DNS{txt: map[string][][]string{}, cname: map[string]string{}}
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

// SetTXT replaces the TXT records of name with one record. A value longer
// than 255 bytes is split into character-strings, as DNS requires.
func (d *DNS) SetTXT(name, value string) {
	d.mu.Lock()
	d.txt[dns.CanonicalName(name)] = [][]string{splitTXT(value)}
	delete(d.cname, dns.CanonicalName(name))
	d.mu.Unlock()
}

// AddTXT adds one more TXT record to name.
func (d *DNS) AddTXT(name, value string) {
	d.mu.Lock()
	d.txt[dns.CanonicalName(name)] = append(d.txt[dns.CanonicalName(name)], splitTXT(value))
	delete(d.cname, dns.CanonicalName(name))
	d.mu.Unlock()
}

func splitTXT(value string) []string {
	var parts []string
	for len(value) > 255 {
		parts = append(parts, value[:255])
		value = value[255:]
	}
	return append(parts, value)
}

// SetCNAME makes name an alias of target, replacing its other records.
func (d *DNS) SetCNAME(name, target string) {
	d.mu.Lock()
	d.cname[dns.CanonicalName(name)] = dns.Fqdn(target)
	delete(d.txt, dns.CanonicalName(name))
	d.mu.Unlock()
}

// Remove deletes every record of name: it answers NXDOMAIN again.
func (d *DNS) Remove(name string) {
	d.mu.Lock()
	delete(d.txt, dns.CanonicalName(name))
	delete(d.cname, dns.CanonicalName(name))
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
	key := strings.ToLower(dns.CanonicalName(q.Name))
	records, ok := d.txt[key]
	target, alias := d.cname[key]
	d.mu.RUnlock()
	switch {
	case alias:
		m.Answer = append(m.Answer, &dns.CNAME{
			Hdr:    dns.RR_Header{Name: q.Name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 60},
			Target: target,
		})
	case !ok:
		m.Rcode = dns.RcodeNameError
	case q.Qtype == dns.TypeTXT:
		for _, parts := range records {
			m.Answer = append(m.Answer, &dns.TXT{
				Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
				Txt: parts,
			})
		}
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
