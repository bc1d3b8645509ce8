// Package render turns one Cognito custom email sender request into a mail
// message: a one-line subject, an HTML part and a plain-text part, from
// templates read out of any fs.FS (the embedded templates package in
// production, a folder on disk for previews, fstest.MapFS in tests).
//
// HTML goes through html/template, so every user-supplied value is escaped
// for its context, then its CSS is inlined; the subject and the
// text part go through text/template. Every human-readable string comes
// from a message catalogue per language (locales/<locale>.json in the same
// fs.FS), chosen by Data.Locale with English as the fallback.
//
// It must not know AWS, Lambda, the event's encryption or environment
// variables: it gets plain Data and an fs.FS.
package render

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"net/url"
	"slices"
	"strings"
	"sync"
	texttemplate "text/template"
	"unicode/utf8"

	"github.com/Phenom-earth/phenom-mailer/templates"
)

// Trigger names are the trigger source after "CustomEmailSender_".
const (
	SignUp                      = "SignUp"
	ResendCode                  = "ResendCode"
	ForgotPassword              = "ForgotPassword"
	UpdateUserAttribute         = "UpdateUserAttribute"
	VerifyUserAttribute         = "VerifyUserAttribute"
	AdminCreateUser             = "AdminCreateUser"
	AccountTakeOverNotification = "AccountTakeOverNotification"
	Authentication              = "Authentication"
)

// Triggers lists the eight Cognito trigger names in registry order
// (templates.Registry is their one source).
var Triggers = templates.Names(templates.Cognito)

// Templates lists every template's name in registry order: the Cognito
// triggers, then the service templates.
var Templates = templates.Names("")

// Errors Render returns for bad input, to test with errors.Is. A retry
// cannot fix any of them.
var (
	ErrUnknownTrigger = errors.New("unknown trigger")
	ErrMissingCode    = errors.New("missing code")
	ErrMissingEmail   = errors.New("missing email")
	ErrInvalidData    = errors.New("invalid data")
)

// Data is what one message is rendered from.
type Data struct {
	Trigger  string // one of the names above
	Locale   string // the user's locale ("es", "es-MX"); see ResolveLocale. Unknown or empty: English
	Email    string // the recipient (userAttributes.email)
	Username string // Cognito userName (for AdminCreateUser the sign-in name)
	Code     string // the decrypted code, or the temporary password for AdminCreateUser; "" for AccountTakeOverNotification
	// ClientID is the app client the reset link names (its cid parameter),
	// so that the reset page confirms against the pool the code came from.
	// "" leaves cid out. ForgotPassword only.
	ClientID string
	Takeover *Takeover // only for AccountTakeOverNotification
	// Values is a service template's data, the shape its registry schema
	// declares (strings, lists of strings, objects); nil for Cognito mails.
	Values map[string]any
}

// Takeover holds the details of an AccountTakeOverNotification. Empty fields
// are left out of the message.
type Takeover struct {
	EventID, LoginTime, IPAddress, City, Country, DeviceName string
	Action                                                   string // BLOCK, NO_ACTION, MFA, MFA_IF_CONFIGURED, MFA_REQUIRED
	OneClickValidURL, OneClickInvalidURL                     string // "this was me" / "this was not me" links, may be ""
}

// Message is a rendered mail. Text uses "\n" line endings.
type Message struct{ Subject, HTML, Text string }

// Options configures a Renderer. Zero fields take their defaults.
type Options struct {
	ResetURL     string // default "https://www.thephenom.app/reset-password"
	SupportEmail string // default "support@thephenom.app"
	// WebAppURL is the web app the welcome mail links to (default
	// "https://www.thephenom.app", the sign-in redirect of the prod pool).
	WebAppURL string
	// AppStoreURL and PlayStoreURL are the mobile app's store pages the
	// welcome mail links to; "" leaves that link out (no default: the
	// listings are not published in anything this project reads).
	AppStoreURL, PlayStoreURL string
	// Lazy parses each trigger's template on its first Render instead of
	// every template in New, and skips New's trial run (lazy.go): for a
	// cold start that sends one mail. A broken template then fails its
	// first Render (the tests render every one) instead of New.
	Lazy bool
}

// Defaults for Options.
const (
	DefaultResetURL     = "https://www.thephenom.app/reset-password"
	DefaultSupportEmail = "support@thephenom.app"
	DefaultWebAppURL    = "https://www.thephenom.app"
)

// Template file names inside the fs.FS.
const (
	layoutHTML = "layout.html"
	layoutText = "layout.txt"
)

// fileName is the template file for a trigger: "ForgotPassword.tmpl".
func fileName(trigger string) string { return trigger + ".tmpl" }

// needsCode reports whether a template's message carries a code (or a
// temporary password): the registry's Code.
func needsCode(name string) bool {
	t, _ := templates.Lookup(name)
	return t.Code
}

// Renderer renders messages from parsed templates. It is safe for
// concurrent use.
type Renderer struct {
	opts    Options
	locales []string                     // DefaultLocale first
	cat     map[string]messages          // locale -> catalogue
	sets    map[string]map[string]set    // trigger -> locale -> templates
	inl     inliner                      // CSS inlining, memoised per document structure
	inline  func(string) (string, error) // inl.inline; tests look at the document before it
	lazy    *lazySets                    // Options.Lazy: sets parsed on first use
	// prepared holds trigger+"\x00"+locale for each Prepare done.
	prepared sync.Map
}

// set is one trigger's parsed templates in one locale.
type set struct {
	file string
	html *htmltemplate.Template // executes layoutHTML
	text *texttemplate.Template // executes layoutText and "subject"
}

// funcs are available to every template, HTML and text alike (a trigger
// file is parsed by both engines, so both must know every name).
var funcs = map[string]any{
	// t "key" ["name" value]... is the catalogue text for key in the
	// message's locale, placeholders filled. This stub is replaced per
	// locale before any template runs.
	"t": func(key string, _ ...string) (string, error) {
		return "", fmt.Errorf("message %q: no locale", key)
	},
	// link "URL" "Label" is the argument of the "button" blocks.
	"link": func(url, label string) button { return button{URL: url, Label: label} },
	// row "Label" value is the argument of the "detail", "code" and
	// "secret" blocks.
	"row": func(label, value string) detail { return detail{Label: label, Value: value} },
}

// htmlFuncs are available to layout.html only: markup for Outlook desktop
// that html/template would otherwise strip (see inline.go).
var htmlFuncs = map[string]any{
	"mso":             mso,
	"vmlButton":       vmlButton,
	"preheaderSpacer": preheaderSpacer,
}

type button struct{ URL, Label string }
type detail struct{ Label, Value string }

// New parses layout.html, layout.txt, one <Trigger>.tmpl per trigger and
// the catalogues locales/<locale>.json from fsys, then renders every
// trigger in every locale from sample data so that a broken template or a
// missing translation fails here, with its file named, rather than on a
// real request.
func New(fsys fs.FS, opts Options) (*Renderer, error) {
	if fsys == nil {
		return nil, errors.New("render: no template file system")
	}
	if opts.ResetURL == "" {
		opts.ResetURL = DefaultResetURL
	}
	if opts.SupportEmail == "" {
		opts.SupportEmail = DefaultSupportEmail
	}
	if u, err := url.Parse(opts.ResetURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("render: reset URL %q is not an absolute http(s) URL", opts.ResetURL)
	}
	if opts.WebAppURL == "" {
		opts.WebAppURL = DefaultWebAppURL
	}
	for name, v := range map[string]string{"web app": opts.WebAppURL, "App Store": opts.AppStoreURL, "Google Play": opts.PlayStoreURL} {
		if u, err := url.Parse(v); v != "" && (err != nil || u.Scheme != "https" || u.Host == "") {
			return nil, fmt.Errorf("render: %s URL %q is not an absolute https URL", name, v)
		}
	}
	if at := strings.IndexByte(opts.SupportEmail, '@'); at <= 0 || at == len(opts.SupportEmail)-1 ||
		strings.ContainsAny(opts.SupportEmail, " \t\r\n<>\"") {
		return nil, fmt.Errorf("render: support email %q is not an email address", opts.SupportEmail)
	}

	cat, err := loadCatalogue(fsys)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	baseHTML, err := htmltemplate.New(layoutHTML).Funcs(funcs).Funcs(htmlFuncs).ParseFS(fsys, layoutHTML)
	if err != nil {
		return nil, fmt.Errorf("render: parse %s: %w", layoutHTML, err)
	}
	baseText, err := texttemplate.New(layoutText).Funcs(funcs).ParseFS(fsys, layoutText)
	if err != nil {
		return nil, fmt.Errorf("render: parse %s: %w", layoutText, err)
	}
	if baseHTML.Lookup(layoutHTML) == nil || baseText.Lookup(layoutText) == nil {
		return nil, errors.New("render: layout files must define \"layout.html\" and \"layout.txt\"")
	}

	r := &Renderer{
		opts:    opts,
		locales: sortedLocales(cat),
		cat:     cat,
		sets:    make(map[string]map[string]set, len(Templates)),
	}
	r.inline = r.inl.inline
	if opts.Lazy {
		r.newLazy(fsys, baseHTML, baseText)
		return r, nil
	}
	for _, trigger := range Templates {
		if r.sets[trigger], err = r.parseSets(fsys, baseHTML, baseText, trigger); err != nil {
			return nil, err
		}
	}

	// A trial run catches what parsing cannot: unknown fields, calls to
	// undefined blocks, unknown catalogue keys, HTML escaping errors, bad
	// subjects. It also does html/template's one-time escaping work up
	// front. It only scans the HTML for the inliner: the cascade's first
	// pass over a structure costs a millisecond or so, so each structure's
	// first real mail pays it, not the cold start.
	r.inline = func(doc string) (string, error) {
		_, err := scan([]byte(doc))
		return doc, err
	}
	defer func() { r.inline = r.inl.inline }()
	for _, trigger := range Templates {
		for _, loc := range r.locales {
			for _, d := range Samples(trigger) {
				d.Locale = loc
				if _, err := r.Render(d); err != nil {
					return nil, fmt.Errorf("render: trial run of %s in %q: %w", fileName(trigger), loc, err)
				}
			}
		}
	}
	return r, nil
}

// Locales lists the shipped locales, DefaultLocale first.
func (r *Renderer) Locales() []string { return slices.Clone(r.locales) }

// LocaleName is the language's own name for loc ("Español"), for people.
func (r *Renderer) LocaleName(loc string) string { return r.cat[loc][keyName] }

// Samples returns made-up data for trigger that, taken together, reaches
// every branch of its template: for AccountTakeOverNotification one Data
// per action wording. Nothing in it is a real address, code or link.
func Samples(trigger string) []Data {
	if t, _ := templates.Lookup(trigger); t.Kind == templates.Service {
		d := Example(trigger)
		d.Locale, d.Email = DefaultLocale, "sample@example.com"
		return []Data{d}
	}
	d := Data{
		Trigger:  trigger,
		Locale:   DefaultLocale,
		Email:    "sample@example.com",
		Username: "sample-user",
		Code:     "000000",
	}
	if trigger == ForgotPassword {
		d.ClientID = "sampleclient0000000000000"
	}
	if trigger != AccountTakeOverNotification {
		return []Data{d}
	}
	var out []Data
	for _, action := range []string{"BLOCK", "MFA", "NO_ACTION"} {
		d.Code = ""
		d.Takeover = &Takeover{
			EventID:            "sample-event",
			LoginTime:          "2000-01-01 00:00:00 UTC",
			IPAddress:          "192.0.2.1",
			City:               "Sample City",
			Country:            "Sample Country",
			DeviceName:         "Sample Device",
			Action:             action,
			OneClickValidURL:   "https://example.com/valid",
			OneClickInvalidURL: "https://example.com/invalid",
		}
		out = append(out, d)
	}
	return out
}

// Example returns the registry's example data for the template called
// name (templates.Registry): what the preview shows. Email and Locale are
// left for the caller.
func Example(name string) Data {
	t, _ := templates.Lookup(name)
	ex := func(field string) string { return templates.Example(name, field) }
	d := Data{Trigger: name, Username: ex("username"), Code: ex("code")}
	switch {
	case name == ForgotPassword:
		d.ClientID = ex("client_id")
	case name == AccountTakeOverNotification:
		d.Takeover = &Takeover{
			EventID:            ex("event_id"),
			LoginTime:          ex("login_time"),
			IPAddress:          ex("ip_address"),
			City:               ex("city"),
			Country:            ex("country"),
			DeviceName:         ex("device_name"),
			Action:             ex("action"),
			OneClickValidURL:   ex("one_click_valid"),
			OneClickInvalidURL: ex("one_click_invalid"),
		}
	case t.Kind == templates.Service:
		d.Code = ""
		d.Values = exampleValues(t.Schema)
	}
	return d
}

// exampleValues builds a data object from the schema's examples, the shape
// a caller sends.
func exampleValues(fields []templates.Field) map[string]any {
	out := map[string]any{}
	for _, f := range fields {
		switch {
		case f.Type == templates.Object:
			out[f.Name] = exampleValues(f.Fields)
		case f.Example != nil:
			out[f.Name] = f.Example
		}
	}
	return out
}

// view is what the HTML and text templates see. The subject template sees
// none of it: it runs on an empty struct so that it cannot show user data.
type view struct {
	Lang          string   // the locale rendered, for <html lang>
	Dir           string   // "ltr" or "rtl", for <html dir>
	Subject       string   // the rendered subject, for the HTML <title>
	Email         string   // the recipient
	Username      string   // Cognito userName
	Code          string   // the code or temporary password
	ResetLink     string   // ForgotPassword only: ResetLink(ResetURL, Code, Email, ClientID)
	SupportEmail  string   // where to write for help
	SupportMailto string   // "mailto:" + SupportEmail, for href
	Takeover      Takeover // AccountTakeOverNotification only; zero otherwise
	Place         string   // Takeover City and Country, comma separated, empty ones left out
	Outcome       string   // what Cognito did: "blocked", "challenged", "allowed" or "" (unknown)
	// Data is a service template's data (Data.Values, checked against its
	// schema and cleaned); nil for Cognito mails.
	Data map[string]any
	// FooterReason is the catalogue key of the footer's "why you received
	// this" line: "<Name>.footer_reason" when the template's catalogue
	// block has one, else "layout.footer_reason".
	FooterReason string
	// WebAppURL, AppStoreURL and PlayStoreURL are Options' links ("" when
	// not configured), for the welcome mail.
	WebAppURL, AppStoreURL, PlayStoreURL string
}

// subjectView is what a service template's subject sees: its data and
// nothing else. A Cognito subject sees nothing.
type subjectView struct{ Data map[string]any }

// Render renders the message for d in the locale ResolveLocale picks for
// d.Locale. Errors name the trigger and template file, never the code or
// the body.
func (r *Renderer) Render(d Data) (Message, error) {
	byLocale, ok, err := r.setsFor(d.Trigger)
	if !ok {
		return Message{}, fmt.Errorf("render %q: %w", d.Trigger, ErrUnknownTrigger)
	}
	if err != nil {
		return Message{}, err
	}
	if d.Email == "" {
		return Message{}, fmt.Errorf("render %s: %w", d.Trigger, ErrMissingEmail)
	}
	if needsCode(d.Trigger) && d.Code == "" {
		return Message{}, fmt.Errorf("render %s: %w", d.Trigger, ErrMissingCode)
	}
	loc := ResolveLocale(d.Locale, r.locales)
	s := byLocale[loc]
	tmpl, _ := templates.Lookup(d.Trigger)
	var values map[string]any
	var subjectData any = struct{}{}
	if tmpl.Kind == templates.Service {
		var err error
		if values, err = checkValues("data", tmpl.Schema, d.Values); err != nil {
			return Message{}, fmt.Errorf("render %s: %w", d.Trigger, err)
		}
		subjectData = subjectView{Data: values}
	}

	buf := getBuffer()
	defer putBuffer(buf)
	if err := s.text.ExecuteTemplate(buf, "subject", subjectData); err != nil {
		return Message{}, fmt.Errorf("render %s: subject in %s: %w", d.Trigger, s.file, err)
	}
	subject := strings.TrimSpace(buf.String())
	if subject == "" {
		return Message{}, fmt.Errorf("render %s: subject in %s is empty", d.Trigger, s.file)
	}
	if strings.ContainsAny(subject, "\r\n") {
		return Message{}, fmt.Errorf("render %s: subject in %s is more than one line", d.Trigger, s.file)
	}

	v := view{
		Lang:          loc,
		Dir:           r.cat[loc][keyDir],
		Subject:       subject,
		Email:         d.Email,
		Username:      d.Username,
		Code:          d.Code,
		SupportEmail:  r.opts.SupportEmail,
		SupportMailto: "mailto:" + r.opts.SupportEmail,
		Data:          values,
		WebAppURL:     r.opts.WebAppURL,
		AppStoreURL:   r.opts.AppStoreURL,
		PlayStoreURL:  r.opts.PlayStoreURL,
		FooterReason:  "layout.footer_reason",
	}
	if k := d.Trigger + ".footer_reason"; r.cat[loc][k] != "" {
		v.FooterReason = k
	}
	if d.Trigger == ForgotPassword {
		v.ResetLink = ResetLink(r.opts.ResetURL, d.Code, d.Email, d.ClientID)
	}
	if d.Takeover != nil {
		v.Takeover = *d.Takeover
		v.Place = joinNonEmpty(", ", d.Takeover.City, d.Takeover.Country)
		v.Outcome = outcome(d.Takeover.Action)
	}

	buf.Reset()
	if err := s.html.ExecuteTemplate(buf, layoutHTML, &v); err != nil {
		return Message{}, fmt.Errorf("render %s: HTML from %s: %w", d.Trigger, s.file, err)
	}
	html, err := r.inline(buf.String())
	if err != nil {
		return Message{}, fmt.Errorf("render %s: HTML from %s: %w", d.Trigger, s.file, err)
	}
	html = normalizeNewlines(html)

	buf.Reset()
	if err := s.text.ExecuteTemplate(buf, layoutText, &v); err != nil {
		return Message{}, fmt.Errorf("render %s: text from %s: %w", d.Trigger, s.file, err)
	}
	text := tidyText(buf.Bytes())

	return Message{Subject: subject, HTML: html, Text: text}, nil
}

// buffers hold a render's template output between renders: the HTML is
// 10-15 KB before inlining.
var buffers = sync.Pool{New: func() any {
	b := new(bytes.Buffer)
	b.Grow(32 << 10)
	return b
}}

func getBuffer() *bytes.Buffer { return buffers.Get().(*bytes.Buffer) }

func putBuffer(b *bytes.Buffer) {
	if b.Cap() > 256<<10 {
		return // a rare huge mail: let it go rather than keep it
	}
	b.Reset()
	buffers.Put(b)
}

// outcome maps a Cognito account-takeover action to the wording key the
// template switches on.
func outcome(action string) string {
	switch action {
	case "BLOCK":
		return "blocked"
	case "MFA", "MFA_IF_CONFIGURED", "MFA_REQUIRED":
		return "challenged"
	case "NO_ACTION":
		return "allowed"
	}
	return ""
}

// ResetLink returns base with the code, the email and, when clientID is not
// "", the app client added as query parameters:
// base + "?code=" + url.QueryEscape(code) + "&email=" + url.QueryEscape(email)
// + "&cid=" + url.QueryEscape(clientID). Every value is escaped, so none can
// add a parameter of its own. If base already has a query the parameters
// are joined with "&"; a fragment in base stays at the end.
func ResetLink(base, code, email, clientID string) string {
	base, fragment, hasFragment := strings.Cut(base, "#")
	sep := "?"
	switch {
	case strings.HasSuffix(base, "?") || strings.HasSuffix(base, "&"):
		sep = ""
	case strings.Contains(base, "?"):
		sep = "&"
	}
	link := base + sep + "code=" + url.QueryEscape(code) + "&email=" + url.QueryEscape(email)
	if clientID != "" {
		link += "&cid=" + url.QueryEscape(clientID)
	}
	if hasFragment {
		link += "#" + fragment
	}
	return link
}

func joinNonEmpty(sep string, parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, sep)
}

func normalizeNewlines(s string) string {
	if strings.IndexByte(s, '\r') < 0 {
		return s // the usual case: html/template and the inliner write "\n"
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

// tidyText uses "\n" line endings, drops blank lines at the start, joins
// runs of blank lines into one and ends with exactly one newline. It never
// rewraps a line, so URLs stay whole. "\r\n", "\r" and "\n" all end a
// line; a line is blank when it is white space only (strings.TrimSpace).
func tidyText[T string | []byte](s T) string {
	b := make([]byte, 0, len(s)+1)
	blank := true // true at the start, so leading blank lines are dropped
	pending := false
	for start := 0; start <= len(s); {
		end := start
		for end < len(s) && s[end] != '\n' && s[end] != '\r' {
			end++
		}
		line := s[start:end]
		switch {
		case end == len(s):
			start = end + 1
		case s[end] == '\r' && end+1 < len(s) && s[end+1] == '\n':
			start = end + 2
		default:
			start = end + 1
		}
		if isBlank(line) {
			if !blank {
				pending = true
			}
			blank = true
			continue
		}
		if pending {
			b = append(b, '\n')
			pending = false
		}
		b = append(b, line...)
		b = append(b, '\n')
		blank = false
	}
	return string(b)
}

// isBlank reports whether line is empty or white space only, as
// strings.TrimSpace(line) == "" does.
func isBlank[T string | []byte](line T) bool {
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c >= utf8.RuneSelf {
			return len(bytes.TrimSpace([]byte(line))) == 0
		}
		if c != ' ' && c != '\t' && c != '\v' && c != '\f' {
			return false
		}
	}
	return true
}
