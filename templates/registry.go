package templates

// The registry: every mail phenom-mailer sends is one Template here, and
// nothing else in the tree lists them. The Cognito path maps an event's
// trigger source onto an entry (internal/cognito), the renderer parses
// <Name>.tmpl for each entry and checks its data against the schema
// (internal/render), and the preview renders each entry's example data
// (internal/preview).

// Kind says who asks for a template.
type Kind string

const (
	// Cognito templates answer a custom email sender trigger; the name is
	// the trigger source after "CustomEmailSender_".
	Cognito Kind = "cognito"
	// Service templates are sent on behalf of another Phenom service with
	// data the caller gives.
	Service Kind = "service"
)

// Field types of a schema.
const (
	String = "string" // text, shown escaped; control characters become spaces
	URL    = "url"    // an absolute https URL
	List   = "list"   // a list of strings (MinItems to MaxItems)
	Object = "object" // the nested Fields
)

// DefaultMaxLength bounds a string or URL field (and each item of a list)
// when its Field says nothing else, in characters.
const DefaultMaxLength = 2000

// Field is one value of a template's data.
type Field struct {
	Name     string
	Type     string // String, URL, List or Object
	Required bool
	// MaxLength bounds a string, a URL or each item of a list, in
	// characters; 0 means DefaultMaxLength.
	MaxLength int
	// MinItems and MaxItems bound a list.
	MinItems, MaxItems int
	// Fields are an Object's members.
	Fields []Field
	// Example is what the preview and the trial render use: a string, a
	// []string for a List, nil for an Object (its Fields have theirs).
	Example any
}

// Max is the field's length bound in characters.
func (f Field) Max() int {
	if f.MaxLength > 0 {
		return f.MaxLength
	}
	return DefaultMaxLength
}

// Template is one mail: its files are <Name>.tmpl (defining "subject",
// "preheader", "html" and "text") and the catalogue keys "<Name>.*" in
// every locales/*.json.
type Template struct {
	Name string
	Kind Kind
	// Code says the mail carries a code (or a temporary password): it is
	// refused without one. For a Cognito template the event then carries
	// an encrypted code; for a service template the code is optional data.
	Code bool
	// Schema is the data the template shows, with an example of each
	// value. For Cognito templates it is what the event supplies (for the
	// gallery and the preview); for service templates it is what the
	// caller sends.
	Schema []Field
	// Description says when the mail is sent, for the gallery.
	Description string
}

// File is the template's file: "<Name>.tmpl".
func (t Template) File() string { return t.Name + ".tmpl" }

// cognitoUser is the data every code-carrying Cognito mail shows.
var cognitoUser = []Field{
	{Name: "username", Type: String, Required: true, MaxLength: 200, Example: "3f6c2a9e-8d41-4b7a-9c55-2e1f0a7d6b13"},
	{Name: "code", Type: String, Required: true, Example: "482913"},
}

// Registry lists every template in a fixed order: the eight Cognito
// triggers, then the service templates.
var Registry = []Template{
	{Name: "SignUp", Kind: Cognito, Code: true, Schema: cognitoUser,
		Description: "After sign-up: verify the email address."},
	{Name: "ResendCode", Kind: Cognito, Code: true, Schema: cognitoUser,
		Description: "When the user asks for a new sign-up code."},
	{Name: "ForgotPassword", Kind: Cognito, Code: true,
		Schema: append([]Field{
			{Name: "client_id", Type: String, MaxLength: 128, Example: "1h2k3m4n5p6q7r8s9t0v1w2x3y"},
		}, cognitoUser...),
		Description: "When the user asks to reset the password; the button opens the reset page."},
	{Name: "UpdateUserAttribute", Kind: Cognito, Code: true, Schema: cognitoUser,
		Description: "When the user changes the email address."},
	{Name: "VerifyUserAttribute", Kind: Cognito, Code: true, Schema: cognitoUser,
		Description: "When the user asks to verify the email address."},
	{Name: "AdminCreateUser", Kind: Cognito, Code: true,
		Schema: []Field{
			{Name: "username", Type: String, Required: true, MaxLength: 200, Example: "ada.lovelace"},
			{Name: "code", Type: String, Required: true, Example: "Kx7&pQ2m#v"},
		},
		Description: "When an administrator creates the account: the temporary password."},
	{Name: "AccountTakeOverNotification", Kind: Cognito, Code: false,
		Schema: []Field{
			{Name: "username", Type: String, Required: true, MaxLength: 200, Example: "3f6c2a9e-8d41-4b7a-9c55-2e1f0a7d6b13"},
			{Name: "event_id", Type: String, MaxLength: 200, Example: "a1b2c3d4-0000-4000-8000-000000000042"},
			{Name: "login_time", Type: String, MaxLength: 200, Example: "2026-03-14 09:26:53 UTC"},
			{Name: "ip_address", Type: String, MaxLength: 200, Example: "203.0.113.24"},
			{Name: "city", Type: String, MaxLength: 200, Example: "Lisbon"},
			{Name: "country", Type: String, MaxLength: 200, Example: "Portugal"},
			{Name: "device_name", Type: String, MaxLength: 200, Example: "Firefox 124, Windows 11"},
			{Name: "action", Type: String, MaxLength: 200, Example: "BLOCK"},
			{Name: "one_click_valid", Type: URL, MaxLength: 2048, Example: "https://auth.example.com/confirm?event=a1b2c3d4&valid=true"},
			{Name: "one_click_invalid", Type: URL, MaxLength: 2048, Example: "https://auth.example.com/confirm?event=a1b2c3d4&valid=false"},
		},
		Description: "Threat protection saw a risky sign-in."},
	{Name: "Authentication", Kind: Cognito, Code: true, Schema: cognitoUser,
		Description: "Email sign-in code (MFA or passwordless)."},

	{Name: "notice", Kind: Service,
		Schema: []Field{
			{Name: "subject", Type: String, Required: true, MaxLength: 200, Example: "Your dossier export is ready"},
			{Name: "heading", Type: String, Required: true, MaxLength: 200, Example: "Your export is ready"},
			{Name: "paragraphs", Type: List, Required: true, MinItems: 1, MaxItems: 5, Example: []string{
				"The dossier you asked for has been exported.",
				"The download link works for seven days.",
			}},
			{Name: "button", Type: Object, Fields: []Field{
				{Name: "label", Type: String, Required: true, MaxLength: 80, Example: "Download the dossier"},
				{Name: "url", Type: URL, Required: true, Example: "https://docs.example.com/dossiers/42.pdf"},
			}},
			{Name: "code", Type: String, MaxLength: 64, Example: "731905"},
			{Name: "footnote", Type: String, Example: "You asked for this export in the Phenom web app."},
		},
		Description: "Service mail: any Phenom service's branded notice (heading, paragraphs, an optional button and code)."},
	{Name: "welcome", Kind: Service,
		Schema: []Field{
			{Name: "name", Type: String, Required: true, MaxLength: 200, Example: "Ada"},
		},
		Description: "Service mail: a user's first sign-in; the links to the apps come from the configuration."},
}

// Lookup returns the template called name.
func Lookup(name string) (Template, bool) {
	for _, t := range Registry {
		if t.Name == name {
			return t, true
		}
	}
	return Template{}, false
}

// Names lists the names of the templates of kind k ("" for all), in
// registry order.
func Names(k Kind) []string {
	var out []string
	for _, t := range Registry {
		if k == "" || t.Kind == k {
			out = append(out, t.Name)
		}
	}
	return out
}

// Example returns the example of the top-level string field name of the
// template called tmpl, or "" when there is none.
func Example(tmpl, name string) string {
	t, _ := Lookup(tmpl)
	for _, f := range t.Schema {
		if f.Name == name {
			s, _ := f.Example.(string)
			return s
		}
	}
	return ""
}
