package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/andybalholm/cascadia"
	"github.com/tdewolff/parse/v2"
	"github.com/tdewolff/parse/v2/css"
	"golang.org/x/net/html"
)

// The cascade: what the inliner does to a document the first time it sees
// its structure. It follows go-premailer's model, which the tests hold it
// to (go-premailer is their oracle, not a dependency of the mail path; its
// dependencies cost the Lambda's cold start about 4 ms of package
// initialisation):
//
//   - the rules of each <style> block that is not marked
//     data-premailer="ignore" and has no media other than "all" are
//     inlined, and the block removed before selectors are matched;
//   - an element's declarations come from the rules matching it, in
//     ascending order of (!important, specificity, source order), then
//     from its own style attribute; a property takes its last value and
//     keeps the place of its last declaration; !important is dropped;
//   - a width or height in px (or 0) is also written as the element's
//     HTML attribute, for the clients that ignore CSS sizes.
//
// Values are written as the stylesheet has them, but for runs of
// whitespace, which become one space (go-premailer keeps them).
//
// Specificity is CSS's (cascadia's), which go-premailer approximates by
// counting characters; the two agree for selectors of types, classes and
// ids joined by spaced combinators, which is what the templates use.
//
// What a style attribute cannot express (selectors with a state or a
// pseudo-element, "*", @media blocks) is kept, as go-premailer keeps it:
// in a <style> block at the end of the head, every declaration made
// !important so that it beats the inlined styles. Other at-rules
// (@import, @font-face, @page...), which go-premailer turns into broken
// CSS, are refused with an error naming them: they belong in a
// data-premailer="ignore" block, written as meant.

// cssDecl is one declaration: a property and its value as written, with
// whitespace collapsed and any !important taken off.
type cssDecl struct {
	prop, value string
	important   bool
}

// cssRule is one selector of a rule with the declarations of one weight
// (normal or !important) of that rule.
type cssRule struct {
	sel       cascadia.Sel
	decls     []cssDecl
	important bool
	spec      cascadia.Specificity
	order     int // source order among the rules of every sheet read
}

// before compares r and o in cascade order, for slices.SortFunc: negative
// when r comes first (and o wins a property they share).
func (r *cssRule) before(o *cssRule) int {
	if r.important != o.important {
		if o.important {
			return -1
		}
		return 1
	}
	for i := range r.spec {
		if r.spec[i] != o.spec[i] {
			return r.spec[i] - o.spec[i]
		}
	}
	return r.order - o.order
}

// unmergeable are selector parts that depend on state, or name a
// pseudo-element, neither of which a style attribute can express
// (go-premailer's list).
var unmergeable = []string{
	":visited", ":active", ":hover", ":focus", ":link", ":root", ":in-range",
	":invalid", ":valid", ":after", ":before", ":selection", ":target",
	":first-line", ":first-letter", ":checked", ":disabled", ":enabled", ":lang",
}

// errNotInlinable is wrapped by the errors for at-rules that can neither
// go into style attributes nor be kept.
var errNotInlinable = errors.New(`cannot be inlined; put it in a <style data-premailer="ignore"> block`)

// sheet is what the cascade reads from the stylesheets to inline: the
// rules for style attributes, numbered in source order, and the CSS a
// style attribute cannot express, to keep in a <style> block of its own.
type sheet struct {
	rules []cssRule
	keep  strings.Builder
}

// parse reads one stylesheet into sh.
func (sh *sheet) parse(text string) error {
	l := css.NewLexer(parse.NewInputString(text))
	for {
		tt, data := next(l)
		switch tt {
		case css.ErrorToken:
			return lexErr(l)
		case css.CDOToken, css.CDCToken:
			continue
		case css.AtKeywordToken:
			if !strings.EqualFold(string(data), "@media") {
				return fmt.Errorf("inline CSS: %s %w", data, errNotInlinable)
			}
			if err := sh.media(l); err != nil {
				return fmt.Errorf("inline CSS: @media: %w", err)
			}
			continue
		}
		selector, decls, err := readRule(l, tt, data)
		if err != nil {
			return fmt.Errorf("inline CSS: %w", err)
		}
		if err := sh.add(selector, decls); err != nil {
			return err
		}
	}
}

// readRule reads a rule from its first token: its selector up to "{",
// then its declarations up to "}".
func readRule(l *css.Lexer, tt css.TokenType, data []byte) (string, []cssDecl, error) {
	selector, err := readPrelude(l, tt, data)
	if err != nil {
		return "", nil, fmt.Errorf("the rule %q: %w", selector, err)
	}
	decls, err := parseDecls(l, true)
	if err != nil {
		return "", nil, fmt.Errorf("the rule %q: %w", selector, err)
	}
	return selector, decls, nil
}

// readPrelude reads what comes before a block (a rule's selector, an
// @media query) from its first token up to the block's "{", whitespace
// collapsed; on an error, what it read so far.
func readPrelude(l *css.Lexer, tt css.TokenType, data []byte) (string, error) {
	var b strings.Builder
	for tt != css.LeftBraceToken {
		if tt == css.ErrorToken {
			return collapse(b.String()), withLexErr("it has no block", l)
		}
		if tt == css.WhitespaceToken || tt == css.CommentToken {
			b.WriteByte(' ')
		} else {
			b.Write(data)
		}
		tt, data = l.Next()
	}
	return collapse(b.String()), nil
}

// add takes one rule: each of its selectors is inlined, or, when a style
// attribute cannot express it, kept with the rule's declarations made
// !important, so that they beat the inlined styles (go-premailer's way).
// The selectors are split at every comma, as go-premailer splits them.
func (sh *sheet) add(selector string, decls []cssDecl) error {
	var normal, important []cssDecl
	for _, d := range decls {
		if d.important {
			important = append(important, d)
		} else {
			normal = append(normal, d)
		}
	}
	for _, one := range strings.Split(selector, ",") {
		one = strings.TrimSpace(one)
		if !mergeable(one) {
			sh.keep.WriteString(importantRule(one, decls))
			continue
		}
		sel, err := cascadia.Parse(one)
		if err != nil {
			return fmt.Errorf("inline CSS: the selector %q: %w", one, err)
		}
		for _, w := range []struct {
			decls     []cssDecl
			important bool
		}{{normal, false}, {important, true}} {
			if len(w.decls) > 0 {
				sh.rules = append(sh.rules, cssRule{sel: sel, decls: w.decls, important: w.important, spec: sel.Specificity(), order: len(sh.rules)})
			}
		}
	}
	return nil
}

// mergeable reports whether a style attribute can stand for one selector.
func mergeable(selector string) bool {
	lower := strings.ToLower(selector)
	for _, u := range unmergeable {
		if strings.Contains(lower, u) {
			return false
		}
	}
	return !strings.Contains(selector, "*")
}

// media keeps an @media block (its query read from l up to its "{"), every
// declaration in it made !important.
func (sh *sheet) media(l *css.Lexer) error {
	tt, data := l.Next()
	query, err := readPrelude(l, tt, data)
	if err != nil {
		return err
	}
	var inner []string
	for {
		tt, data := next(l)
		switch tt {
		case css.RightBraceToken:
			fmt.Fprintf(&sh.keep, "@media %s{\n%s\n}\n", query, strings.Join(inner, "\n"))
			return nil
		case css.ErrorToken:
			return withLexErr("the block is not closed", l)
		case css.AtKeywordToken:
			return fmt.Errorf("%s inside it %w", data, errNotInlinable)
		}
		selector, decls, err := readRule(l, tt, data)
		if err != nil {
			return err
		}
		inner = append(inner, importantRule(selector, decls))
	}
}

// importantRule writes a rule to keep, each declaration !important, as
// go-premailer writes it.
func importantRule(selector string, decls []cssDecl) string {
	var b strings.Builder
	b.WriteString(selector)
	b.WriteString(" {\n")
	for i, d := range decls {
		if i > 0 {
			b.WriteString(";\n")
		}
		b.WriteString(d.prop + ": " + d.value + " !important")
	}
	b.WriteString("\n}")
	return b.String()
}

// parseDecls reads declarations up to the end of a block (inBlock) or of
// the input (a style attribute).
func parseDecls(l *css.Lexer, inBlock bool) ([]cssDecl, error) {
	var out []cssDecl
	var cur []byte // the declaration so far, whitespace collapsed
	level := 0
	flush := func() error {
		d, ok, err := parseDecl(cur)
		cur = cur[:0]
		if ok {
			out = append(out, d)
		}
		return err
	}
	for {
		tt, data := l.Next()
		switch {
		case tt == css.ErrorToken:
			if inBlock {
				return nil, withLexErr("the block is not closed", l)
			}
			if err := lexErr(l); err != nil {
				return nil, err
			}
			return out, flush()
		case tt == css.CommentToken:
			continue
		case level == 0 && tt == css.SemicolonToken:
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		case level == 0 && tt == css.RightBraceToken:
			if !inBlock {
				return nil, errors.New("a } outside a block")
			}
			return out, flush()
		case tt == css.LeftBraceToken:
			return nil, errors.New("a nested block")
		case tt == css.LeftParenthesisToken || tt == css.LeftBracketToken || tt == css.FunctionToken:
			level++
		case (tt == css.RightParenthesisToken || tt == css.RightBracketToken) && level > 0:
			level--
		}
		if tt == css.WhitespaceToken {
			if len(cur) > 0 && cur[len(cur)-1] != ' ' {
				cur = append(cur, ' ')
			}
			continue
		}
		cur = append(cur, data...)
	}
}

// parseDecl splits one declaration; ok is false for an empty one.
func parseDecl(b []byte) (d cssDecl, ok bool, err error) {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return d, false, nil
	}
	prop, value, found := strings.Cut(s, ":")
	prop = strings.TrimSpace(prop)
	if !found || prop == "" || strings.ContainsAny(prop, " ") {
		// Not quoted: a style attribute is part of the mail's body.
		return d, false, errors.New("a declaration is not property: value")
	}
	value = strings.TrimSpace(value)
	if i := strings.LastIndexByte(value, '!'); i >= 0 && strings.EqualFold(strings.TrimSpace(value[i+1:]), "important") {
		value, d.important = strings.TrimSpace(value[:i]), true
	}
	d.prop, d.value = prop, value
	return d, true, nil
}

// next is the lexer's next token that is not whitespace or a comment.
func next(l *css.Lexer) (css.TokenType, []byte) {
	for {
		tt, data := l.Next()
		if tt != css.WhitespaceToken && tt != css.CommentToken {
			return tt, data
		}
	}
}

// lexErr is the lexer's error, nil at the end of the input.
func lexErr(l *css.Lexer) error {
	if err := l.Err(); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// withLexErr is the error msg, with the lexer's error when there is one
// (not at the end of the input).
func withLexErr(msg string, l *css.Lexer) error {
	if err := lexErr(l); err != nil {
		return fmt.Errorf("%s: %w", msg, err)
	}
	return errors.New(msg)
}

// collapse trims s and turns each run of spaces into one.
func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

// styleOf is the attributes the cascade gives an element matched by rules
// (in cascade order) that had the style attribute own ("" for none): the
// style, then the HTML width and height its sizes ask for, in the order
// they come in the style (go-premailer's order, which the goldens keep).
func styleOf(rules []*cssRule, own string) ([]html.Attribute, error) {
	var decls []cssDecl
	for _, r := range rules {
		decls = append(decls, r.decls...)
	}
	if own != "" {
		l := css.NewLexer(parse.NewInputString(own))
		ds, err := parseDecls(l, false)
		if err != nil {
			return nil, fmt.Errorf("inline CSS: a style attribute: %w", err)
		}
		decls = append(decls, ds...)
	}
	// Each property at its last declaration, with its last value.
	last := make(map[string]int, len(decls))
	for i, d := range decls {
		last[d.prop] = i
	}
	var set []html.Attribute
	var b strings.Builder
	for i, d := range decls {
		if last[d.prop] != i {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(';')
		}
		b.WriteString(d.prop)
		b.WriteByte(':')
		b.WriteString(d.value)
		if size, ok := htmlSize(d.value); ok && (d.prop == "width" || d.prop == "height") {
			set = append(set, html.Attribute{Key: d.prop, Val: size})
		}
	}
	if b.Len() > 0 {
		set = append([]html.Attribute{{Key: "style", Val: b.String()}}, set...)
	}
	return set, nil
}

// htmlSize is a CSS size as an HTML width or height attribute: px
// dropped, 0 kept; ok is false for any other unit.
func htmlSize(v string) (string, bool) {
	if n, ok := strings.CutSuffix(v, "px"); ok {
		return n, true
	}
	return v, v == "0"
}

// cascadeTree applies the stylesheets of root to its elements. It
// returns, for each element that rules match, the attributes the cascade
// gives it, the <style> elements it consumed (removed from the tree), and
// the CSS it could not inline, to keep ("" for none).
func cascadeTree(root *html.Node) (map[*html.Node][]html.Attribute, []*html.Node, string, error) {
	var sheets []*html.Node
	for n := range root.Descendants() {
		if n.Type == html.ElementNode && n.Data == "style" && inlined(n) {
			sheets = append(sheets, n)
		}
	}
	var sh sheet
	for _, s := range sheets {
		var text bytes.Buffer
		for c := s.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.TextNode {
				text.WriteString(c.Data)
			}
		}
		if err := sh.parse(text.String()); err != nil {
			return nil, nil, "", err
		}
		s.Parent.RemoveChild(s)
	}
	sorted := make([]*cssRule, len(sh.rules))
	for i := range sh.rules {
		sorted[i] = &sh.rules[i]
	}
	slices.SortFunc(sorted, (*cssRule).before)

	out := map[*html.Node][]html.Attribute{}
	var matched []*cssRule
	for n := range root.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		matched = matched[:0]
		for _, r := range sorted {
			if r.sel.Match(n) {
				matched = append(matched, r)
			}
		}
		if len(matched) == 0 {
			continue
		}
		set, err := styleOf(matched, attrVal(n, "style"))
		if err != nil {
			return nil, nil, "", err
		}
		out[n] = set
	}
	return out, sheets, sh.keep.String(), nil
}

// inlined reports whether a <style> element's rules are for inlining.
func inlined(n *html.Node) bool {
	if attrVal(n, ignoreAttr) == "ignore" {
		return false
	}
	media, ok := nodeAttr(n, "media")
	return !ok || media == "all"
}

func nodeAttr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func attrVal(n *html.Node, key string) string {
	v, _ := nodeAttr(n, key)
	return v
}
