// Package redact masks e-mail addresses for display: in log lines, outcome
// JSON, delivery records and `mailer trace`. It is the one place the mask's
// format is defined: the first character of the local part and the domain,
// "qa+reset@thephenom.app" shown as "q***@thephenom.app".
//
// It must not know where the text comes from or goes.
package redact

import (
	"regexp"
	"strings"
	"sync"
)

// maxDomain bounds the domain kept in a masked address.
const maxDomain = 253

// Email masks one address. An empty string stays empty; something that is
// not one address (no local part, no domain, a line break) becomes "***".
func Email(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 1 || at == len(addr)-1 || strings.ContainsAny(addr, "\r\n") {
		if addr == "" {
			return ""
		}
		return "***"
	}
	first := []rune(addr[:at])[0]
	domain := addr[at+1:]
	if len(domain) > maxDomain {
		// Cut on a character boundary: a split character is dropped whole.
		domain = strings.ToValidUTF8(domain[:maxDomain], "") + "..."
	}
	return string(first) + "***@" + domain
}

// addrInText matches what looks like an address inside free text such as
// an SMTP diagnostic ("smtp; 550 5.1.1 <user@example.com>: unknown").
// Compiled on first use, not at package initialisation (every cold start).
var addrInText = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`[^\s<>()\[\]"',;:@]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?`)
})

// Emails masks every address found in free text.
func Emails(text string) string {
	return addrInText().ReplaceAllStringFunc(text, Email)
}
