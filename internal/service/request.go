package service

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/Phenom-earth/phenom-mailer/internal/pipeline"
	"github.com/Phenom-earth/phenom-mailer/internal/render"
	"github.com/Phenom-earth/phenom-mailer/internal/send"
	"github.com/Phenom-earth/phenom-mailer/templates"
)

// MaxRequestSize bounds a request's JSON.
const MaxRequestSize = 64 << 10

// Limits of a request's other fields.
const (
	MaxIdempotencyKey = 256 // characters, printable ASCII
	maxLocale         = 35  // a BCP 47 tag with extensions
	// SES email tags: at most 50 per message, names and values of ASCII
	// letters, digits, '_', '-', '.' and '@', at most 256 characters
	// (SES API reference, MessageTag).
	maxTags     = 50
	maxTagChars = 256
)

// Tag names the service sets itself; a request may not.
const (
	TagService     = "service"
	TagTemplate    = "template"
	TagEnvironment = "environment"
)

// Request is one mail a service asks for: the same JSON on every entry
// point (the send queue, the function URL, `mailer send`).
type Request struct {
	Template       string            `json:"template"`
	To             string            `json:"to"`
	Locale         string            `json:"locale,omitempty"`
	Data           map[string]any    `json:"data"`
	IdempotencyKey string            `json:"idempotency_key,omitempty"`
	Tags           map[string]string `json:"tags,omitempty"`
}

// InvalidError is a request that cannot be sent, with every problem found,
// each starting with its field path ("data.button.url: must be an
// absolute https URL"). No problem quotes a value the caller sent.
type InvalidError struct {
	Reason   string // request_invalid, unknown_template or email_invalid
	Problems []string
}

func (e *InvalidError) Error() string {
	return "invalid request: " + strings.Join(e.Problems, "; ")
}

// Decode parses a request's JSON: at most MaxRequestSize bytes, one JSON
// object, no unknown fields. It does not check the request against its
// template (Validate does).
func Decode(body []byte) (*Request, error) {
	if len(body) > MaxRequestSize {
		return nil, &InvalidError{Reason: reasonRequestInvalid, Problems: []string{fmt.Sprintf("request: %d bytes, over the %d-byte limit", len(body), MaxRequestSize)}}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var r Request
	if err := dec.Decode(&r); err != nil {
		return nil, &InvalidError{Reason: reasonRequestInvalid, Problems: []string{"request: " + jsonProblem(err)}}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &InvalidError{Reason: reasonRequestInvalid, Problems: []string{"request: more than one JSON value"}}
	}
	return &r, nil
}

// jsonProblem describes a decoding error without quoting the input.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("not valid JSON (at byte %d)", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("%s: must be %s", te.Field, te.Type.String())
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + truncate(strings.TrimPrefix(err.Error(), "json: unknown field "), 60)
	case errors.Is(err, io.EOF):
		return "empty"
	}
	return "not valid JSON"
}

// Validate checks the whole request and reports every problem at once: the
// template, the address, the locale, the data against the template's
// schema, the idempotency key and the tags.
func Validate(r *Request) error {
	var problems []string
	reason := reasonRequestInvalid
	t, ok := templates.Lookup(r.Template)
	switch {
	case r.Template == "":
		problems = append(problems, "template: required")
	case !ok || t.Kind != templates.Service:
		reason = reasonUnknownTemplate
		problems = append(problems, fmt.Sprintf("template: unknown template %q (service templates: %s)", truncate(r.Template, 60), strings.Join(templates.Names(templates.Service), ", ")))
	}
	if r.To == "" {
		problems = append(problems, "to: required")
	} else if _, err := send.SESRecipient(r.To); err != nil {
		problems = append(problems, "to: not one address SES can send to")
	}
	if len(r.Locale) > maxLocale || strings.ContainsFunc(r.Locale, func(c rune) bool {
		return !(c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9')
	}) {
		problems = append(problems, "locale: must be a language tag such as \"es\" or \"pt-BR\"")
	}
	if ok && t.Kind == templates.Service {
		if err := render.CheckData(r.Template, r.Data); err != nil {
			problems = append(problems, flatten(err)...)
		}
	}
	if k := r.IdempotencyKey; utf8.RuneCountInString(k) > MaxIdempotencyKey || strings.ContainsFunc(k, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
		problems = append(problems, fmt.Sprintf("idempotency_key: at most %d printable ASCII characters, no spaces", MaxIdempotencyKey))
	}
	problems = append(problems, checkTags(r.Tags)...)
	if len(problems) == 0 {
		return nil
	}
	if reason == reasonRequestInvalid && len(problems) == 1 && strings.HasPrefix(problems[0], "to: ") {
		reason = reasonEmailInvalid
	}
	return &InvalidError{Reason: reason, Problems: problems}
}

// checkTags checks the caller's tags against SES's rules for email tags.
func checkTags(tags map[string]string) []string {
	var problems []string
	if len(tags) > maxTags-2 { // template and environment are added
		problems = append(problems, fmt.Sprintf("tags: at most %d tags", maxTags-2))
	}
	for _, name := range sortedKeys(tags) {
		p := "tags." + truncate(name, 60)
		switch {
		case name == TagTemplate || name == TagEnvironment:
			problems = append(problems, p+": set by the mailer, not the caller")
		case !tagChars(name):
			problems = append(problems, p+": a tag name may hold only ASCII letters, digits, '_', '-', '.' and '@', 1 to 256 of them")
		case !tagChars(tags[name]):
			problems = append(problems, p+": a tag value may hold only ASCII letters, digits, '_', '-', '.' and '@', 1 to 256 of them")
		}
	}
	return problems
}

func tagChars(s string) bool {
	if s == "" || len(s) > maxTagChars {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '@') {
			return false
		}
	}
	return true
}

// flatten turns a joined validation error into one line per problem,
// without the wrapping "render ...: invalid data:" prefixes.
func flatten(err error) []string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			if errors.Is(e, render.ErrInvalidData) && e.Error() == render.ErrInvalidData.Error() {
				continue
			}
			out = append(out, flatten(e)...)
		}
		return out
	}
	if w := errors.Unwrap(err); w != nil && strings.HasPrefix(err.Error(), render.ErrInvalidData.Error()+": ") {
		return flatten(w)
	}
	return strings.Split(err.Error(), "\n")
}

// Fingerprint is the hash of what the request asks for (template,
// recipient, locale, data, tags), the same for the same request however
// its JSON was laid out: an idempotency key that comes back with another
// fingerprint is a conflict.
func Fingerprint(r *Request) string {
	// encoding/json writes map keys sorted: the encoding is canonical.
	b, _ := json.Marshal(struct {
		Template string            `json:"template"`
		To       string            `json:"to"`
		Locale   string            `json:"locale"`
		Data     map[string]any    `json:"data"`
		Tags     map[string]string `json:"tags"`
	}{r.Template, strings.ToLower(r.To), r.Locale, r.Data, r.Tags})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func truncate(s string, n int) string { return pipeline.Truncate(s, n) }
