package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/miekg/dns"
	"golang.org/x/net/publicsuffix"
)

// DNSAPI answers the doctor's DNS questions. A name without a record of
// the type asked (NXDOMAIN, or an empty answer) is an error matching
// ErrNoRecord; any other error means the answer is unknown.
type DNSAPI interface {
	// TXT returns each TXT record of name, its character-strings joined.
	TXT(ctx context.Context, name string) ([]string, error)
	// CNAME returns the target of name's CNAME record, fully qualified
	// and in lower case ("x.dkim.amazonses.com.").
	CNAME(ctx context.Context, name string) (string, error)
}

// ErrNoRecord: the name has no record of the type asked.
var ErrNoRecord = errors.New("no such record")

// Resolver is a DNSAPI that asks recursive DNS servers over UDP, and over
// TCP when an answer is truncated (github.com/miekg/dns).
type Resolver struct {
	// Servers are HOST:PORT, asked in order until one answers.
	Servers []string
	// Timeout bounds each exchange (default 5 s).
	Timeout time.Duration
}

// NewResolver asks only the DNS server at addr (HOST:PORT): --resolver.
func NewResolver(addr string) (*Resolver, error) {
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return nil, fmt.Errorf("resolver %q is not HOST:PORT", addr)
	}
	return &Resolver{Servers: []string{addr}}, nil
}

// SystemResolver asks the name servers of a resolv.conf file
// ("/etc/resolv.conf"), as the system's resolver does.
func SystemResolver(resolvConf string) (*Resolver, error) {
	cc, err := dns.ClientConfigFromFile(resolvConf)
	if err != nil {
		return nil, fmt.Errorf("system resolver: %w", err)
	}
	if len(cc.Servers) == 0 {
		return nil, fmt.Errorf("system resolver: %s names no nameserver", resolvConf)
	}
	r := &Resolver{}
	for _, s := range cc.Servers {
		r.Servers = append(r.Servers, net.JoinHostPort(s, cc.Port))
	}
	if cc.Timeout > 0 {
		r.Timeout = time.Duration(cc.Timeout) * time.Second
	}
	return r, nil
}

// query asks each server in turn; an answer with NOERROR or NXDOMAIN ends
// the search, any other (SERVFAIL, REFUSED, no answer) tries the next.
func (r *Resolver) query(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	if len(r.Servers) == 0 {
		return nil, errors.New("dns: no server to ask")
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	q.RecursionDesired = true
	q.SetEdns0(1232, false)
	var last error
	for _, srv := range r.Servers {
		c := &dns.Client{Timeout: timeout}
		in, _, err := c.ExchangeContext(ctx, q, srv)
		if err == nil && in.Truncated {
			c.Net = "tcp"
			in, _, err = c.ExchangeContext(ctx, q, srv)
		}
		switch {
		case err != nil:
			last = fmt.Errorf("dns %s %s at %s: %w", dns.TypeToString[qtype], name, srv, err)
		case in.Rcode == dns.RcodeSuccess || in.Rcode == dns.RcodeNameError:
			return in, nil
		default:
			last = fmt.Errorf("dns %s %s at %s: %s", dns.TypeToString[qtype], name, srv, dns.RcodeToString[in.Rcode])
		}
	}
	return nil, last
}

// TXT implements DNSAPI.
func (r *Resolver) TXT(ctx context.Context, name string) ([]string, error) {
	in, err := r.query(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range in.Answer {
		if t, ok := rr.(*dns.TXT); ok {
			out = append(out, strings.Join(t.Txt, ""))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("TXT %s: %w", name, ErrNoRecord)
	}
	return out, nil
}

// CNAME implements DNSAPI.
func (r *Resolver) CNAME(ctx context.Context, name string) (string, error) {
	in, err := r.query(ctx, name, dns.TypeCNAME)
	if err != nil {
		return "", err
	}
	for _, rr := range in.Answer {
		if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, dns.Fqdn(name)) {
			return strings.ToLower(dns.Fqdn(c.Target)), nil
		}
	}
	return "", fmt.Errorf("CNAME %s: %w", name, ErrNoRecord)
}

// easyDKIMTarget is where SES's Easy DKIM CNAME for token points.
func easyDKIMTarget(token string) string { return strings.ToLower(token) + ".dkim.amazonses.com." }

// dnsChecks are the DNS records receivers judge the mail by: the From
// domain's DMARC policy and DKIM alignment, the MAIL FROM domain's SPF,
// and the Easy DKIM CNAMEs. They need c.DNS; without it they are skipped.
func dnsChecks(ctx context.Context, c Config) []Check {
	if c.DNS == nil {
		return nil
	}
	from := strings.ToLower(strings.TrimSuffix(c.FromDomain, "."))
	signers := c.DKIMDomains
	if len(signers) == 0 {
		signers = []string{from}
	}
	checks := dmarcChecks(ctx, c.DNS, from, signers)
	id, err := c.SES.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: &c.FromDomain})
	if err != nil {
		// The "from identity" line already fails with the reason.
		return append(checks, Check{"mail from", Warn, "not checked: GetEmailIdentity failed", "fix the from identity first"},
			Check{"dkim cnames", Warn, "not checked: GetEmailIdentity failed", "fix the from identity first"})
	}
	checks = append(checks, mailFromChecks(ctx, c.DNS, from, id.MailFromAttributes)...)
	return append(checks, dkimCNAMEChecks(ctx, c.DNS, from, id.DkimAttributes)...)
}

// dmarcRecord is the part of a DMARC record (RFC 7489 6.3) the doctor reads.
type dmarcRecord struct {
	name          string // where it was found
	p, sp, adkim  string
	hasRUA, valid bool
}

func parseDMARC(name, txt string) (dmarcRecord, bool) {
	rec := dmarcRecord{name: name, adkim: "r"}
	tags := strings.Split(txt, ";")
	if k, v, _ := strings.Cut(tags[0], "="); strings.TrimSpace(k) != "v" || strings.TrimSpace(v) != "DMARC1" {
		return rec, false
	}
	for _, t := range tags[1:] {
		k, v, _ := strings.Cut(t, "=")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.ToLower(strings.TrimSpace(v))
		switch k {
		case "p":
			rec.p = v
		case "sp":
			rec.sp = v
		case "adkim":
			rec.adkim = v
		case "rua":
			rec.hasRUA = v != ""
		}
	}
	rec.valid = (rec.p == "none" || rec.p == "quarantine" || rec.p == "reject") && (rec.adkim == "r" || rec.adkim == "s")
	return rec, true
}

// findDMARC looks up the DMARC record of domain: at _dmarc.<domain>, else
// at the organizational domain's (RFC 7489 6.6.3). orgLevel says which.
func findDMARC(ctx context.Context, r DNSAPI, domain string) (recs []dmarcRecord, orgLevel bool, err error) {
	names := []string{"_dmarc." + domain}
	if org := orgDomain(domain); org != domain {
		names = append(names, "_dmarc."+org)
	}
	for i, name := range names {
		txts, err := r.TXT(ctx, name)
		if err != nil && !errors.Is(err, ErrNoRecord) {
			return nil, false, err
		}
		for _, t := range txts {
			if rec, ok := parseDMARC(name, t); ok {
				recs = append(recs, rec)
			}
		}
		if len(recs) > 0 {
			return recs, i > 0, nil
		}
	}
	return nil, false, nil
}

func dmarcChecks(ctx context.Context, r DNSAPI, from string, signers []string) []Check {
	fix := fmt.Sprintf(`publish TXT _dmarc.%s "v=DMARC1; p=quarantine; adkim=r; aspf=r; rua=mailto:<a mailbox that reads the reports>"`, from)
	recs, orgLevel, err := findDMARC(ctx, r, from)
	switch {
	case err != nil:
		return []Check{{"dmarc", Warn, "could not look up _dmarc." + from + ": " + err.Error(), "check the resolver (--resolver HOST:PORT) and the network, then run again"}}
	case len(recs) == 0:
		return []Check{{"dmarc", Warn, "no DMARC record at _dmarc." + from + ": receivers apply no policy to mail that forges " + from + ", and Gmail and Yahoo ask bulk senders for one", fix}}
	case len(recs) > 1:
		return []Check{{"dmarc", Warn, fmt.Sprintf("%d DMARC records at %s: receivers ignore them all (RFC 7489 6.6.3)", len(recs), recs[0].name), "keep exactly one v=DMARC1 TXT record"}}
	}
	rec := recs[0]
	policy := rec.p
	if orgLevel && rec.sp != "" {
		policy = rec.sp // a subdomain's mail follows the organizational domain's sp=
	}
	var checks []Check
	where := rec.name
	if orgLevel {
		where += " (the organizational domain's, which covers " + from + ")"
	}
	switch {
	case !rec.valid:
		checks = append(checks, Check{"dmarc", Warn, fmt.Sprintf("%s: the record is invalid (p=%q, adkim=%q); receivers treat it as p=none or ignore it", where, rec.p, rec.adkim), fix})
		return checks
	case policy == "none":
		checks = append(checks, Check{"dmarc", Warn, where + ": p=none, monitoring only: mail that forges " + from + " is still delivered",
			"once the aggregate reports show only SES sending as " + from + ", raise the policy to p=quarantine, then p=reject"})
	default:
		checks = append(checks, Check{Name: "dmarc", Status: OK, Detail: where + ": p=" + policy})
	}

	// DKIM alignment (RFC 7489 3.1.1): strict wants d= to be the From
	// domain exactly; relaxed, the same organizational domain.
	mode := map[string]string{"r": "relaxed", "s": "strict"}[rec.adkim]
	for _, d := range signers {
		d = strings.ToLower(strings.TrimSuffix(d, "."))
		if d == from || rec.adkim == "r" && orgDomain(d) == orgDomain(from) {
			checks = append(checks, Check{Name: "dmarc dkim alignment", Status: OK,
				Detail: fmt.Sprintf("DKIM d=%s aligns with From %s (adkim=%s, %s)", d, from, rec.adkim, mode)})
			return checks
		}
	}
	st := Fail
	detail := fmt.Sprintf("no DKIM signature aligns with From %s under adkim=%s (%s): signed by d=%s", from, rec.adkim, mode, strings.Join(signers, ", d="))
	if policy == "none" {
		st = Warn
		detail += "; with p=none nothing is rejected yet"
	} else {
		detail += "; unless SPF aligns, receivers apply p=" + policy + " to every mail"
	}
	fixAlign := "sign with d=" + from + " (an SES identity for " + from + " with Easy DKIM)"
	if rec.adkim == "s" {
		fixAlign += ", or relax the policy to adkim=r"
	}
	return append(checks, Check{"dmarc dkim alignment", st, detail, fixAlign})
}

func mailFromChecks(ctx context.Context, r DNSAPI, from string, attrs *sestypes.MailFromAttributes) []Check {
	if attrs == nil || attrs.MailFromDomain == nil || *attrs.MailFromDomain == "" {
		return []Check{{"mail from", Warn,
			"no custom MAIL FROM domain: the envelope sender is amazonses.com, so SPF passes only for amazonses.com and never aligns with " + from + "; DMARC relies on DKIM alone",
			fmt.Sprintf("set one, e.g. aws sesv2 put-email-identity-mail-from-attributes --email-identity %s --mail-from-domain mail.%s, and publish its MX (feedback-smtp.<region>.amazonses.com) and TXT \"v=spf1 include:amazonses.com ~all\"", from, from)}}
	}
	mf := strings.ToLower(strings.TrimSuffix(*attrs.MailFromDomain, "."))
	var checks []Check
	switch attrs.MailFromDomainStatus {
	case sestypes.MailFromDomainStatusSuccess:
		checks = append(checks, Check{Name: "mail from", Status: OK, Detail: mf + " is verified"})
	default:
		st, what := Warn, "SES falls back to amazonses.com as the envelope sender"
		if attrs.BehaviorOnMxFailure == sestypes.BehaviorOnMxFailureRejectMessage {
			st, what = Fail, "SES rejects every send (behaviour on MX failure: REJECT_MESSAGE)"
		}
		checks = append(checks, Check{"mail from", st, fmt.Sprintf("%s is %s: %s", mf, attrs.MailFromDomainStatus, what),
			"publish MX 10 feedback-smtp.<region>.amazonses.com for " + mf + " and wait for SES to verify it"})
	}
	txts, err := r.TXT(ctx, mf)
	var spf []string
	for _, t := range txts {
		if f := strings.Fields(strings.ToLower(t)); len(f) > 0 && f[0] == "v=spf1" {
			spf = append(spf, strings.ToLower(t))
		}
	}
	spfFix := fmt.Sprintf(`publish one TXT record at %s: "v=spf1 include:amazonses.com ~all"`, mf)
	switch {
	case err != nil && !errors.Is(err, ErrNoRecord):
		checks = append(checks, Check{"mail from spf", Warn, "could not look up " + mf + ": " + err.Error(), "check the resolver (--resolver HOST:PORT) and the network, then run again"})
	case len(spf) == 0:
		checks = append(checks, Check{"mail from spf", Warn, mf + " has no SPF record: SPF fails for SES's servers, so DMARC relies on DKIM alone", spfFix})
	case len(spf) > 1:
		checks = append(checks, Check{"mail from spf", Warn, fmt.Sprintf("%s has %d SPF records: SPF is a permerror (RFC 7208 4.5)", mf, len(spf)), "merge them into one: " + spfFix})
	case !includesSES(spf[0]):
		checks = append(checks, Check{"mail from spf", Warn, mf + "'s SPF record does not include amazonses.com: SPF fails for SES's servers", spfFix})
	default:
		checks = append(checks, Check{Name: "mail from spf", Status: OK, Detail: mf + ": SPF includes amazonses.com"})
	}
	return checks
}

// includesSES: an SPF record's terms include amazonses.com (with the
// default or the + qualifier).
func includesSES(spf string) bool {
	for _, term := range strings.Fields(spf) {
		if term == "include:amazonses.com" || term == "+include:amazonses.com" {
			return true
		}
	}
	return false
}

func dkimCNAMEChecks(ctx context.Context, r DNSAPI, domain string, d *sestypes.DkimAttributes) []Check {
	switch {
	case d == nil:
		return []Check{{"dkim cnames", Warn, "not checked: the identity has no DKIM attributes", "enable Easy DKIM on the identity"}}
	case d.SigningAttributesOrigin == sestypes.DkimSigningAttributesOriginExternal:
		return []Check{{Name: "dkim cnames", Status: OK, Detail: "not Easy DKIM (BYODKIM, origin EXTERNAL): no CNAMEs to check"}}
	case d.SigningAttributesOrigin != "" && d.SigningAttributesOrigin != sestypes.DkimSigningAttributesOriginAwsSes:
		// Deterministic Easy DKIM (AWS_SES_<REGION>): the identity reuses
		// a parent region's keys, whose CNAMEs that region's identity holds.
		return []Check{{"dkim cnames", Warn, fmt.Sprintf("not checked: DKIM origin %s (keys of another region's identity)", d.SigningAttributesOrigin),
			"check the CNAMEs of the identity in that region with mailer doctor there"}}
	case len(d.Tokens) == 0:
		return []Check{{"dkim cnames", Fail, domain + " has no Easy DKIM tokens", "enable Easy DKIM on the identity (aws sesv2 put-email-identity-dkim-signing-attributes --signing-attributes-origin AWS_SES)"}}
	}
	var checks []Check
	for i, tok := range d.Tokens {
		name := fmt.Sprintf("dkim cname %d/%d", i+1, len(d.Tokens))
		rec := strings.ToLower(tok) + "._domainkey." + domain
		want := easyDKIMTarget(tok)
		fix := fmt.Sprintf("publish CNAME %s -> %s", rec, strings.TrimSuffix(want, "."))
		got, err := r.CNAME(ctx, rec)
		switch {
		case errors.Is(err, ErrNoRecord):
			checks = append(checks, Check{name, Fail, rec + " has no CNAME: SES cannot keep DKIM verified and the mailer stops sending when it fails", fix})
		case err != nil:
			checks = append(checks, Check{name, Warn, "could not look up " + rec + ": " + err.Error(), "check the resolver (--resolver HOST:PORT) and the network, then run again"})
		case got != want:
			checks = append(checks, Check{name, Fail, fmt.Sprintf("%s points to %s, not %s", rec, strings.TrimSuffix(got, "."), strings.TrimSuffix(want, ".")), fix})
		default:
			checks = append(checks, Check{Name: name, Status: OK, Detail: rec + " -> " + strings.TrimSuffix(want, ".")})
		}
	}
	return checks
}

// orgDomain is a domain's organizational domain (RFC 7489 3.2): the
// registrable domain under the public suffix list, or the domain itself
// when the list cannot tell.
func orgDomain(d string) string {
	org, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return d
	}
	return org
}
