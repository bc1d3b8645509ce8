package templates_test

import (
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/Phenom-earth/phenom-mailer/internal/render"
	"github.com/Phenom-earth/phenom-mailer/templates"
)

// TestRegistryRendersEveryTemplate: every template of the registry renders
// in every locale of the catalogue from its example data, and the mail
// shows the examples.
func TestRegistryRendersEveryTemplate(t *testing.T) {
	r, err := render.New(templates.FS, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Locales()) < 2 {
		t.Fatalf("locales %v, want en and es at least", r.Locales())
	}
	for _, tmpl := range templates.Registry {
		for _, loc := range r.Locales() {
			d := render.Example(tmpl.Name)
			d.Locale, d.Email = loc, "ada.lovelace@example.com"
			m, err := r.Render(d)
			if err != nil {
				t.Errorf("%s in %s: %v", tmpl.Name, loc, err)
				continue
			}
			if m.Subject == "" || m.HTML == "" || m.Text == "" {
				t.Errorf("%s in %s: empty part", tmpl.Name, loc)
			}
			for _, v := range shownExamples(tmpl) {
				if !strings.Contains(m.Subject+"\n"+m.Text, v) {
					t.Errorf("%s in %s: neither the subject nor the text shows the example %q", tmpl.Name, loc, v)
				}
			}
		}
	}
}

// shownExamples are the example strings a template's text part shows
// whole: its required strings (Cognito's username is not shown by every
// trigger, so only service templates are held to it) and, for a template
// with a code, the code.
func shownExamples(tmpl templates.Template) []string {
	var out []string
	for _, f := range tmpl.Schema {
		s, _ := f.Example.(string)
		switch {
		case s == "":
		case f.Name == "code" && tmpl.Code:
			out = append(out, s)
		case tmpl.Kind == templates.Service && f.Required && f.Type == templates.String:
			out = append(out, s)
		}
	}
	return out
}

// schemaProblems lists what is wrong with a registry against a template
// file system: a field without an example (or one of the wrong type), a
// template without its file, a catalogue key whose prefix names no
// template.
func schemaProblems(reg []templates.Template, fsys fs.FS, keys []string) []string {
	var out []string
	names := map[string]bool{}
	for _, tmpl := range reg {
		if names[tmpl.Name] {
			out = append(out, fmt.Sprintf("%s: listed twice", tmpl.Name))
		}
		names[tmpl.Name] = true
		if tmpl.Kind != templates.Cognito && tmpl.Kind != templates.Service {
			out = append(out, fmt.Sprintf("%s: kind %q", tmpl.Name, tmpl.Kind))
		}
		if tmpl.Description == "" {
			out = append(out, fmt.Sprintf("%s: no description for the gallery", tmpl.Name))
		}
		if _, err := fs.Stat(fsys, tmpl.File()); err != nil {
			out = append(out, fmt.Sprintf("%s: no template file %s", tmpl.Name, tmpl.File()))
		}
		out = append(out, fieldProblems(tmpl.Name, tmpl.Schema)...)
	}
	for _, k := range keys {
		prefix, _, _ := strings.Cut(k, ".")
		switch prefix {
		case "meta", "layout", "common":
			continue
		}
		if !names[prefix] {
			out = append(out, fmt.Sprintf("catalogue key %q names no template of the registry", k))
		}
	}
	return out
}

func fieldProblems(path string, fields []templates.Field) []string {
	var out []string
	for _, f := range fields {
		p := path + "." + f.Name
		switch f.Type {
		case templates.String, templates.URL:
			s, ok := f.Example.(string)
			switch {
			case !ok || s == "":
				out = append(out, p+": no example")
			case len([]rune(s)) > f.Max():
				out = append(out, p+": example longer than the field's maximum")
			case f.Type == templates.URL && !strings.HasPrefix(s, "https://"):
				out = append(out, p+": example is not an https URL")
			}
		case templates.List:
			l, ok := f.Example.([]string)
			if !ok || len(l) < max(f.MinItems, 1) || (f.MaxItems > 0 && len(l) > f.MaxItems) {
				out = append(out, p+": no example list within its bounds")
			}
		case templates.Object:
			if len(f.Fields) == 0 {
				out = append(out, p+": object without fields")
			}
			out = append(out, fieldProblems(p, f.Fields)...)
		default:
			out = append(out, fmt.Sprintf("%s: unknown type %q", p, f.Type))
		}
	}
	return out
}

func catalogueKeys(t *testing.T) []string {
	var keys []string
	for _, m := range catalogues(t) {
		for k := range m {
			keys = append(keys, k)
		}
	}
	return keys
}

// TestRegistrySchema: every field of every template has an example, every
// template its file and description, and every catalogue key a template.
func TestRegistrySchema(t *testing.T) {
	for _, p := range schemaProblems(templates.Registry, templates.FS, catalogueKeys(t)) {
		t.Error(p)
	}
}

// TestRegistrySchemaCatches: the schema check above fails on a field
// without an example, a nested one too, and on a catalogue key with no
// template, so that it cannot pass vacuously.
func TestRegistrySchemaCatches(t *testing.T) {
	reg := append([]templates.Template(nil), templates.Registry...)
	bad := reg[0]
	bad.Schema = append(append([]templates.Field(nil), bad.Schema...),
		templates.Field{Name: "nickname", Type: templates.String},
		templates.Field{Name: "button", Type: templates.Object, Fields: []templates.Field{{Name: "url", Type: templates.URL, Example: "http://example.com"}}})
	reg[0] = bad
	keys := append(catalogueKeys(t), "Farewell.subject")
	got := strings.Join(schemaProblems(reg, templates.FS, keys), "\n")
	for _, want := range []string{
		bad.Name + ".nickname: no example",
		bad.Name + ".button.url: example is not an https URL",
		`catalogue key "Farewell.subject" names no template`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("schema check missed %q; it said:\n%s", want, got)
		}
	}
}
