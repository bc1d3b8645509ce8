package render

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/net/html"
)

// The CSS inliner moves the rules of the document's plain <style> blocks
// into style attributes, for the clients that drop <style> (Gmail in some
// apps, many webmails, Outlook); blocks marked data-premailer="ignore"
// (media queries, dark mode) stay in the head as written, for the clients
// that honour them.
//
// The cascade (cascade.go: tdewolff/parse reads the CSS, cascadia matches
// the selectors) parses the stylesheet and the whole document, so its
// result is memoised per document structure: the inlined styles depend
// only on the elements and their attributes, never on the text or the
// links in them, and a template has a handful of structures (its
// branches), whatever the user data. The first mail of a structure runs
// the cascade on a copy of the document whose elements are numbered, and
// records what it did to each element (a plan); every mail of that
// structure then gets the plan applied to its own bytes, which
// html/template escaped and nothing reparses.
//
// Selectors may use element names, classes, ids, attributes other than
// href and src, and the element tree (descendants, children, siblings,
// positions): all are part of the structure. They may not depend on text
// (:empty, :contains) or on links (a[href^=...]): those are not. Tests
// hold the result equal to go-premailer's, an independent implementation,
// for every template and for fuzzed documents.
type inliner struct {
	mu    sync.RWMutex
	plans map[uint64]*plan
}

// maxPlans bounds the memo; past it, plans are still made and used, but
// not kept. The shipped templates have a few dozen structures.
const maxPlans = 512

// plan is what the cascade does to one document structure, by element
// index (the order of start tags).
type plan struct {
	set  [][]setAttr // attributes it set (style, width, height); nil: none
	drop []bool      // removed: a <style> block it consumed
	mark []bool      // carries the data-premailer mark, to remove
	head string      // rules it put in a <style> block of its own ("" for none)
}

// setAttr is an attribute to set, ready to write: ` key="value"`.
type setAttr struct{ key, written string }

// ignoreAttr marks the <style> blocks the inliner leaves alone (the name
// is go-premailer's, which designers know); the mail
// does not need the mark.
const ignoreAttr = "data-premailer"

// tag is one start tag of the document being inlined, as offsets into it.
type tag struct {
	start, end     int // the whole tag
	nameEnd        int // the name is doc[start+1:nameEnd]
	attrLo, attrHi int // its attributes are attrs[attrLo:attrHi]
	selfClosing    bool
}

// attr is one attribute of a tag, as offsets into the document.
type attr struct {
	start, keyEnd int // the whole attribute is doc[start:end], its key doc[start:keyEnd]
	val, valEnd   int // its value as written (character references not decoded)
	end           int
}

// scanned is a document split into its tags.
type scanned struct {
	doc     []byte
	tags    []tag
	attrs   []attr
	headEnd int // offset of </head>, -1 when missing
	sum     uint64
}

func (s *scanned) name(t tag) []byte   { return s.doc[t.start+1 : t.nameEnd] }
func (s *scanned) key(a attr) []byte   { return s.doc[a.start:a.keyEnd] }
func (s *scanned) value(a attr) []byte { return s.doc[a.val:a.valEnd] }

// structureSeed seeds the structure hashes of this process.
var structureSeed = maphash.MakeSeed()

// scan finds the start tags of doc, in order, the offset of </head> and a
// hash of its structure: every start and end tag with its attributes,
// href and src excepted, and the text of <style> blocks.
//
// It is a small scanner for the documents html/template writes from the
// templates (comments, a doctype, tags with quoted or bare attributes,
// <style>, <script> and <title> holding raw text), far cheaper than a full
// HTML parse; the cascade still parses each new structure fully.
func scan(doc []byte) (*scanned, error) {
	s := scans.Get().(*scanned)
	s.doc, s.headEnd, s.tags, s.attrs = doc, -1, s.tags[:0], s.attrs[:0]
	if c := len(doc) / 48; cap(s.tags) < c {
		s.tags = make([]tag, 0, c)
	}
	if c := len(doc) / 32; cap(s.attrs) < c {
		s.attrs = make([]attr, 0, c)
	}
	var h maphash.Hash
	h.SetSeed(structureSeed)
	n := len(doc)
	i := 0
	for {
		j := bytes.IndexByte(doc[i:], '<')
		if j < 0 || i+j+1 >= n {
			s.sum = h.Sum64()
			return s, nil
		}
		i += j
		c := doc[i+1]
		switch {
		case c == '!' && bytes.HasPrefix(doc[i:], []byte("<!--")):
			e := bytes.Index(doc[i+4:], []byte("-->"))
			if e < 0 {
				return nil, errors.New("inline CSS: a comment is not closed")
			}
			i += 4 + e + 3
			continue
		case c == '!' || c == '?':
			e := bytes.IndexByte(doc[i:], '>')
			if e < 0 {
				return nil, errors.New("inline CSS: a declaration is not closed")
			}
			i += e + 1
			continue
		case c == '/':
			e := bytes.IndexByte(doc[i:], '>')
			if e < 0 {
				return nil, errors.New("inline CSS: an end tag is not closed")
			}
			name := bytes.TrimSpace(doc[i+2 : i+e])
			h.WriteString("</")
			h.Write(name)
			if s.headEnd < 0 && bytes.EqualFold(name, []byte("head")) {
				s.headEnd = i
			}
			i += e + 1
			continue
		case !isASCIILetter(c):
			i++ // a "<" in text
			continue
		}

		// A start tag.
		t := tag{start: i, attrLo: len(s.attrs)}
		k := i + 1
		for k < n && !isSpace(doc[k]) && doc[k] != '>' && doc[k] != '/' {
			k++
		}
		t.nameEnd = k
		h.WriteByte('<')
		h.Write(doc[i+1 : k])
		for {
			for k < n && isSpace(doc[k]) {
				k++
			}
			if k >= n {
				return nil, errors.New("inline CSS: a tag is not closed")
			}
			if doc[k] == '>' {
				k++
				break
			}
			if doc[k] == '/' {
				if k+1 < n && doc[k+1] == '>' {
					t.selfClosing = true
					k += 2
					break
				}
				k++
				continue
			}
			a := attr{start: k}
			for k < n && !isSpace(doc[k]) && doc[k] != '=' && doc[k] != '>' && doc[k] != '/' {
				k++
			}
			a.keyEnd = k
			a.val, a.valEnd = k, k
			v := k
			for v < n && isSpace(doc[v]) {
				v++
			}
			if v < n && doc[v] == '=' {
				k = v + 1
				for k < n && isSpace(doc[k]) {
					k++
				}
				if k < n && (doc[k] == '"' || doc[k] == '\'') {
					e := bytes.IndexByte(doc[k+1:], doc[k])
					if e < 0 {
						return nil, errors.New("inline CSS: an attribute value is not closed")
					}
					a.val, a.valEnd = k+1, k+1+e
					k += e + 2
				} else {
					a.val = k
					for k < n && !isSpace(doc[k]) && doc[k] != '>' {
						k++
					}
					a.valEnd = k
				}
			}
			a.end = k
			s.attrs = append(s.attrs, a)
			if key := doc[a.start:a.keyEnd]; !bytes.EqualFold(key, []byte("href")) && !bytes.EqualFold(key, []byte("src")) {
				h.WriteByte(0)
				h.Write(key)
				h.WriteByte(0)
				h.Write(doc[a.val:a.valEnd])
			}
		}
		t.end, t.attrHi = k, len(s.attrs)
		h.WriteByte('>')
		s.tags = append(s.tags, t)
		i = k
		if t.selfClosing {
			continue
		}
		name := doc[t.start+1 : t.nameEnd]
		for _, raw := range []string{"style", "script", "title", "textarea"} {
			if !bytes.EqualFold(name, []byte(raw)) {
				continue
			}
			// Raw text up to the end tag, which the loop reads next.
			e := indexFold(doc[i:], "</"+raw)
			if e < 0 {
				return nil, errors.New("inline CSS: a <" + raw + "> is not closed")
			}
			if raw == "style" {
				h.Write(doc[i : i+e])
			}
			i += e
			break
		}
	}
}

// scans keeps scanned documents' tag and attribute slices between mails.
var scans = sync.Pool{New: func() any { return new(scanned) }}

// release hands s back for another scan; s must not be used after.
func (s *scanned) release() {
	if s == nil || cap(s.tags) > 1<<14 {
		return
	}
	s.doc = nil
	scans.Put(s)
}

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

// indexFold is bytes.Index ignoring ASCII case, for a lower-case sep.
func indexFold(s []byte, sep string) int {
	if i := bytes.Index(s, []byte(sep)); i >= 0 {
		return i // the usual case: written in lower case
	}
	for i := 0; i+len(sep) <= len(s); i++ {
		if bytes.EqualFold(s[i:i+len(sep)], []byte(sep)) {
			return i
		}
	}
	return -1
}

// inline returns doc with its CSS inlined.
func (in *inliner) inline(doc string) (string, error) {
	s, err := scan([]byte(doc))
	if err != nil {
		return "", err
	}
	defer s.release()
	in.mu.RLock()
	p := in.plans[s.sum]
	in.mu.RUnlock()
	if p == nil {
		if p, err = learn(s); err != nil {
			return "", err
		}
		in.mu.Lock()
		if in.plans == nil {
			in.plans = make(map[uint64]*plan)
		}
		if len(in.plans) < maxPlans {
			in.plans[s.sum] = p
		}
		in.mu.Unlock()
	}
	return apply(s, p), nil
}

// planned reports how many structures the inliner has plans for.
func (in *inliner) planned() int {
	in.mu.RLock()
	defer in.mu.RUnlock()
	return len(in.plans)
}

// indexAttr numbers the elements of the copy the cascade works on.
const indexAttr = "data-render-i"

// learn runs the cascade on the document with every element numbered,
// and records for each element the attributes it sets and whether it
// removes it.
func learn(s *scanned) (*plan, error) {
	var b bytes.Buffer
	b.Grow(len(s.doc) + 24*len(s.tags))
	pos := 0
	for i, t := range s.tags {
		b.Write(s.doc[pos:t.nameEnd])
		fmt.Fprintf(&b, ` %s="%d"`, indexAttr, i)
		pos = t.nameEnd
	}
	b.Write(s.doc[pos:])

	root, err := html.Parse(&b)
	if err != nil {
		return nil, fmt.Errorf("inline CSS: %w", err)
	}
	set, consumed, keep, err := cascadeTree(root)
	if err != nil {
		return nil, err
	}
	if keep != "" && s.headEnd < 0 {
		return nil, errors.New("inline CSS: rules to keep in a <style> block, and no </head> to put it before")
	}
	n := len(s.tags)
	p := &plan{set: make([][]setAttr, n), drop: make([]bool, n), mark: make([]bool, n), head: keep}
	index := func(node *html.Node) int {
		v, ok := nodeAttr(node, indexAttr)
		i, err := strconv.Atoi(v)
		if !ok || err != nil || i < 0 || i >= n {
			return -1
		}
		return i
	}
	for _, node := range consumed {
		i := index(node)
		if i < 0 {
			return nil, errors.New("inline CSS: a <style> block the scanner did not see")
		}
		p.drop[i] = true
	}
	for node, attrs := range set {
		i := index(node)
		if i < 0 {
			continue // an element the parser added (<tbody>, <head>): not in the mail's bytes
		}
		orig := map[string]string{}
		for _, a := range s.attrs[s.tags[i].attrLo:s.tags[i].attrHi] {
			orig[strings.ToLower(string(s.key(a)))] = html.UnescapeString(string(s.value(a)))
		}
		for _, a := range attrs {
			if v, ok := orig[a.Key]; !ok || v != a.Val {
				p.set[i] = append(p.set[i], setAttr{key: a.Key, written: " " + a.Key + `="` + attrEscaper.Replace(a.Val) + `"`})
			}
		}
	}
	for i, t := range s.tags {
		for _, a := range s.attrs[t.attrLo:t.attrHi] {
			p.mark[i] = p.mark[i] || bytes.EqualFold(s.key(a), []byte(ignoreAttr))
		}
	}
	return p, nil
}

// apply writes the document with the plan's changes: attributes set on
// the elements it names, consumed <style> blocks left out, rules it could
// not inline at the end of the head, the data-premailer marks removed.
// Everything else is the document's own bytes.
func apply(s *scanned, p *plan) string {
	doc := s.doc
	var b strings.Builder
	b.Grow(len(doc) + len(doc)/2)
	pos := 0
	headDone := p.head == "" || s.headEnd < 0
	for i, t := range s.tags {
		if !headDone && s.headEnd < t.start {
			b.Write(doc[pos:s.headEnd])
			writeHeadStyle(&b, p.head)
			pos, headDone = s.headEnd, true
		}
		switch {
		case p.drop[i]:
			b.Write(doc[pos:t.start])
			pos = t.end
			if e := bytes.Index(doc[t.end:], []byte("</style>")); e >= 0 {
				pos += e + len("</style>")
			}
		case p.set[i] != nil || p.mark[i]:
			b.Write(doc[pos:t.start])
			writeTag(&b, s, t, p.set[i])
			pos = t.end
		}
	}
	if !headDone && s.headEnd >= pos {
		b.Write(doc[pos:s.headEnd])
		writeHeadStyle(&b, p.head)
		pos = s.headEnd
	}
	b.Write(doc[pos:])
	return b.String()
}

func writeHeadStyle(b *strings.Builder, css string) {
	b.WriteString(`<style type="text/css">`)
	b.WriteString(css)
	b.WriteString("</style>\n")
}

// writeTag writes t with the attributes in set replacing or following its
// own, which keep their bytes.
func writeTag(b *strings.Builder, s *scanned, t tag, set []setAttr) {
	b.WriteByte('<')
	b.Write(s.name(t))
	var small [8]bool
	done := small[:0]
	if len(set) <= len(small) {
		done = small[:len(set)]
	} else {
		done = make([]bool, len(set))
	}
	for _, a := range s.attrs[t.attrLo:t.attrHi] {
		key := s.key(a)
		if bytes.EqualFold(key, []byte(ignoreAttr)) {
			continue
		}
		replaced := false
		for j, sa := range set {
			if bytes.EqualFold(key, []byte(sa.key)) {
				b.WriteString(sa.written)
				done[j], replaced = true, true
			}
		}
		if !replaced {
			b.WriteByte(' ')
			b.Write(s.doc[a.start:a.end])
		}
	}
	for j, sa := range set {
		if !done[j] {
			b.WriteString(sa.written)
		}
	}
	if t.selfClosing {
		b.WriteString("/")
	}
	b.WriteByte('>')
}

var attrEscaper = strings.NewReplacer("&", "&amp;", `"`, "&#34;", "<", "&lt;", ">", "&gt;")
