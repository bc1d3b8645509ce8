package inbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/jhillyerd/enmime/v2"
)

// Refusal reasons: why a matching message is not trusted.
const (
	RefuseHeader       = "header_invalid"     // From/To/Date missing, repeated or malformed
	RefuseFromDomain   = "from_domain"        // From is not the expected sender
	RefuseUnsigned     = "dkim_none"          // no DKIM signature at all
	RefuseUnaligned    = "dkim_unaligned"     // signatures pass only for other domains
	RefuseDKIMFail     = "dkim_fail"          // the aligned signature does not verify
	RefuseDKIMTemp     = "dkim_temperror"     // the aligned key could not be looked up
	RefuseSESVerdict   = "ses_verdict"        // an SES verdict header is not PASS
	RefuseMIME         = "mime_invalid"       // enmime cannot parse it
	RefuseCodeMissing  = "code_missing"       // no labelled code in the text part
	RefuseCodeAmbig    = "code_ambiguous"     // two different labelled codes
	RefuseCodeHTML     = "code_html_mismatch" // the HTML part lacks the code
	RefuseCodeLink     = "code_link_mismatch" // a reset link carries another code
	RefuseCIDLink      = "cid_link_mismatch"  // the reset links name different app clients (cid)
	maxDKIMSignatures  = 8
	maxMultipart       = 32 // the mailer sends 1; SES inbound copies keep the sender's structure
	maxReportedSubject = 200
)

// Policy is what Check trusts.
type Policy struct {
	// From is the expected sender address (DefaultFrom when empty); its
	// domain is the one a DKIM signature must align with.
	From string
	// LookupTXT resolves DKIM key records (net.DefaultResolver when nil).
	LookupTXT func(ctx context.Context, name string) ([]string, error)
}

// Signature is one DKIM-Signature header and its result.
type Signature struct {
	Domain   string `json:"domain"`
	Selector string `json:"selector"`
	// Result is "pass", "fail", "permerror" or "temperror".
	Result string `json:"result"`
	// Aligned is true when Domain is the From domain or a subdomain of it.
	Aligned bool   `json:"aligned"`
	Error   string `json:"error,omitempty"`
}

// HeaderVerdict is one SES verdict header.
type HeaderVerdict struct {
	Header string `json:"header"`
	Value  string `json:"value"`
	Pass   bool   `json:"pass"`
}

// Verdict is everything Check found out about one message.
type Verdict struct {
	Trusted bool `json:"trusted"`
	// Reason is a Refuse constant when not trusted; Detail explains it
	// without quoting the body or the code.
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`

	SourceID  string    `json:"source_id"`
	Received  time.Time `json:"received"`
	Date      time.Time `json:"date"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	Subject   string    `json:"subject"`
	MessageID string    `json:"message_id"`
	Size      int       `json:"size"`

	Signatures []Signature     `json:"signatures"`
	SES        []HeaderVerdict `json:"ses_verdicts"`
	// CodeText, CodeHTML and CodeLink say where the code was found:
	// "found"/"missing"/"ambiguous", "match"/"mismatch"/"absent".
	CodeText  string `json:"code_text,omitempty"`
	CodeHTML  string `json:"code_html,omitempty"`
	CodeLink  string `json:"code_link,omitempty"`
	ResetLink string `json:"reset_link,omitempty"`
	// ResetCID says whether the reset links name an app client: "found"
	// (ResetClientID is it), "absent" or "mismatch" (the links disagree).
	ResetCID      string `json:"reset_cid,omitempty"`
	ResetClientID string `json:"reset_client_id,omitempty"`

	// Code is the extracted code; set only when Trusted.
	Code string `json:"-"`
}

func (v *Verdict) refuse(r *UntrustedError) *Verdict {
	v.Trusted = false
	v.Reason, v.Detail = r.Reason, r.Detail
	v.Code = ""
	return v
}

// ErrUntrusted is wrapped by Check's error for a refused message.
var ErrUntrusted = errors.New("untrusted mail")

// UntrustedError is a refusal with its reason.
type UntrustedError struct {
	Reason, Detail string
}

func (e *UntrustedError) Error() string {
	return fmt.Sprintf("untrusted mail: %s: %s", e.Reason, e.Detail)
}

func (e *UntrustedError) Is(target error) bool { return target == ErrUntrusted }

// Check verifies m under p and extracts its code. It always returns a
// Verdict; the error is an *UntrustedError when the message is refused.
func Check(ctx context.Context, m Message, p Policy) (*Verdict, error) {
	v := check(ctx, m, p)
	if !v.Trusted {
		return v, &UntrustedError{Reason: v.Reason, Detail: v.Detail}
	}
	return v, nil
}

// check applies the trust policy as a sequence of steps. Each step records
// what it finds in v and returns the refusal that ends the check, or nil.
// The SES verdicts are recorded before the DKIM check and refuse only after
// it: an unsigned or forged mail is refused for its signature first.
func check(ctx context.Context, m Message, p Policy) *Verdict {
	v := &Verdict{SourceID: m.ID, Received: m.Received, Size: len(m.Raw), Signatures: []Signature{}, SES: []HeaderVerdict{}}
	want := p.From
	if want == "" {
		want = DefaultFrom
	}
	lookup := p.LookupTXT
	if lookup == nil {
		lookup = net.DefaultResolver.LookupTXT
	}
	h, r := checkSender(v, m.Raw, want)
	if r != nil {
		return v.refuse(r)
	}
	sesRefusal := checkSESVerdicts(v, h)
	if r := checkDKIM(ctx, v, m.Raw, domainOf(want), lookup); r != nil {
		return v.refuse(r)
	}
	if sesRefusal != nil {
		return v.refuse(sesRefusal)
	}
	if r := checkContent(v, m.Raw); r != nil {
		return v.refuse(r)
	}
	v.Trusted = true
	return v
}

func refusal(reason, detail string) *UntrustedError {
	return &UntrustedError{Reason: reason, Detail: detail}
}

// checkSender reads the header into v and requires one From, exactly want,
// and no repeated Sender, Subject or Date. It returns the header for the
// later steps.
func checkSender(v *Verdict, raw []byte, want string) (textproto.MIMEHeader, *UntrustedError) {
	h, err := readHeader(raw)
	if err != nil {
		return nil, refusal(RefuseHeader, "the header cannot be read")
	}
	v.Subject = clip(decodeHeader(h.Get("Subject")), maxReportedSubject)
	v.MessageID = clip(h.Get("Message-Id"), 200)
	if d, err := mail.ParseDate(h.Get("Date")); err == nil {
		v.Date = d
	}
	from, err := singleAddress(h, "From")
	if err != nil {
		return nil, refusal(RefuseHeader, "From: "+err.Error())
	}
	v.From = from
	if to, err := singleAddress(h, "To"); err == nil {
		v.To = to
	}
	if !strings.EqualFold(from, want) {
		return nil, refusal(RefuseFromDomain, fmt.Sprintf("From is %s, want %s", from, want))
	}
	if len(h.Values("Sender")) > 1 || len(h.Values("Subject")) > 1 || len(h.Values("Date")) > 1 {
		return nil, refusal(RefuseHeader, "a Sender, Subject or Date header is repeated")
	}
	return h, nil
}

// checkSESVerdicts records SES inbound's verdict headers in v.SES: the
// X-SES verdicts must say PASS, and amazonses.com's Authentication-Results
// must pass DKIM and not fail SPF or DMARC. It returns the first that does
// not (headers SES did not add are simply absent, and pass).
func checkSESVerdicts(v *Verdict, h textproto.MIMEHeader) *UntrustedError {
	bad := ""
	for _, name := range []string{"X-SES-Spam-Verdict", "X-SES-Virus-Verdict"} {
		for _, val := range h.Values(name) {
			val = strings.TrimSpace(val)
			pass := strings.EqualFold(val, "PASS")
			v.SES = append(v.SES, HeaderVerdict{Header: name, Value: clip(val, 40), Pass: pass})
			if !pass && bad == "" {
				bad = name + " is " + clip(val, 40)
			}
		}
	}
	for _, ar := range h.Values("Authentication-Results") {
		id, results := parseAuthResults(ar)
		if !strings.EqualFold(id, "amazonses.com") {
			continue
		}
		for _, method := range []string{"dkim", "spf", "dmarc"} {
			res, ok := results[method]
			if !ok {
				continue
			}
			pass := res == "pass"
			if method == "spf" || method == "dmarc" {
				// SPF and DMARC are reported, and only a fail refuses.
				pass = res != "fail"
			}
			v.SES = append(v.SES, HeaderVerdict{Header: "Authentication-Results " + method, Value: res, Pass: pass})
			if !pass && bad == "" {
				bad = "SES reports " + method + "=" + res
			}
		}
	}
	if bad != "" {
		return refusal(RefuseSESVerdict, bad)
	}
	return nil
}

// checkDKIM verifies the DKIM signatures over the raw bytes (at most
// maxDKIMSignatures of them), records each in v.Signatures, and requires one
// that passes with d= aligned with fromDomain.
func checkDKIM(ctx context.Context, v *Verdict, raw []byte, fromDomain string, lookup func(context.Context, string) ([]string, error)) *UntrustedError {
	sigHeaders := dkimHeaders(raw)
	if len(sigHeaders) == 0 {
		return refusal(RefuseUnsigned, "the message has no DKIM signature")
	}
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			return lookup(lctx, fqdn(name))
		},
		MaxVerifications: maxDKIMSignatures,
	})
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) {
		return refusal(RefuseDKIMFail, "dkim: the message cannot be read")
	}
	aligned, alignedFail, alignedTemp := false, "", false
	for i, vf := range verifs {
		s := Signature{Domain: strings.ToLower(vf.Domain), Result: "pass"}
		if i < len(sigHeaders) {
			if s.Domain == "" {
				s.Domain = sigHeaders[i].domain
			}
			s.Selector = sigHeaders[i].selector
		}
		s.Aligned = alignedWith(s.Domain, fromDomain)
		if vf.Err != nil {
			switch {
			case dkim.IsTempFail(vf.Err):
				s.Result = "temperror"
			case dkim.IsPermFail(vf.Err):
				s.Result = "permerror"
			default:
				s.Result = "fail"
			}
			s.Error = clip(vf.Err.Error(), 200)
		}
		if s.Aligned {
			switch {
			case s.Result == "pass":
				aligned = true
			case s.Result == "temperror":
				alignedTemp = true
			case alignedFail == "":
				alignedFail = s.Result + ": " + s.Error
			}
		}
		v.Signatures = append(v.Signatures, s)
	}
	switch {
	case aligned:
		return nil
	case alignedFail != "":
		return refusal(RefuseDKIMFail, "the "+fromDomain+" signature does not verify ("+alignedFail+")")
	case alignedTemp:
		return refusal(RefuseDKIMTemp, "the "+fromDomain+" DKIM key could not be looked up")
	default:
		return refusal(RefuseUnaligned, "no passing DKIM signature with d="+fromDomain+" (signed by "+signers(v.Signatures)+")")
	}
}

// checkContent parses the MIME structure (at most maxMultipart multipart
// sections) and reads the code: one labelled code in the text part, shown
// in the HTML part, carried by every reset link, whose cid agree. It sets
// v.Code only when all of that holds.
func checkContent(v *Verdict, raw []byte) *UntrustedError {
	// Each multipart level makes the parser scan the rest of the message
	// again: bound the levels before parsing, so that a message under the
	// size limit cannot cost minutes (20,000 levels in 1.3 MB took 160 s).
	if n := multipartHeaders(raw); n > maxMultipart {
		return refusal(RefuseMIME, fmt.Sprintf("%d multipart sections, over the limit of %d", n, maxMultipart))
	}
	env, err := parser.ReadEnvelope(bytes.NewReader(raw))
	if err != nil {
		return refusal(RefuseMIME, "enmime: the MIME structure cannot be parsed")
	}
	ex := ExtractCode(env.Text, env.HTML)
	v.CodeText, v.CodeHTML, v.CodeLink, v.ResetLink = ex.Text, ex.HTML, ex.Link, ex.ResetLink
	if ex.ResetLink != "" {
		v.ResetCID, v.ResetClientID = ex.CID, ex.ClientID
	}
	switch {
	case ex.Text == CodeMissing:
		return refusal(RefuseCodeMissing, "no labelled code line in the text part")
	case ex.Text == CodeAmbiguous:
		return refusal(RefuseCodeAmbig, "the text part labels more than one code")
	case ex.HTML == CodeMismatch:
		return refusal(RefuseCodeHTML, "the HTML part does not show the text part's code")
	case ex.Link == CodeMismatch:
		return refusal(RefuseCodeLink, "a reset link carries another code than the text part")
	case ex.CID == CodeMismatch:
		return refusal(RefuseCIDLink, "the reset links name different app clients (cid)")
	}
	v.Code = ex.Code
	return nil
}

func signers(sigs []Signature) string {
	if len(sigs) == 0 {
		return "nobody"
	}
	var out []string
	for _, s := range sigs {
		out = append(out, "d="+s.Domain+" "+s.Result)
	}
	return strings.Join(out, ", ")
}

// alignedWith: d is the From domain or a subdomain of it (relaxed
// alignment without a public-suffix list, only ever in the safe direction:
// a parent such as "app" never aligns with "thephenom.app").
func alignedWith(d, fromDomain string) bool {
	d, fromDomain = strings.ToLower(strings.TrimSuffix(d, ".")), strings.ToLower(fromDomain)
	return d != "" && (d == fromDomain || strings.HasSuffix(d, "."+fromDomain))
}

func domainOf(addr string) string {
	return strings.ToLower(addr[strings.LastIndexByte(addr, '@')+1:])
}

func fqdn(name string) string {
	if strings.HasSuffix(name, ".") {
		return name
	}
	return name + "."
}

type dkimHeader struct{ domain, selector string }

// dkimHeaders returns d= and s= of each DKIM-Signature header, in header
// order (the order go-msgauth reports them in).
func dkimHeaders(raw []byte) []dkimHeader {
	h, err := readHeader(raw)
	if err != nil {
		return nil
	}
	var out []dkimHeader
	for _, v := range h.Values(textproto.CanonicalMIMEHeaderKey("DKIM-Signature")) {
		tags := map[string]string{}
		for _, kv := range strings.Split(v, ";") {
			k, val, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			tags[strings.TrimSpace(k)] = strings.Join(strings.Fields(val), "")
		}
		out = append(out, dkimHeader{domain: strings.ToLower(clip(tags["d"], 255)), selector: clip(tags["s"], 64)})
	}
	if len(out) > maxDKIMSignatures {
		out = out[:maxDKIMSignatures]
	}
	return out
}

// parseAuthResults returns the authserv-id and method=result pairs of an
// Authentication-Results value (RFC 8601), first result per method.
func parseAuthResults(v string) (string, map[string]string) {
	parts := strings.Split(v, ";")
	id := strings.TrimSpace(parts[0])
	if f := strings.Fields(id); len(f) > 0 {
		id = f[0]
	}
	res := map[string]string{}
	for _, p := range parts[1:] {
		f := strings.Fields(p)
		if len(f) == 0 {
			continue
		}
		k, val, ok := strings.Cut(f[0], "=")
		if !ok {
			continue
		}
		k = strings.ToLower(k)
		if _, seen := res[k]; !seen {
			res[k] = strings.ToLower(val)
		}
	}
	return id, res
}

var wordDecoder = &mime.WordDecoder{}

// parser trusts each part's declared charset: guessing one (chardet) costs
// most of the parse time, and a reset mail always declares it.
var parser = enmime.NewParser(enmime.DisableCharacterDetection(true), enmime.MaxStoredPartErrors(20))

func decodeHeader(s string) string {
	if d, err := wordDecoder.DecodeHeader(s); err == nil {
		return d
	}
	return s
}

// clip bounds a string for a report and drops control characters.
func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
}

// multipartHeaders counts Content-Type headers of multipart sections,
// case-insensitively, in one linear pass.
func multipartHeaders(raw []byte) int {
	n := 0
	lower := bytes.ToLower(raw)
	for i := 0; ; {
		j := bytes.Index(lower[i:], []byte("content-type:"))
		if j < 0 {
			return n
		}
		i += j + len("content-type:")
		rest := bytes.TrimLeft(lower[i:min(len(lower), i+64)], " \t\r\n")
		if bytes.HasPrefix(rest, []byte("multipart/")) {
			n++
		}
	}
}
