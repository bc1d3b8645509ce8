package preview

import (
	"bytes"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/jhillyerd/enmime/v2"
	"golang.org/x/net/html"

	"github.com/Phenom-earth/phenom-mailer/internal/render"
)

// Limits the checks hold a message to.
const (
	// MaxHTMLBytes: Gmail clips a message near 102 KB and hides the rest
	// behind "View entire message"; stay well under.
	MaxHTMLBytes = 100 * 1024
	// MaxSubjectChars: RFC 5322's recommended line length; longer
	// subjects are cut in most inbox lists anyway.
	MaxSubjectChars = 78
)

// Names of the checks, in the order they run.
const (
	CheckHTMLSize      = "HTML under 100 KB"
	CheckHTTPSLinks    = "every link absolute https"
	CheckImageAlt      = "every image has alt text"
	CheckNoRemote      = "no remote content or tracking"
	CheckFields        = "no empty or unresolved field"
	CheckTextPart      = "text part present"
	CheckCodeBothParts = "code in both parts"
	CheckSubject       = "subject under 78 characters"
	CheckPreheader     = "preheader stays out of the text"
)

// Check is the outcome of one check on one message. Detail says what is
// wrong (or, when OK, a measurement); it names places and sizes, never a
// code or a whole body.
type Check struct {
	Name   string
	OK     bool
	Detail string
}

// Checks runs every check over one message. code is the code or temporary
// password the message must show ("" when it carries none). eml, when not
// nil, is the built MIME message: the subject, HTML and text are then
// taken from it, decoded, as a mail client would show them.
func Checks(m render.Message, code string, eml []byte) []Check {
	subject, htmlPart, text := m.Subject, m.HTML, m.Text
	var mimeErr error
	if eml != nil {
		env, err := enmime.ReadEnvelope(bytes.NewReader(eml))
		if err != nil {
			mimeErr = err
		} else {
			// Quoted-printable parts decode with CRLF line ends.
			crlf := strings.NewReplacer("\r\n", "\n")
			subject, htmlPart, text = env.GetHeader("Subject"), crlf.Replace(env.HTML), crlf.Replace(env.Text)
			if !hasPart(env.Root, "text/plain") {
				text = "" // enmime makes a text from the HTML when there is none
			}
		}
	}
	doc, parseErr := html.Parse(strings.NewReader(htmlPart))
	if parseErr != nil {
		doc = &html.Node{Type: html.DocumentNode}
	}
	var out []Check
	add := func(name string, problems []string, okDetail string) {
		c := Check{Name: name, OK: len(problems) == 0, Detail: okDetail}
		if !c.OK {
			c.Detail = strings.Join(problems, "; ")
		}
		out = append(out, c)
	}

	// HTML size.
	var p []string
	if len(htmlPart) >= MaxHTMLBytes {
		p = append(p, fmt.Sprintf("%s, over %s", KB(len(htmlPart)), KB(MaxHTMLBytes)))
	}
	add(CheckHTMLSize, p, KB(len(htmlPart)))

	// Links.
	p = nil
	links := hrefs(doc, htmlPart)
	for _, u := range textURLs.FindAllString(text, -1) {
		links = append(links, link{where: "text part", url: u})
	}
	for _, l := range links {
		if msg := badLink(l.url); msg != "" {
			p = append(p, l.where+": "+msg)
		}
	}
	add(CheckHTTPSLinks, p, fmt.Sprintf("%d links", len(links)))

	// Images.
	p = nil
	imgs := 0
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode || n.Data != "img" {
			continue
		}
		imgs++
		if alt, ok := attr(n, "alt"); !ok || strings.TrimSpace(alt) == "" {
			src, _ := attr(n, "src")
			p = append(p, fmt.Sprintf("image %d (%s) has no alt text", imgs, redact(src)))
		}
	}
	add(CheckImageAlt, p, fmt.Sprintf("%d images", imgs))

	// Remote content: anything a client would fetch on opening the mail
	// (tracking pixels, remote images, fonts, stylesheets, scripts).
	p = nil
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		switch n.Data {
		case "script", "link", "iframe", "object", "embed", "video", "audio":
			p = append(p, "<"+n.Data+"> element")
			continue
		}
		for _, a := range []string{"src", "background", "srcset", "poster"} {
			if v, ok := attr(n, a); ok && !strings.HasPrefix(v, "cid:") {
				p = append(p, fmt.Sprintf("<%s %s> loads %s", n.Data, a, redact(v)))
			}
		}
	}
	if m := remoteCSS.FindString(htmlPart); m != "" {
		p = append(p, "CSS loads a resource ("+m+")")
	}
	add(CheckNoRemote, p, "nothing loads on open")

	// Empty and unresolved fields.
	p = nil
	// The HTML is searched as written and as read (html/template escapes
	// "<no value>").
	for _, part := range []struct{ name, body string }{
		{"subject", subject}, {"HTML", htmlPart}, {"HTML", visibleText(doc)}, {"text part", text},
	} {
		if m := unresolved.FindString(part.body); m != "" {
			p = append(p, fmt.Sprintf("%s has %q", part.name, m))
			break
		}
	}
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		class, _ := attr(n, "class")
		mustShow := n.Data == "a" || n.Data == "h1" || n.Data == "title"
		for _, c := range strings.Fields(class) {
			mustShow = mustShow || valueClasses[c]
		}
		if mustShow && strings.TrimSpace(textOf(n)) == "" {
			p = append(p, fmt.Sprintf("empty <%s class=%q>", n.Data, class))
		}
	}
	for i, line := range strings.Split(text, "\n") {
		if emptyLabel.MatchString(line) {
			p = append(p, fmt.Sprintf("text line %d is a label with no value", i+1))
		}
	}
	add(CheckFields, p, "every field filled")

	// Text part.
	p = nil
	if strings.TrimSpace(text) == "" {
		p = append(p, "the text part is missing or blank")
	}
	if mimeErr != nil {
		p = append(p, "the MIME message does not parse")
	}
	add(CheckTextPart, p, KB(len(text)))

	// Code.
	p = nil
	detail := "this message carries no code"
	if code != "" {
		detail = "shown in HTML and on a labelled text line"
		if !strings.Contains(visibleText(doc), code) {
			p = append(p, "the HTML part does not show the code")
		}
		labelled := false
		for _, line := range strings.Split(text, "\n") {
			label, value, ok := strings.Cut(line, ": ")
			labelled = labelled || (ok && value == code && strings.TrimSpace(label) != "")
		}
		if !labelled {
			p = append(p, "the text part has no line \"Label: <code>\"")
		}
	}
	add(CheckCodeBothParts, p, detail)

	// Subject.
	p = nil
	n := utf8.RuneCountInString(subject)
	if n >= MaxSubjectChars {
		p = append(p, fmt.Sprintf("%d characters", n))
	}
	if n == 0 {
		p = append(p, "no subject")
	}
	if eml != nil && mimeErr == nil && subject != m.Subject {
		p = append(p, "the decoded subject differs from the rendered one")
	}
	add(CheckSubject, p, fmt.Sprintf("%d characters", n))

	// Preheader.
	p = nil
	pre := strings.TrimSpace(strings.TrimRight(preheader(doc), "\u034f\u200c\u00a0 \n"))
	switch {
	case pre == "":
		p = append(p, "no hidden preheader")
	case strings.Contains(text, pre):
		p = append(p, "the preheader appears in the text part")
	}
	add(CheckPreheader, p, "hidden in HTML only")
	return out
}

// OK reports whether every check passed.
func OK(checks []Check) bool {
	for _, c := range checks {
		if !c.OK {
			return false
		}
	}
	return true
}

var (
	textURLs   = regexp.MustCompile(`\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s<>"']+`)
	hrefAttr   = regexp.MustCompile(`(?i)\bhref\s*=\s*"([^"]*)"`)
	remoteCSS  = regexp.MustCompile(`(?i)@import|@font-face|url\(`)
	unresolved = regexp.MustCompile(`<no value>|\{\{|\}\}|%!|ZgotmplZ|\{[a-z_]+\}|⟦`)
	// A line such as "Your code: " or "IP address:" with nothing after the
	// colon but spaces: a field whose value was empty. Sentences that lead
	// into the next line end in a colon with no space after it.
	emptyLabel = regexp.MustCompile(`^\S[^:]{0,40}:[ \t]+$`)
	// Elements of the design system that hold a value.
	valueClasses = map[string]bool{"code": true, "secret": true, "value": true, "dv": true, "dl": true, "code-label": true, "btn": true, "btn2": true}
)

type link struct{ where, url string }

// hrefs lists every link in the HTML: href attributes of elements and
// those inside comments (Outlook's VML buttons live in conditional
// comments).
func hrefs(doc *html.Node, raw string) []link {
	var out []link
	for n := range doc.Descendants() {
		switch n.Type {
		case html.ElementNode:
			if v, ok := attr(n, "href"); ok {
				out = append(out, link{where: "<" + n.Data + "> link", url: v})
			}
		case html.CommentNode:
			for _, m := range hrefAttr.FindAllStringSubmatch(n.Data, -1) {
				out = append(out, link{where: "Outlook (VML) link", url: html.UnescapeString(m[1])})
			}
		}
	}
	return out
}

// badLink says why u is not an acceptable link, or "" when it is: an
// absolute https URL with a host, or a mailto: address (the footer's
// support address).
func badLink(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	switch {
	case err != nil:
		return "a link does not parse"
	case u.Scheme == "mailto" && strings.Contains(u.Opaque, "@"):
		return ""
	case u.Scheme != "https":
		return redact(raw) + " is not https"
	case u.Host == "":
		return redact(raw) + " has no host"
	}
	return ""
}

// redact keeps the scheme, host and path of a URL: queries carry codes.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	if u.Scheme == "" && u.Host == "" {
		if u.Path == "" {
			return "(empty)"
		}
		return "relative " + u.Path
	}
	return u.Scheme + "://" + u.Host + u.Path
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func textOf(n *html.Node) string {
	var b strings.Builder
	for c := range n.Descendants() {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	}
	return b.String()
}

// hasPart reports whether the MIME tree under p has an inline part of
// the content type.
func hasPart(p *enmime.Part, contentType string) bool {
	for ; p != nil; p = p.NextSibling {
		if p.ContentType == contentType && p.Disposition != "attachment" {
			return true
		}
		if hasPart(p.FirstChild, contentType) {
			return true
		}
	}
	return false
}

// visibleText is the body's text outside the hidden preheader.
func visibleText(doc *html.Node) string {
	var b strings.Builder
	var rec func(*html.Node)
	rec = func(n *html.Node) {
		if n.Type == html.ElementNode {
			if n.Data == "style" || n.Data == "script" || n.Data == "head" {
				return
			}
			if c, _ := attr(n, "class"); c == "preheader" {
				return
			}
		}
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
			b.WriteByte(' ')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			rec(c)
		}
	}
	rec(doc)
	return b.String()
}

// preheader is the text of the hidden preheader element.
func preheader(doc *html.Node) string {
	for n := range doc.Descendants() {
		if c, _ := attr(n, "class"); n.Type == html.ElementNode && c == "preheader" {
			if t := textOf(n); t != "" {
				return t
			}
		}
	}
	return ""
}

// KB formats a size in bytes for people: "14.2 KB".
func KB(n int) string { return fmt.Sprintf("%.1f KB", float64(n)/1024) }
