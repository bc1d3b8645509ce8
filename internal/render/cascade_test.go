package render

import (
	"strings"
	"testing"
)

// The pieces FuzzCascadeMatchesPremailer builds documents from: selectors
// of the kinds the templates use (types, classes, ids, spaced
// combinators) and ones a style attribute cannot express, @media blocks,
// declarations of both weights with sizes the cascade also writes as
// attributes, and elements with classes, ids and styles.
var (
	fuzzSelectors = []string{
		"p", "td", "div", "span", "a", "li", "table", ".a", ".b", ".c", "#i", "p.a", "td.b",
		"div .a", ".a p", ".b > span", "div > p.c", "p + p", "ul li", ".a .b", "span.a.b",
		"#i .c", "table td", "li ~ li", ".c > a",
		// kept, not inlined
		"a:hover", "p::before", ".a:focus", "*", "div *",
	}
	fuzzDecls = []string{
		"color: #111", "color: #222 !important", "width: 10px", "height: 0", "width: 50%",
		"margin: 0 0 16px", "padding:4px", "font-family: A, B C", "height: 3px !important",
		"border: 1px solid #e5e7eb", "font-family:\n  X,Y", "margin-top: 2px",
	}
	fuzzClasses = []string{"", "a", "b", "c", "a b", "b c"}
	fuzzStyles  = []string{"", "color: #999", "width: 5px", "margin: 1px; color: #000", "height:7px;width:0"}
	// fuzzChildren is what each element may hold, so that the documents
	// are well formed: the HTML parser moves misnested elements around
	// and adds some of its own, which are not in the mail's bytes.
	fuzzChildren = map[string][]string{
		"body":  {"div", "p", "span", "ul", "table"},
		"div":   {"div", "p", "span", "a", "ul", "table"},
		"td":    {"div", "p", "span", "a", "ul", "table"},
		"li":    {"div", "p", "span", "a", "ul", "table"},
		"p":     {"span", "a"},
		"span":  {"span", "a"},
		"a":     {"span"},
		"ul":    {"li"},
		"table": {"div", "p", "span", "a", "ul", "table"},
	}
)

// fuzzDoc builds a document with a stylesheet and a body from b.
func fuzzDoc(b []byte) string {
	pos := 0
	next := func(n int) int {
		if pos >= len(b) {
			return 0
		}
		pos++
		return int(b[pos-1]) % n
	}
	var d strings.Builder
	d.WriteString("<!DOCTYPE html><html><head><title>t</title><style>\n")
	for range 1 + next(8) {
		if next(6) == 0 {
			d.WriteString("@media (max-width: 600px) { ")
			d.WriteString(fuzzSelectors[next(len(fuzzSelectors))] + " { " + fuzzDecls[next(len(fuzzDecls))] + " } ")
			d.WriteString("}\n")
			continue
		}
		d.WriteString(fuzzSelectors[next(len(fuzzSelectors))])
		if next(3) == 0 {
			d.WriteString(", " + fuzzSelectors[next(len(fuzzSelectors))])
		}
		d.WriteString(" { ")
		for range 1 + next(3) {
			d.WriteString(fuzzDecls[next(len(fuzzDecls))] + "; ")
		}
		d.WriteString("}\n")
	}
	d.WriteString("</style></head><body>")
	elements := 0
	var element func(parent string, depth int)
	element = func(parent string, depth int) {
		elements++
		kids := fuzzChildren[parent]
		tag := kids[next(len(kids))]
		attrs := ""
		if c := fuzzClasses[next(len(fuzzClasses))]; c != "" {
			attrs += ` class="` + c + `"`
		}
		if next(6) == 0 {
			attrs += ` id="i"`
		}
		if s := fuzzStyles[next(len(fuzzStyles))]; s != "" {
			attrs += ` style="` + s + `"`
		}
		if tag == "table" {
			d.WriteString("<table" + attrs + "><tr><td" + attrs + ">")
		} else {
			d.WriteString("<" + tag + attrs + ">")
		}
		d.WriteString("x")
		for range next(4) {
			if depth < 4 && elements < 40 && pos < len(b) {
				element(tag, depth+1)
			}
		}
		if tag == "table" {
			d.WriteString("</td></tr></table>")
		} else {
			d.WriteString("</" + tag + ">")
		}
	}
	for pos < len(b) && elements < 40 {
		element("body", 0)
	}
	d.WriteString("</body></html>")
	return d.String()
}

// FuzzCascadeMatchesPremailer holds the inliner to go-premailer, an
// independent implementation of the same cascade, on documents built from
// the fuzzer's bytes: the same elements get the same attributes.
func FuzzCascadeMatchesPremailer(f *testing.F) {
	for _, seed := range []string{
		"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09",
		"\x07\x0a\x00\x02\x05\x01\x03\x02\x03\x04\x11\x03\x03\x05\x02\x01\x00\x03\x02\x01\x01",
		"\x05\x10\x02\x01\x04\x0d\x01\x08\x06\x00\x02\x03\x01\x02\x02\x05\x03\x06\x01\x04\x01\x00\x02",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		doc := fuzzDoc(b)
		want, err := premailerInline(doc)
		if err != nil {
			t.Skip() // not a document go-premailer takes
		}
		var in inliner
		got, err := in.inline(doc)
		if err != nil {
			t.Fatalf("%v\n%s", err, doc)
		}
		if diff := sameTree(t, got, want); diff != "" {
			t.Errorf("the inliner differs from go-premailer: %s\n%s", diff, doc)
		}
	})
}

// FuzzParseSheet feeds the cascade's stylesheet and style-attribute
// readers any text, as a designer's template in the live preview can: an
// error or rules, never a panic, and every declaration it inlines has a
// property and no !important left in its value.
func FuzzParseSheet(f *testing.F) {
	for _, seed := range []string{
		"p { color: red }",
		"p.a, .b > td { margin: 0 0 16px; color: #111 !important }",
		"a:hover { x: y }",
		"@media (max-width: 1px) { p { a: b } }",
		"p { background: url(\"a;b\"); font: 'x}' }",
		"p { color: red",
		"/* c */ p /* d */ { /* e */ a /* f */ : b }",
		"p { a: b; { c } }",
		"<!-- p { a: b } -->",
	} {
		f.Add(seed, "color: red; width: 4px")
	}
	f.Fuzz(func(t *testing.T, text, style string) {
		var sh sheet
		if err := sh.parse(text); err != nil {
			return
		}
		ptrs := make([]*cssRule, len(sh.rules))
		for i := range sh.rules {
			ptrs[i] = &sh.rules[i]
			for _, d := range sh.rules[i].decls {
				if d.prop == "" || strings.HasSuffix(strings.ToLower(d.value), "!important") {
					t.Fatalf("declaration %+v from %q", d, text)
				}
			}
			if sh.rules[i].order != i {
				t.Fatalf("rule %d numbered %d", i, sh.rules[i].order)
			}
		}
		set, err := styleOf(ptrs, style)
		if err != nil {
			return
		}
		for _, a := range set {
			if a.Key != "style" && a.Key != "width" && a.Key != "height" {
				t.Fatalf("the cascade sets %q", a.Key)
			}
		}
	})
}
