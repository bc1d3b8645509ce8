package render

import (
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"sync"
	texttemplate "text/template"
)

// lazySets parses a trigger's templates on its first Render
// (Options.Lazy) instead of every trigger's in New: a cold start that
// sends one mail parses one template file, not all of them.
type lazySets struct {
	byTrigger map[string]*lazyTrigger // every trigger of Templates; read-only after New
	newSets   func(trigger string) (map[string]set, error)
}

type lazyTrigger struct {
	once sync.Once
	sets map[string]set // locale -> templates
	err  error
}

// setsFor is trigger's templates by locale: parsed in New, or on first use
// under Options.Lazy. ok is false for a trigger that is not in Templates.
func (r *Renderer) setsFor(trigger string) (map[string]set, bool, error) {
	if r.lazy == nil {
		byLocale, ok := r.sets[trigger]
		return byLocale, ok, nil
	}
	lt, ok := r.lazy.byTrigger[trigger]
	if !ok {
		return nil, false, nil
	}
	lt.once.Do(func() { lt.sets, lt.err = r.lazy.newSets(trigger) })
	return lt.sets, true, lt.err
}

// parseSets parses trigger's file on clones of the layouts, once as HTML
// and once as text, and clones the result for each locale with that
// locale's translator, its constant actions folded.
func (r *Renderer) parseSets(fsys fs.FS, baseHTML *htmltemplate.Template, baseText *texttemplate.Template, trigger string) (map[string]set, error) {
	file := fileName(trigger)
	h, err := baseHTML.Clone()
	if err != nil {
		return nil, fmt.Errorf("render: %s: %w", file, err)
	}
	if h, err = h.ParseFS(fsys, file); err != nil {
		return nil, fmt.Errorf("render: parse %s as HTML: %w", file, err)
	}
	t, err := baseText.Clone()
	if err != nil {
		return nil, fmt.Errorf("render: %s: %w", file, err)
	}
	if t, err = t.ParseFS(fsys, file); err != nil {
		return nil, fmt.Errorf("render: parse %s as text: %w", file, err)
	}
	for _, name := range []string{"subject", "html", "text"} {
		if t.Lookup(name) == nil {
			return nil, fmt.Errorf("render: %s does not define %q", file, name)
		}
	}
	sets := make(map[string]set, len(r.locales))
	for _, loc := range r.locales {
		tr := newTranslator(r.cat[loc])
		tf := map[string]any{"t": tr.t}
		hl, err := h.Clone()
		if err != nil {
			return nil, fmt.Errorf("render: %s: %w", file, err)
		}
		tl, err := t.Clone()
		if err != nil {
			return nil, fmt.Errorf("render: %s: %w", file, err)
		}
		s := set{file: file, html: hl.Funcs(tf), text: tl.Funcs(tf)}
		if !noFold {
			// The constant actions become text once, here, for New and
			// for Options.Lazy alike (fold.go).
			s.fold(tr)
		}
		sets[loc] = s
	}
	return sets, nil
}

// newLazy prepares r to parse each trigger on first use.
func (r *Renderer) newLazy(fsys fs.FS, baseHTML *htmltemplate.Template, baseText *texttemplate.Template) {
	r.lazy = &lazySets{byTrigger: make(map[string]*lazyTrigger, len(Templates))}
	for _, trigger := range Templates {
		r.lazy.byTrigger[trigger] = &lazyTrigger{}
	}
	r.lazy.newSets = func(trigger string) (map[string]set, error) {
		return r.parseSets(fsys, baseHTML, baseText, trigger)
	}
}

// Prepare readies trigger's mail in locale for a Render to come, for a
// caller with time to spare (the mailer while KMS decrypts the code): it
// renders the trigger's first sample once, which parses the template (under
// Lazy), does html/template's escaping and plans the CSS inlining of that
// structure. Only the first call per trigger and locale does anything;
// errors are left for Render to report.
func (r *Renderer) Prepare(trigger, locale string) {
	samples := Samples(trigger)
	if !r.known(trigger) || len(samples) == 0 {
		return
	}
	d := samples[0]
	d.Locale = ResolveLocale(locale, r.locales)
	if _, done := r.prepared.LoadOrStore(d.Trigger+"\x00"+d.Locale, true); done {
		return
	}
	_, _ = r.Render(d)
}

// known reports whether trigger is one of Templates.
func (r *Renderer) known(trigger string) bool {
	if r.lazy != nil {
		_, ok := r.lazy.byTrigger[trigger]
		return ok
	}
	_, ok := r.sets[trigger]
	return ok
}
