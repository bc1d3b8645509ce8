package render

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/vanng822/go-premailer/premailer"
	"golang.org/x/net/html"
)

// premailerInline is go-premailer used directly: what the inliner's plans
// must reproduce.
func premailerInline(doc string) (string, error) {
	p, err := premailer.NewPremailerFromString(doc, premailer.NewOptions())
	if err != nil {
		return "", err
	}
	return p.Transform()
}

// rawRenderer renders without inlining, for comparison.
func rawRenderer(t *testing.T) *Renderer {
	t.Helper()
	r := newRenderer(t)
	r.inline = func(s string) (string, error) { return s, nil }
	return r
}

// inlinerCases is every template in every locale with data that takes
// each of its branches, hostile data included.
func inlinerCases(r *Renderer) []Data {
	var out []Data
	for _, loc := range r.Locales() {
		for _, trigger := range Triggers {
			for _, d := range append(Samples(trigger), goldenData(trigger)) {
				d.Locale = loc
				out = append(out, d)
				d.Username = ""
				out = append(out, d)
			}
			d := goldenData(trigger)
			d.Locale = loc
			d.Username = `<td class="code">x</td><style>td{color:red}</style>`
			if d.Code != "" {
				d.Code = `1"><b class="btn">2`
			}
			out = append(out, d)
		}
		for _, to := range []*Takeover{
			nil, {}, {IPAddress: "203.0.113.7"}, {City: "Springfield"}, {OneClickInvalidURL: "https://x.test/n"},
			{OneClickValidURL: "https://x.test/y", EventID: "e"}, {OneClickValidURL: "javascript:alert(1)", OneClickInvalidURL: `https://x.test/"><style>`},
		} {
			out = append(out, Data{Trigger: AccountTakeOverNotification, Locale: loc, Email: testEmail, Takeover: to})
		}
	}
	return out
}

// TestInlinerMatchesPremailer holds the memoised inliner to go-premailer
// itself: for every template, branch and locale the two documents are the
// same tree with the same attributes and text (go-premailer's parser adds
// <tbody> and normalises the markup; the inliner keeps the bytes
// html/template wrote).
func TestInlinerMatchesPremailer(t *testing.T) {
	raw := rawRenderer(t)
	var in inliner
	for _, d := range inlinerCases(raw) {
		name := fmt.Sprintf("%s/%s/user=%t", d.Locale, d.Trigger, d.Username != "")
		m, err := raw.Render(d)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, err := premailerInline(m.HTML)
		if err != nil {
			t.Fatal(err)
		}
		for pass := 0; pass < 2; pass++ { // learning, then from the memo
			got, err := in.inline(m.HTML)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if diff := sameTree(t, got, want); diff != "" {
				t.Errorf("%s (pass %d): the inliner differs from go-premailer: %s", name, pass+1, diff)
			}
			if strings.Contains(got, indexAttr) || strings.Contains(got, ignoreAttr) {
				t.Errorf("%s: the inliner's marks are left in the mail", name)
			}
		}
	}
	// Data never makes a structure of its own: the hostile cases reuse
	// the plans of the plain ones.
	if n := in.planned(); n > 60 {
		t.Errorf("%d plans for %d templates in %d locales: user data is changing the structure", n, len(Triggers), len(raw.Locales()))
	}
}

// sameTree compares two HTML documents as trees, <tbody> elements and
// whitespace-only text aside; it returns where they first differ, or "".
func sameTree(t *testing.T, a, b string) string {
	t.Helper()
	flat := func(doc string) []string {
		root, err := html.Parse(strings.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		var walk func(*html.Node)
		walk = func(n *html.Node) {
			switch n.Type {
			case html.ElementNode:
				if n.Data != "tbody" {
					attrs := map[string]string{}
					for _, a := range n.Attr {
						if a.Key != ignoreAttr {
							attrs[a.Key] = a.Val
						}
					}
					out = append(out, fmt.Sprintf("<%s %v>", n.Data, attrs))
				}
			case html.TextNode:
				if strings.TrimSpace(n.Data) != "" {
					out = append(out, "text:"+strings.TrimSpace(n.Data))
				}
			case html.CommentNode:
				out = append(out, "comment:"+n.Data)
			}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
			if n.Type == html.ElementNode && n.Data != "tbody" {
				out = append(out, "</"+n.Data+">")
			}
		}
		walk(root)
		return out
	}
	x, y := flat(a), flat(b)
	for i := range min(len(x), len(y)) {
		if x[i] != y[i] {
			return fmt.Sprintf("node %d: %.200s ≠ %.200s", i, x[i], y[i])
		}
	}
	if len(x) != len(y) {
		return fmt.Sprintf("%d nodes ≠ %d", len(x), len(y))
	}
	return ""
}

// TestInlinerSynthetic covers what the shipped templates do not use:
// sibling, position and attribute selectors, ids, !important against
// specificity (in rules and in style attributes), inline styles to merge,
// comments, quoted values holding ";", a sheet in the body, blocks left
// alone (ignore, media="print"), and several documents of one structure
// with different text and links.
func TestInlinerSynthetic(t *testing.T) {
	const css = `<style>
a:hover, .x { color: #000; }
@media (max-width: 600px) { .x { padding: 0; } p, .box > .x { margin: 0 !important; width: 1px } }
p + p { margin-top: 4px; }
li:first-child { font-weight: bold; }
.box > .x { width: 120px; color: #111; }
#id1 { height: 10px; }
[data-k="v"] { border: 0; }
.x { color: #333 !important; padding: 1px }
p.x { padding: 2px; }
</style>
<style data-premailer="ignore">a:hover { color: #000; } @media (max-width: 600px) { .x { padding: 0; } }</style>
<style media="print">.x { display: none; }</style>`
	docs := []string{
		`<!DOCTYPE html><html><head><title>T</title>` + css + `</head><body><div class="box"><p class="x" style="color:#222">one</p><p>two</p></div><ul><li>a</li><li>b</li></ul><a href="https://a.test/?x=1&amp;y=2">l</a><span id="id1" data-k="v">s</span></body></html>`,
		`<!DOCTYPE html><html><head><title>U</title>` + css + `</head><body><div class="box"><p class="x" style="color:#222">&lt;uno&gt; &amp; dos</p><p>tres</p></div><ul><li>c</li><li>d</li></ul><a href="https://b.test/?q=&#34;">m</a><span id="id1" data-k="v">t</span></body></html>`,
		`<html><head></head><body><style>p { margin: 0 }</style><p>no doctype</p><p class="x" style="margin: 1px; width: 0">second</p></body></html>`,
		`<html><head><style>p { color: blue; /* c */ margin : 0 1px ; background: url("a;b.png") no-repeat; font-family: "A B", 'C' } .y { color: green !important }</style></head>` +
			`<body><p style="color: red !important; padding:1px">x</p><p class="y" style="COLOR: red">y</p></body></html>`,
	}
	var in inliner
	for i, doc := range docs {
		want, err := premailerInline(doc)
		if err != nil {
			t.Fatal(err)
		}
		got, err := in.inline(doc)
		if err != nil {
			t.Fatal(err)
		}
		if diff := sameTree(t, got, want); diff != "" {
			t.Errorf("document %d: %s", i, diff)
		}
		if i < 2 && (!strings.Contains(got, "a:hover") || !strings.Contains(got, `<style media="print">`)) {
			t.Errorf("document %d: a block the inliner must leave alone is gone", i)
		}
		if i < 2 && !strings.Contains(got, "@media (max-width: 600px){\n.x {\npadding: 0 !important\n}") {
			t.Errorf("document %d: the rules a style attribute cannot express are not kept", i)
		}
	}
	if n := in.planned(); n != 3 {
		t.Errorf("%d plans for 3 structures", n)
	}
}

// TestInlinerRefuses: an at-rule other than @media in a block to inline
// (which go-premailer turns into broken CSS) is an error that names it
// and says where it goes; so is a stylesheet that does not parse, and a
// rule to keep in a document with no </head> to keep it in.
func TestInlinerRefuses(t *testing.T) {
	for _, tc := range []struct {
		sheet, want string
		inlinable   bool
	}{
		{`@import url(x.css);`, `@import`, false},
		{`@font-face { font-family: X; src: url(x.woff) }`, `@font-face`, false},
		{`@media print { @page { margin: 0 } }`, `@page`, false},
		{`@media print { p { margin: 0 }`, `not closed`, true},
		{`p { color: red`, `not closed`, true},
		{`p { color red }`, `"p": a declaration is not property: value`, true},
		{`p { color: red; { x } }`, `nested`, true},
		{`p[ { color: red }`, `"p["`, true},
		{`p`, `no block`, true},
		{``, ``, true}, // a rule to keep, no </head>
	} {
		doc := `<html><head><style>` + tc.sheet + `</style></head><body><p>secret-text</p><a>l</a></body></html>`
		if tc.sheet == "" {
			doc = `<!DOCTYPE html><style>a:hover { color: red }</style><p>secret-text</p>`
			tc.want, tc.inlinable = "no </head>", true
		}
		var in inliner
		_, err := in.inline(doc)
		switch {
		case err == nil:
			t.Errorf("%s: inlined", tc.sheet)
		case !strings.Contains(err.Error(), tc.want):
			t.Errorf("%s: the error %q does not name %s", tc.sheet, err, tc.want)
		case errors.Is(err, errNotInlinable) == tc.inlinable:
			t.Errorf("%s: errNotInlinable is %t in %q", tc.sheet, !tc.inlinable, err)
		case strings.Contains(err.Error(), "secret-text"):
			t.Errorf("%s: the error carries the document's text", tc.sheet)
		case strings.Contains(err.Error(), "%!"):
			t.Errorf("%s: the error %q is badly formatted", tc.sheet, err)
		}
	}
}
