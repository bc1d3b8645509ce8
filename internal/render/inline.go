package render

import (
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// msoSnippets are fixed pieces of markup only Outlook desktop (Word's
// renderer, "mso") reads, inside conditional comments. html/template drops
// comments from template text, so templates ask for them by name with
// {{mso "name"}}; nothing user-supplied ever goes into them.
var msoSnippets = map[string]htmltemplate.HTML{
	// 96 dpi so that Outlook does not scale pixel sizes on high-DPI
	// screens, and a font Outlook has in place of the system stack.
	"head": `<!--[if mso]><noscript><xml><o:OfficeDocumentSettings><o:AllowPNG/><o:PixelsPerInch>96</o:PixelsPerInch></o:OfficeDocumentSettings></xml></noscript><style>td,th,div,p,a,h1{font-family:"Segoe UI",Arial,sans-serif !important;}</style><![endif]-->`,
	// Outlook ignores max-width: a fixed 600 px "ghost" table holds the
	// layout there.
	"ghost-open":  `<!--[if mso]><table role="presentation" align="center" width="600" cellpadding="0" cellspacing="0" border="0"><tr><td><![endif]-->`,
	"ghost-close": `<!--[if mso]></td></tr></table><![endif]-->`,
}

func mso(name string) (htmltemplate.HTML, error) {
	s, ok := msoSnippets[name]
	if !ok {
		return "", fmt.Errorf("mso: no snippet %q", name)
	}
	return s, nil
}

// preheaderSpacer follows the preheader: invisible characters that fill
// the inbox preview line, so that it does not run on into the first words
// of the mail. It comes in short lines: one line of 1,300 characters
// broke RFC 5322's 998-octet limit and, with the hidden text, is what
// spam filters score as Bayes poison (SpamAssassin's LONG_INVISIBLE_TEXT).
func preheaderSpacer() htmltemplate.HTML { return spacer }

var spacer = htmltemplate.HTML(strings.TrimSuffix(strings.Repeat(strings.Repeat("&#847;&zwnj;&nbsp;", 10)+"\n", 6), "\n"))

// Button colours for vmlButton, by kind: fill, stroke, text.
var vmlColours = map[string][3]string{
	"primary":   {"#4338ca", "#4338ca", "#ffffff"},
	"secondary": {"#ffffff", "#4338ca", "#4338ca"},
}

// vmlButton returns a VML rounded-rectangle button inside an [if mso]
// conditional comment, the button Outlook desktop draws where it cannot
// style the HTML one (which carries mso-hide:all). The URL and label are
// escaped here, since this markup bypasses html/template; a URL that is
// not absolute http(s) or mailto is left out, as html/template would.
func vmlButton(rawURL, label, kind string) (htmltemplate.HTML, error) {
	c, ok := vmlColours[kind]
	if !ok {
		return "", fmt.Errorf("vmlButton: unknown kind %q", kind)
	}
	href := ""
	if u, err := url.Parse(rawURL); err == nil && (u.Scheme == "https" || u.Scheme == "http" || u.Scheme == "mailto") {
		href = ` href="` + htmltemplate.HTMLEscapeString(rawURL) + `"`
	}
	// VML needs a fixed width: about 9 px a character at 16 px semibold,
	// plus the padding.
	width := max(200, 64+9*utf8.RuneCountInString(label))
	// Concatenation rather than fmt.Sprintf: this runs in every mail with a
	// button.
	return htmltemplate.HTML(`<!--[if mso]>` +
		`<v:roundrect xmlns:v="urn:schemas-microsoft-com:vml" xmlns:w="urn:schemas-microsoft-com:office:word"` + href + ` ` +
		`style="height:48px;v-text-anchor:middle;width:` + strconv.Itoa(width) + `px;" arcsize="17%" strokecolor="` + c[1] + `" strokeweight="1px" fillcolor="` + c[0] + `">` +
		`<w:anchorlock/><center style="color:` + c[2] + `;font-family:'Segoe UI',Arial,sans-serif;font-size:16px;font-weight:600;">` + htmltemplate.HTMLEscapeString(label) + `</center>` +
		`</v:roundrect><![endif]-->`), nil
}
