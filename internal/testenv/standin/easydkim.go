package standin

import (
	"crypto/sha256"
	"encoding/base32"
	"strings"
)

// moto 5.2.1 answers GetEmailIdentity for a domain identity with
// DkimAttributes.SigningAttributesOrigin AWS_SES but Tokens null. SES v2's
// API reference (DkimAttributes.Tokens): for Easy DKIM, "a set of unique
// strings that you use to create a set of CNAME records that you add to
// the DNS configuration for your domain"; SES creates three with the
// identity. The proxy fills them in (emulated here, from that shape), so
// that `mailer doctor` can check the CNAMEs against a DNS server.

// EasyDKIMTokens are the three Easy DKIM tokens the SES stand-in reports
// for domain: fixed per domain, 32 lower-case base32 characters each, the
// shape SES's have.
func EasyDKIMTokens(domain string) []string {
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	out := make([]string, 3)
	for i := range out {
		sum := sha256.Sum256([]byte{byte(i)})
		h := sha256.Sum256(append(sum[:], strings.ToLower(domain)...))
		out[i] = strings.ToLower(enc.EncodeToString(h[:]))[:32]
	}
	return out
}

// fillEasyDKIMTokens adds the tokens to a GetEmailIdentity or
// CreateEmailIdentity answer for domain when moto left them out.
func fillEasyDKIMTokens(doc map[string]any, domain string) {
	dkim, ok := doc["DkimAttributes"].(map[string]any)
	if !ok || dkim["SigningAttributesOrigin"] != "AWS_SES" || strings.Contains(domain, "@") {
		return
	}
	if toks, _ := dkim["Tokens"].([]any); len(toks) > 0 {
		return
	}
	var toks []any
	for _, t := range EasyDKIMTokens(domain) {
		toks = append(toks, t)
	}
	dkim["Tokens"] = toks
}
