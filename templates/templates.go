// Package templates holds the mail templates Phenom sends, for Amazon
// Cognito (the custom email sender trigger) and for Phenom's other services,
// and their registry (Registry, registry.go: the one list of templates, each
// with its data schema and examples), and exports the files as FS, embedded
// in the binary. The files are read by internal/render, which accepts any fs.FS, so
// a preview can read this folder from disk instead.
//
// Layout:
//
//	layout.html     the HTML page around every message, plus shared blocks
//	                ("heading", "code", "secret", "button",
//	                "button-secondary", "note", "detail")
//	layout.txt      the plain-text frame around every message
//	<name>.tmpl     one per template ("ForgotPassword.tmpl", "notice.tmpl"), defining
//	                "subject", "preheader", "html" and "text"
//	locales/*.json  the message catalogue, one file per language
//	                ("en.json", "es.json"): every human-readable string,
//	                used in templates as {{t "key"}} or, with
//	                placeholders, {{t "key" "name" .Value}}
//
// A trigger file is parsed twice: once with html/template (for "html") and
// once with text/template (for "subject" and "text"). The subject is
// executed without user data, so it cannot reference any.
//
// To add a language, copy locales/en.json to locales/<code>.json (an ISO
// 639 code such as "fr") and translate every value, keeping the {name}
// placeholders; the renderer refuses a catalogue with a key missing.
//
// It must not hold logic beyond the templates' own and the registry's
// declarations: the data they see is internal/render's view.
package templates

import (
	"embed"
	"io/fs"
)

//go:embed layout.html layout.txt *.tmpl locales/*.json
var embedded embed.FS

// FS holds layout.html, layout.txt, one <Trigger>.tmpl per trigger and
// the catalogues in locales/.
var FS fs.FS = embedded
