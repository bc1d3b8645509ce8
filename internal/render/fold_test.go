package render

import (
	htmltemplate "html/template"
	"strings"
	"testing"
	texttemplate "text/template"
	"text/template/parse"

	"github.com/Phenom-earth/phenom-mailer/templates"
)

// TestFoldedMatchesUnfolded: with constant actions folded, every template
// in every locale renders exactly what it renders without folding, from
// its samples and from data full of characters HTML escapes. (The locales'
// text templates share parse trees until fold copies them: without the
// copy, the Spanish mails would say what the English ones say.)
func TestFoldedMatchesUnfolded(t *testing.T) {
	folded, err := New(templates.FS, Options{})
	if err != nil {
		t.Fatal(err)
	}
	noFold = true
	plain, err := New(templates.FS, Options{})
	noFold = false
	if err != nil {
		t.Fatal(err)
	}
	hostile := `<b>&amp; "quoted" 'it' +1 {name}` + "\x00 é 🦄"
	n := 0
	for _, name := range Templates {
		for _, loc := range folded.Locales() {
			samples := Samples(name)
			for _, d := range Samples(name) {
				d.Username, d.Email = hostile, "a+"+strings.ReplaceAll(hostile, " ", "")+"@example.com"
				if d.Code != "" {
					d.Code = hostile
				}
				samples = append(samples, d)
			}
			for _, d := range samples {
				d.Locale = loc
				want, err := plain.Render(d)
				if err != nil {
					t.Fatalf("%s %s unfolded: %v", name, loc, err)
				}
				got, err := folded.Render(d)
				if err != nil {
					t.Fatalf("%s %s folded: %v", name, loc, err)
				}
				if got != want {
					t.Errorf("%s in %s: folded templates render differently (subject %v, HTML %v, text %v)",
						name, loc, got.Subject == want.Subject, got.HTML == want.HTML, got.Text == want.Text)
				}
				n++
			}
		}
	}
	if n == 0 {
		t.Fatal("nothing rendered")
	}

	// And folding did fold: no call of t with a constant key is left in
	// the layouts.
	s := folded.sets[ForgotPassword][DefaultLocale]
	for _, tree := range []*parse.Tree{s.html.Lookup(layoutHTML).Tree, s.text.Lookup(layoutText).Tree} {
		if str := tree.Root.String(); strings.Contains(str, `t "layout.brand"`) || strings.Contains(str, `mso "head"`) {
			t.Errorf("%s still calls t or mso with constant arguments", tree.Name)
		}
	}
}

// TestFoldFreshSet: fold on a set that has never rendered (as a lazily
// parsed set is) escapes its HTML first and folds it; its mails are the
// unfolded ones.
func TestFoldFreshSet(t *testing.T) {
	noFold = true
	plain, err := New(templates.FS, Options{})
	noFold = false
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := New(templates.FS, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range Templates {
		for _, loc := range fresh.Locales() {
			tr := newTranslator(fresh.cat[loc])
			tf := map[string]any{"t": tr.t}
			h := htmltemplate.Must(htmltemplate.New(layoutHTML).Funcs(funcs).Funcs(htmlFuncs).ParseFS(templates.FS, layoutHTML, fileName(name)))
			x := texttemplate.Must(texttemplate.New(layoutText).Funcs(funcs).ParseFS(templates.FS, layoutText, fileName(name)))
			s := set{file: fileName(name), html: h.Funcs(tf), text: x.Funcs(tf)}
			s.fold(tr)
			if str := s.html.Lookup(layoutHTML).Tree.Root.String(); strings.Contains(str, `t "layout.brand"`) {
				t.Fatalf("%s %s: the fresh set's HTML was not folded", name, loc)
			}
			fresh.sets[name][loc] = s
			for _, d := range Samples(name) {
				d.Locale = loc
				want, err := plain.Render(d)
				if err != nil {
					t.Fatal(err)
				}
				got, err := fresh.Render(d)
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("%s in %s: a freshly folded set renders differently", name, loc)
				}
			}
		}
	}
}
