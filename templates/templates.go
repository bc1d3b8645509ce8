// Package templates holds the mail templates Phenom sends for Amazon Cognito
// (the custom email sender trigger) and exports them as FS, embedded in the
// binary. The files are read by internal/render, which accepts any fs.FS, so
// a preview can read this folder from disk instead.
//
// Layout:
//
//	layout.html     the HTML page around every message, plus shared blocks
//	                ("heading", "code", "secret", "button",
//	                "button-secondary", "detail")
//	layout.txt      the plain-text frame around every message
//	<Trigger>.tmpl  one per trigger ("ForgotPassword.tmpl"), defining
//	                "subject", "preheader", "html" and "text"
//
// A trigger file is parsed twice: once with html/template (for "html") and
// once with text/template (for "subject" and "text"). The subject is
// executed without user data, so it cannot reference any.
package templates

import (
	"embed"
	"io/fs"
)

//go:embed layout.html layout.txt *.tmpl
var embedded embed.FS

// FS holds layout.html, layout.txt and one <Trigger>.tmpl per trigger.
var FS fs.FS = embedded
