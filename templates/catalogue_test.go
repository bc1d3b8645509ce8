package templates_test

import (
	"encoding/json"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"unicode"

	"golang.org/x/net/html"

	"github.com/Phenom-earth/phenom-mailer/internal/render"
	"github.com/Phenom-earth/phenom-mailer/templates"
)

// catalogues reads every locales/*.json straight from the files.
func catalogues(t *testing.T) map[string]map[string]string {
	t.Helper()
	files, err := fs.Glob(templates.FS, "locales/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no catalogues in locales/: %v", err)
	}
	out := map[string]map[string]string{}
	for _, f := range files {
		b, err := fs.ReadFile(templates.FS, f)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[strings.TrimSuffix(path.Base(f), ".json")] = m
	}
	return out
}

// TestCatalogueComplete fails when any locale lacks a key English has, has
// one English lacks, leaves a text empty or changes its placeholders.
func TestCatalogueComplete(t *testing.T) {
	cats := catalogues(t)
	en, ok := cats["en"]
	if !ok {
		t.Fatal("locales/en.json is missing")
	}
	if _, ok := cats["es"]; !ok {
		t.Error("locales/es.json is missing: Spanish ships")
	}
	ph := regexp.MustCompile(`\{[a-z_]+\}`)
	for loc, m := range cats {
		for key, want := range en {
			got, ok := m[key]
			if !ok {
				t.Errorf("locales/%s.json lacks %q", loc, key)
				continue
			}
			if strings.TrimSpace(got) == "" {
				t.Errorf("locales/%s.json: %q is empty", loc, key)
			}
			if a, b := sorted(ph.FindAllString(got, -1)), sorted(ph.FindAllString(want, -1)); a != b {
				t.Errorf("locales/%s.json: %q has placeholders %s, en has %s", loc, key, a, b)
			}
		}
		for key := range m {
			if _, ok := en[key]; !ok {
				t.Errorf("locales/%s.json has %q, which en.json lacks", loc, key)
			}
		}
	}
}

func sorted(s []string) string { sort.Strings(s); return strings.Join(s, " ") }

var tCall = regexp.MustCompile(`\bt\s+"([^"]*)"`)

// TestCatalogueKeysUsed fails when a template asks for a key no catalogue
// has, and when a catalogue keeps a key no template uses (a dead string
// someone would go on translating).
func TestCatalogueKeysUsed(t *testing.T) {
	en := catalogues(t)["en"]
	used := map[string]bool{}
	files, _ := fs.Glob(templates.FS, "*.tmpl")
	files = append(files, "layout.html", "layout.txt")
	for _, f := range files {
		b, err := fs.ReadFile(templates.FS, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range tCall.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
			if _, ok := en[m[1]]; !ok {
				t.Errorf("%s uses %q, which is not in the catalogue", f, m[1])
			}
		}
	}
	// The layout's footer line is "layout.footer_reason" or, for a
	// template whose block has one, "<Name>.footer_reason"
	// (render's view.FooterReason).
	used["layout.footer_reason"] = true
	for _, tmpl := range templates.Registry {
		used[tmpl.Name+".footer_reason"] = true
	}
	for key := range en {
		if !used[key] && !strings.HasPrefix(key, "meta.") {
			t.Errorf("catalogue key %q is used by no template", key)
		}
	}
}

// TestNoTextOutsideCatalogue fails when a template writes a word itself
// instead of taking it from the catalogue: it renders every message from a
// catalogue whose every text is a marker, and looks for letters that are
// neither a marker nor the sample data.
func TestNoTextOutsideCatalogue(t *testing.T) {
	probe := fstest.MapFS{}
	err := fs.WalkDir(templates.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templates.FS, p)
		probe[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ph := regexp.MustCompile(`\{[a-z_]+\}`)
	for loc, m := range catalogues(t) {
		marked := map[string]string{}
		for key, text := range m {
			switch {
			case strings.HasPrefix(key, "meta."):
				marked[key] = text
			default:
				// Keep the placeholders, so that t still fills them.
				marked[key] = "⟦" + strings.Join(append([]string{key}, ph.FindAllString(text, -1)...), "⟧⟦") + "⟧"
			}
		}
		b, _ := json.Marshal(marked)
		probe["locales/"+loc+".json"] = &fstest.MapFile{Data: b}
	}
	r, err := render.New(probe, render.Options{})
	if err != nil {
		t.Fatalf("New over the marker catalogue: %v", err)
	}
	marker := regexp.MustCompile(`⟦[^⟧]*⟧`)
	for _, trigger := range render.Triggers {
		for _, d := range render.Samples(trigger) {
			for i, loc := range []string{"en", "es"} {
				d.Locale = loc
				d.Username = []string{"", "sample-user"}[i] // with and without optional fields
				m, err := r.Render(d)
				if err != nil {
					t.Fatal(err)
				}
				data := []string{d.Email, d.Username, d.Code, render.DefaultSupportEmail,
					"mailto:" + render.DefaultSupportEmail, render.ResetLink(render.DefaultResetURL, d.Code, d.Email, d.ClientID)}
				if to := d.Takeover; to != nil {
					data = append(data, to.EventID, to.LoginTime, to.IPAddress, to.City, to.Country,
						to.DeviceName, to.OneClickValidURL, to.OneClickInvalidURL)
				}
				// Longest first, so that a link goes before the code in it.
				sort.Slice(data, func(i, j int) bool { return len(data[i]) > len(data[j]) })
				for part, text := range map[string]string{
					"subject": m.Subject,
					"HTML":    strings.Join(htmlText(t, m.HTML), "\n"),
					"text":    m.Text,
				} {
					text = marker.ReplaceAllString(text, " ")
					for _, v := range data {
						if v != "" {
							text = strings.ReplaceAll(text, v, " ")
						}
					}
					if i := strings.IndexFunc(text, unicode.IsLetter); i >= 0 {
						t.Errorf("%s: the %s part has text that is not in the catalogue: %q",
							trigger, part, strings.TrimSpace(text[max(0, i-20):min(len(text), i+40)]))
					}
				}
			}
		}
	}
}

// htmlText returns what a reader can see or hear in an HTML document: text
// nodes outside <style>, and alt, title and aria-label attributes.
func htmlText(t *testing.T, doc string) []string {
	t.Helper()
	root, err := html.Parse(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.TextNode:
			out = append(out, n.Data)
		case html.ElementNode:
			if n.Data == "style" || n.Data == "script" {
				return
			}
			for _, a := range n.Attr {
				if a.Key == "alt" || a.Key == "title" || a.Key == "aria-label" {
					out = append(out, a.Val)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return out
}
