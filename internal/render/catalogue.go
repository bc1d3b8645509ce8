package render

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// DefaultLocale is the language used when a user's locale is unknown or
// not shipped. Its catalogue is the reference: every other locale must
// have exactly its keys.
const DefaultLocale = "en"

// localeDir holds one <locale>.json catalogue per language.
const localeDir = "locales"

// Catalogue keys every locale must define besides the templates' strings.
const (
	keyDir  = "meta.dir"  // "ltr" or "rtl", the document's dir attribute
	keyName = "meta.name" // the language's own name, for people (previews)
)

var (
	localeName  = regexp.MustCompile(`^[a-z]{2,3}$`)
	placeholder = regexp.MustCompile(`\{[a-z_]+\}`)
)

// messages is one locale's catalogue: key -> text, with {name}
// placeholders filled by t.
type messages map[string]string

// loadCatalogue reads locales/*.json from fsys and checks that every
// locale has exactly the keys of DefaultLocale, with no empty text and the
// same placeholders, so that a missing translation fails at New rather
// than in a user's inbox.
func loadCatalogue(fsys fs.FS) (map[string]messages, error) {
	entries, err := fs.ReadDir(fsys, localeDir)
	if err != nil {
		return nil, fmt.Errorf("message catalogue: %w", err)
	}
	cat := make(map[string]messages)
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if e.IsDir() || !ok {
			continue
		}
		file := path.Join(localeDir, e.Name())
		if !localeName.MatchString(name) {
			return nil, fmt.Errorf("message catalogue %s: name it after a lower-case ISO 639 language code, such as es.json", file)
		}
		b, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, fmt.Errorf("message catalogue: %w", err)
		}
		var m messages
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("message catalogue %s: %w", file, err)
		}
		cat[name] = m
	}
	ref, ok := cat[DefaultLocale]
	if !ok {
		return nil, fmt.Errorf("message catalogue: %s/%s.json is missing (the fallback language)", localeDir, DefaultLocale)
	}
	var errs []error
	for _, loc := range sortedLocales(cat) {
		m := cat[loc]
		file := path.Join(localeDir, loc+".json")
		for _, key := range sortedKeys(ref) {
			text, ok := m[key]
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("%s lacks %q", file, key))
			case strings.TrimSpace(text) == "":
				errs = append(errs, fmt.Errorf("%s: %q is empty", file, key))
			case !slices.Equal(placeholders(text), placeholders(ref[key])):
				errs = append(errs, fmt.Errorf("%s: %q has placeholders %v, %s has %v",
					file, key, placeholders(text), DefaultLocale, placeholders(ref[key])))
			}
		}
		for _, key := range sortedKeys(m) {
			if _, ok := ref[key]; !ok {
				errs = append(errs, fmt.Errorf("%s has %q, which %s.json lacks", file, key, DefaultLocale))
			}
		}
		for _, key := range []string{keyDir, keyName} {
			if _, ok := m[key]; !ok && loc == DefaultLocale {
				errs = append(errs, fmt.Errorf("%s lacks %q", file, key))
			}
		}
		if d := m[keyDir]; d != "" && d != "ltr" && d != "rtl" {
			errs = append(errs, fmt.Errorf("%s: %q must be \"ltr\" or \"rtl\"", file, keyDir))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("message catalogue: %w", errors.Join(errs...))
	}
	return cat, nil
}

// placeholders returns the sorted, distinct {name} placeholders in s.
func placeholders(s string) []string {
	found := placeholder.FindAllString(s, -1)
	sort.Strings(found)
	return slices.Compact(found)
}

func sortedKeys(m messages) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// sortedLocales lists the locales with DefaultLocale first, then the rest
// in alphabetical order.
func sortedLocales[V any](cat map[string]V) []string {
	locs := make([]string, 0, len(cat))
	for l := range cat {
		if l != DefaultLocale {
			locs = append(locs, l)
		}
	}
	sort.Strings(locs)
	if _, ok := cat[DefaultLocale]; ok {
		locs = append([]string{DefaultLocale}, locs...)
	}
	return locs
}

// compiled is a catalogue text split at its placeholders, for t.
type compiled struct {
	text  string   // the whole text, when it has no placeholders
	parts []string // literal, name, literal, name, ..., literal
}

func compile(text string) compiled {
	locs := placeholder.FindAllStringIndex(text, -1)
	if len(locs) == 0 {
		return compiled{text: text}
	}
	c := compiled{}
	prev := 0
	for _, l := range locs {
		c.parts = append(c.parts, text[prev:l[0]], text[l[0]+1:l[1]-1])
		prev = l[1]
	}
	c.parts = append(c.parts, text[prev:])
	return c
}

// translator is one locale's compiled catalogue; its t method is the
// templates' t function.
type translator map[string]compiled

func newTranslator(m messages) translator {
	tr := make(translator, len(m))
	for k, v := range m {
		tr[k] = compile(v)
	}
	return tr
}

// t looks up key and fills its placeholders from name/value pairs:
// t "layout.footer_reason" "email" .Email. It fails on an unknown key, a
// placeholder left unfilled or a name the text does not have. Errors name
// the key and placeholder, never a value (a value may be a code).
func (tr translator) t(key string, pairs ...string) (string, error) {
	c, ok := tr[key]
	if !ok {
		return "", fmt.Errorf("no message %q in the catalogue", key)
	}
	if len(pairs)%2 != 0 {
		return "", fmt.Errorf("message %q: arguments come in name/value pairs", key)
	}
	if c.parts == nil {
		if len(pairs) > 0 {
			return "", fmt.Errorf("message %q has no placeholder {%s}", key, pairs[0])
		}
		return c.text, nil
	}
	for i := 0; i < len(pairs); i += 2 {
		found := false
		for j := 1; j < len(c.parts); j += 2 {
			found = found || c.parts[j] == pairs[i]
		}
		if !found {
			return "", fmt.Errorf("message %q has no placeholder {%s}", key, pairs[i])
		}
	}
	// One pass over the text, so that a value containing "{name}" is
	// never filled in itself.
	var b strings.Builder
	for j, part := range c.parts {
		if j%2 == 0 {
			b.WriteString(part)
			continue
		}
		filled := false
		for i := 0; i < len(pairs) && !filled; i += 2 {
			if pairs[i] == part {
				b.WriteString(pairs[i+1])
				filled = true
			}
		}
		if !filled {
			return "", fmt.Errorf("message %q: placeholder {%s} is not filled", key, part)
		}
	}
	return b.String(), nil
}

// ResolveLocale maps a user's locale ("es", "es-MX", "es_419", "ES",
// "es-ES,es;q=0.9") to the shipped locale it selects, or DefaultLocale when
// none matches. available lists the shipped locales.
func ResolveLocale(tag string, available []string) string {
	tag = strings.TrimSpace(tag)
	if i := strings.IndexAny(tag, ",;"); i >= 0 {
		tag = tag[:i]
	}
	if i := strings.IndexAny(tag, "-_"); i >= 0 {
		tag = tag[:i]
	}
	tag = strings.ToLower(strings.TrimSpace(tag))
	if slices.Contains(available, tag) {
		return tag
	}
	return DefaultLocale
}
