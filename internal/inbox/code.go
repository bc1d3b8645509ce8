package inbox

import (
	"html"
	"net/url"
	"regexp"
	"strings"
)

// Where a code was found (Extraction fields).
const (
	CodeFound     = "found"
	CodeMissing   = "missing"
	CodeAmbiguous = "ambiguous"
	CodeMatch     = "match"
	CodeMismatch  = "mismatch"
	CodeAbsent    = "absent"
)

// Extraction is the result of ExtractCode.
type Extraction struct {
	// Code is the labelled code of the text part, when Text is CodeFound.
	Code string
	// Text is CodeFound, CodeMissing or CodeAmbiguous.
	Text string
	// HTML is CodeMatch (the HTML part shows the code), CodeMismatch (it
	// does not, or labels another), or CodeAbsent (no HTML part).
	HTML string
	// Link is CodeMatch (every reset link's code parameter is the code),
	// CodeMismatch, or CodeAbsent (no link with a code parameter).
	Link string
	// ResetLink is the first link with a code parameter (text part first).
	ResetLink string
	// CID is CodeFound (every reset link names the same app client in one
	// cid parameter), CodeAbsent (no reset link has a cid), or CodeMismatch
	// (the links disagree: another cid, a cid in one and not another, or a
	// repeated cid). ClientID is that client when CID is CodeFound. The
	// reset page confirms the code against this client (docs/operations.md).
	CID      string
	ClientID string
}

// labelled finds a code on its labelled line: the mailer's "Your code:
// 123456" (Spanish "Tu código: 123456"), the common "... code: 123456",
// and Cognito's default "Your password reset code is 123456". Codes are
// six digits, standing alone.
var labelled = regexp.MustCompile(`(?i)\b(?:code|c[oó]digo)(?:\s+(?:is|es))?\s*:?[ \t]*([0-9]{6})(?:[^0-9A-Za-z]|$)`)

var (
	sixDigit = regexp.MustCompile(`(?:^|[^0-9])([0-9]{6})(?:[^0-9]|$)`)
	textURL  = regexp.MustCompile(`https?://[^\s<>"']+`)
	hrefURL  = regexp.MustCompile(`(?i)href\s*=\s*(?:"([^"]*)"|'([^']*)')`)
)

const maxScan = 1 << 20

// ExtractCode takes the code from the text part's labelled line and
// cross-checks it with the HTML part and the reset links.
func ExtractCode(text, htmlPart string) Extraction {
	if len(text) > maxScan {
		text = text[:maxScan]
	}
	if len(htmlPart) > maxScan {
		htmlPart = htmlPart[:maxScan]
	}
	ex := Extraction{Text: CodeMissing, HTML: CodeAbsent, Link: CodeAbsent, CID: CodeAbsent}
	codes := map[string]bool{}
	for _, line := range strings.Split(text, "\n") {
		for _, m := range labelled.FindAllStringSubmatch(line, -1) {
			codes[m[1]] = true
		}
	}
	switch len(codes) {
	case 0:
		return ex
	case 1:
		for c := range codes {
			ex.Code = c
		}
		ex.Text = CodeFound
	default:
		ex.Text = CodeAmbiguous
		return ex
	}

	if strings.TrimSpace(htmlPart) != "" {
		visible := html.UnescapeString(visibleText(htmlPart))
		ex.HTML = CodeMismatch
		for _, m := range sixDigit.FindAllStringSubmatch(visible, -1) {
			if m[1] == ex.Code {
				ex.HTML = CodeMatch
				break
			}
		}
		// A labelled code in the HTML must be the same one.
		for _, m := range labelled.FindAllStringSubmatch(visible, -1) {
			if m[1] != ex.Code {
				ex.HTML = CodeMismatch
			}
		}
	}

	var links []string
	links = append(links, textURL.FindAllString(text, 50)...)
	for _, m := range hrefURL.FindAllStringSubmatch(htmlPart, 50) {
		links = append(links, html.UnescapeString(m[1]+m[2]))
	}
	cidMismatch := false
	for _, l := range links {
		u, err := url.Parse(strings.TrimRight(l, ".,;)"))
		if err != nil {
			continue
		}
		q := u.Query()
		if !q.Has("code") {
			continue
		}
		cid := q.Get("cid")
		if ex.ResetLink == "" {
			ex.ResetLink = u.String()
			ex.Link = CodeMatch
			ex.ClientID = cid
		}
		if q.Get("code") != ex.Code || len(q["code"]) != 1 {
			ex.Link = CodeMismatch
		}
		if cid != ex.ClientID || len(q["cid"]) > 1 {
			cidMismatch = true
		}
	}
	switch {
	case cidMismatch:
		ex.CID, ex.ClientID = CodeMismatch, ""
	case ex.ClientID != "":
		ex.CID = CodeFound
	}
	return ex
}

// visibleText drops tags, comments and the contents of style and script
// elements, leaving a space for each: a linear scan (a regexp with these
// alternatives costs several times the rest of the check).
func visibleText(h string) string {
	var b strings.Builder
	b.Grow(len(h) / 2)
	for i := 0; i < len(h); {
		lt := strings.IndexByte(h[i:], '<')
		if lt < 0 {
			b.WriteString(h[i:])
			break
		}
		b.WriteString(h[i : i+lt])
		b.WriteByte(' ')
		i += lt
		rest := h[i:]
		switch {
		case strings.HasPrefix(rest, "<!--"):
			end := strings.Index(rest[4:], "-->")
			if end < 0 {
				return b.String()
			}
			i += 4 + end + 3
			continue
		case hasTagPrefix(rest, "<style"), hasTagPrefix(rest, "<script"):
			name := "</style"
			if hasTagPrefix(rest, "<script") {
				name = "</script"
			}
			end := indexFold(rest, name)
			if end < 0 {
				return b.String()
			}
			i += end
			rest = h[i:]
		}
		gt := strings.IndexByte(rest, '>')
		if gt < 0 {
			return b.String()
		}
		i += gt + 1
	}
	return b.String()
}

// hasTagPrefix: s starts with tag (case-insensitive) followed by a
// character that ends a tag name.
func hasTagPrefix(s, tag string) bool {
	if len(s) <= len(tag) || !strings.EqualFold(s[:len(tag)], tag) {
		return false
	}
	c := s[len(tag)]
	return c == '>' || c == '/' || c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		j := strings.IndexByte(s[i:], '<')
		if j < 0 {
			return -1
		}
		i += j
		if i+len(sub) <= len(s) && strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}
