package render

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/Phenom-earth/phenom-mailer/templates"
)

// checkValues checks a service template's data against its schema and
// returns it cleaned: strings valid UTF-8 with control characters (line
// breaks too) turned into spaces and trimmed, so that no value can break
// the one-line subject. Escaping for HTML is the templates' job. Every
// problem is reported, each with its path ("data.button.url: must be
// https"), wrapped in ErrInvalidData; an error never quotes a value.
func checkValues(path string, schema []templates.Field, in map[string]any) (map[string]any, error) {
	var errs []error
	out := map[string]any{}
	known := map[string]bool{}
	for _, f := range schema {
		known[f.Name] = true
		p := path + "." + f.Name
		v, ok := in[f.Name]
		if !ok || v == nil {
			if f.Required {
				errs = append(errs, fmt.Errorf("%s: required", p))
			}
			continue
		}
		switch f.Type {
		case templates.String, templates.URL:
			s, err := checkString(p, f, v)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if s == "" && f.Required {
				errs = append(errs, fmt.Errorf("%s: required", p))
				continue
			}
			out[f.Name] = s
		case templates.List:
			var items []any
			switch l := v.(type) {
			case []any:
				items = l
			case []string:
				for _, s := range l {
					items = append(items, s)
				}
			default:
				errs = append(errs, fmt.Errorf("%s: must be a list of strings", p))
				continue
			}
			if len(items) < f.MinItems || (f.MaxItems > 0 && len(items) > f.MaxItems) {
				errs = append(errs, fmt.Errorf("%s: must hold %d to %d items", p, f.MinItems, f.MaxItems))
				continue
			}
			var list []string
			for i, it := range items {
				s, err := checkString(fmt.Sprintf("%s[%d]", p, i), templates.Field{Type: templates.String, MaxLength: f.MaxLength}, it)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				list = append(list, s)
			}
			out[f.Name] = list
		case templates.Object:
			m, ok := v.(map[string]any)
			if !ok {
				errs = append(errs, fmt.Errorf("%s: must be an object", p))
				continue
			}
			sub, err := checkValues(p, f.Fields, m)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out[f.Name] = sub
		default:
			errs = append(errs, fmt.Errorf("%s: schema type %q unknown", p, f.Type))
		}
	}
	for k := range in {
		if !known[k] {
			errs = append(errs, fmt.Errorf("%s.%s: not a field of this template", path, truncateName(k)))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalidData, errors.Join(errs...))
	}
	return out, nil
}

func checkString(p string, f templates.Field, v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s: must be a string", p)
	}
	if utf8.RuneCountInString(s) > f.Max() {
		return "", fmt.Errorf("%s: longer than %d characters", p, f.Max())
	}
	s = cleanValue(s)
	if f.Type == templates.URL {
		u, err := url.Parse(s)
		if err != nil || u.Scheme != "https" || u.Host == "" || strings.ContainsAny(s, " ") {
			return "", fmt.Errorf("%s: must be an absolute https URL", p)
		}
	}
	return s, nil
}

// cleanValue makes a caller's value fit to show: valid UTF-8, control
// characters and line or paragraph separators turned into spaces, trimmed.
func cleanValue(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// truncateName bounds an unknown field's name in an error.
func truncateName(k string) string {
	if len(k) > 40 {
		return strings.ToValidUTF8(k[:40], "") + "..."
	}
	return k
}

// CheckData checks a service template's data against its registry schema
// exactly as Render will, so that a request can be refused with every
// problem before anything is claimed or sent. The error wraps
// ErrInvalidData and joins one error per problem, each starting with its
// field path; ErrUnknownTrigger when name is not a service template.
func CheckData(name string, values map[string]any) error {
	t, ok := templates.Lookup(name)
	if !ok || t.Kind != templates.Service {
		return fmt.Errorf("render %q: %w", name, ErrUnknownTrigger)
	}
	_, err := checkValues("data", t.Schema, values)
	return err
}
