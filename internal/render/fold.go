package render

import (
	"bytes"
	"errors"
	htmltemplate "html/template"
	"io"
	"strconv"
	"text/template/parse"
)

// Constant folding. Most actions in the templates write the same text in
// every mail of a locale: {{t "layout.brand"}}, {{mso "head"}},
// {{preheaderSpacer}}. Each would otherwise cost a reflective function call
// and, in HTML, a second one for html/template's escaper, on every render:
// about half of the template execution time. fold replaces each such
// action, once per set, by the text it writes, and each {{t "key"}} passed
// to a block ({{template "heading" (t "x.heading")}}) by the string it
// returns. What is folded is computed by the same functions, and in HTML
// escaped by html/template itself, so the mails are the same bytes: the
// golden files and TestFoldedMatchesUnfolded hold them.

// noFold turns folding off, for the test that compares folded and
// unfolded templates.
var noFold bool

// constFuncs are the template functions whose result depends only on their
// arguments and the locale, with the names the templates call them by.
func constFuncs(tr translator) map[string]func(args []string) (any, error) {
	return map[string]func([]string) (any, error){
		"t": func(args []string) (any, error) { return tr.t(args[0], args[1:]...) },
		"mso": func(args []string) (any, error) {
			if len(args) != 1 {
				return nil, errNotFolded
			}
			return mso(args[0])
		},
		"preheaderSpacer": func(args []string) (any, error) {
			if len(args) != 0 {
				return nil, errNotFolded
			}
			return preheaderSpacer(), nil
		},
	}
}

// errNotFolded leaves an action as it is: a call with the wrong number of
// arguments fails at render, as it did before folding.
var errNotFolded = errors.New("not folded")

// htmlEscaper is html/template's escaper for text between tags, the
// "_html_template_htmlescaper" it puts after an action there.
var htmlEscaper = htmltemplate.Must(htmltemplate.New("escape").Parse("{{.}}"))

// fold folds the constant actions of one set, tr being its locale's
// translator: its HTML templates once html/template has escaped them, and
// its text templates, which share their parse trees with every other
// locale's clone and so are copied first. Call it once per set, before the
// set renders concurrently: after New's trial run, or on a set just parsed
// (it has the HTML escaped first).
func (s set) fold(tr translator) {
	// html/template escapes a template and every template it calls on its
	// first execution, before it looks at the data: nil data stops the run
	// at the first field, escaped. An escaping error stays for Render to
	// report, as before.
	_ = s.html.ExecuteTemplate(io.Discard, layoutHTML, nil)
	f := folder{funcs: constFuncs(tr)}
	for _, h := range s.html.Templates() {
		if h.Tree != nil {
			f.list(h.Tree.Root, true)
		}
	}
	for _, t := range s.text.Templates() {
		if t.Tree != nil {
			t.Tree = t.Tree.Copy()
			f.list(t.Tree.Root, false)
		}
	}
}

type folder struct {
	funcs map[string]func([]string) (any, error)
}

// list folds the actions in l and what they contain.
func (f folder) list(l *parse.ListNode, html bool) {
	if l == nil {
		return
	}
	out := l.Nodes[:0]
	for _, n := range l.Nodes {
		switch n := n.(type) {
		case *parse.ActionNode:
			if text, ok := f.action(n, html); ok {
				if k := len(out) - 1; k >= 0 {
					if prev, ok := out[k].(*parse.TextNode); ok {
						prev.Text = append(prev.Text[:len(prev.Text):len(prev.Text)], text...)
						continue
					}
				}
				out = append(out, &parse.TextNode{NodeType: parse.NodeText, Pos: n.Pos, Text: text})
				continue
			}
			f.pipe(n.Pipe)
		case *parse.TextNode:
			if k := len(out) - 1; k >= 0 {
				if prev, ok := out[k].(*parse.TextNode); ok {
					prev.Text = append(prev.Text[:len(prev.Text):len(prev.Text)], n.Text...)
					continue
				}
			}
		case *parse.IfNode:
			f.list(n.List, html)
			f.list(n.ElseList, html)
		case *parse.RangeNode:
			f.list(n.List, html)
			f.list(n.ElseList, html)
		case *parse.WithNode:
			f.list(n.List, html)
			f.list(n.ElseList, html)
		case *parse.TemplateNode:
			f.pipe(n.Pipe)
		}
		out = append(out, n)
	}
	clear(l.Nodes[len(out):])
	l.Nodes = out
}

// action returns the text a constant action writes: a constant call alone
// (text), or followed by html/template's escaper for text between tags
// (HTML). Any other action is not folded.
func (f folder) action(a *parse.ActionNode, html bool) ([]byte, bool) {
	if a.Pipe == nil || len(a.Pipe.Decl) > 0 || a.Pipe.IsAssign {
		return nil, false
	}
	cmds := a.Pipe.Cmds
	if html {
		if len(cmds) != 2 || len(cmds[1].Args) != 1 {
			return nil, false
		}
		if id, ok := cmds[1].Args[0].(*parse.IdentifierNode); !ok || id.Ident != "_html_template_htmlescaper" {
			return nil, false
		}
	} else if len(cmds) != 1 {
		return nil, false
	}
	v, ok := f.call(cmds[0])
	if !ok {
		return nil, false
	}
	var b bytes.Buffer
	if html {
		if err := htmlEscaper.Execute(&b, v); err != nil {
			return nil, false
		}
		return b.Bytes(), true
	}
	s, ok := v.(string)
	return []byte(s), ok
}

// call evaluates a command that calls a constant function with string
// constants only.
func (f folder) call(c *parse.CommandNode) (any, bool) {
	if len(c.Args) == 0 {
		return nil, false
	}
	id, ok := c.Args[0].(*parse.IdentifierNode)
	if !ok {
		return nil, false
	}
	fn, ok := f.funcs[id.Ident]
	if !ok {
		return nil, false
	}
	args := make([]string, 0, len(c.Args)-1)
	for _, a := range c.Args[1:] {
		s, ok := a.(*parse.StringNode)
		if !ok {
			return nil, false
		}
		args = append(args, s.Text)
	}
	if id.Ident == "t" && len(args) == 0 {
		return nil, false
	}
	v, err := fn(args)
	if err != nil {
		return nil, false
	}
	return v, true
}

// pipe folds the string-valued constant calls among the arguments of p's
// commands: (t "x.heading") becomes the string constant it returns.
func (f folder) pipe(p *parse.PipeNode) {
	if p == nil {
		return
	}
	for _, c := range p.Cmds {
		for _, a := range c.Args {
			sub, ok := a.(*parse.PipeNode)
			if !ok {
				continue
			}
			f.pipe(sub)
			if len(sub.Decl) > 0 || len(sub.Cmds) != 1 {
				continue
			}
			v, ok := f.call(sub.Cmds[0])
			if s, isString := v.(string); ok && isString {
				sub.Cmds[0].Args = []parse.Node{&parse.StringNode{NodeType: parse.NodeString, Pos: sub.Cmds[0].Pos, Quoted: strconv.Quote(s), Text: s}}
			}
		}
	}
}
