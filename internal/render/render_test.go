package render

import (
	"errors"
	htmltemplate "html/template"
	"io/fs"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/Phenom-earth/phenom-mailer/templates"
)

// newRenderer returns a Renderer over the real, embedded templates.
func newRenderer(t testing.TB) *Renderer {
	t.Helper()
	r, err := New(templates.FS, Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

// mapFS copies the embedded templates into an fstest.MapFS, to break.
func mapFS(t *testing.T) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(templates.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templates.FS, path)
		if err != nil {
			return err
		}
		m[path] = &fstest.MapFile{Data: b}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const (
	testEmail   = "qa+reset@thephenom.app"
	testResetLk = "https://www.thephenom.app/reset-password?code=123456&email=qa%2Breset%40thephenom.app"
	// testResetLkHTML is testResetLk as an HTML attribute holds it.
	testResetLkHTML = "https://www.thephenom.app/reset-password?code=123456&amp;email=qa%2Breset%40thephenom.app"
)

func TestRenderEveryTrigger(t *testing.T) {
	r := newRenderer(t)
	tests := []struct {
		trigger   string
		code      string
		subject   string
		textLabel string   // the labelled line in the text part, "" when there is no code
		html      []string // more HTML the message must contain
		text      []string // more text the message must contain
	}{
		{SignUp, "123456", "Verify your email address for Phenom", "Your code: ", nil, nil},
		{ResendCode, "234567", "Your new Phenom verification code", "Your code: ", nil, nil},
		{ForgotPassword, "123456", "Reset your Phenom password", "Your code: ",
			[]string{`href="https://www.thephenom.app/reset-password?code=123456&amp;email=qa%2Breset%40thephenom.app"`, ">Reset password</a>"},
			[]string{"\n" + testResetLk + "\n"}},
		{UpdateUserAttribute, "345678", "Confirm your new email address for Phenom", "Your code: ", nil, nil},
		{VerifyUserAttribute, "456789", "Confirm your email address for Phenom", "Your code: ", nil, nil},
		{AdminCreateUser, "Tmp#Pass-2024&x", "You're invited to Phenom", "Temporary password: ",
			[]string{"You&#39;re invited to Phenom", "Temporary password", "choose a new password", "qa.user"},
			[]string{"Username: qa.user\n", "choose a new password"}},
		{AccountTakeOverNotification, "", "New sign-in to your Phenom account", "", nil, nil},
		{Authentication, "567890", "Your Phenom sign-in code", "Your code: ", nil, nil},
	}
	if len(tests) != len(Triggers) {
		t.Fatalf("table has %d triggers, Triggers has %d", len(tests), len(Triggers))
	}
	for i, tt := range tests {
		t.Run(tt.trigger, func(t *testing.T) {
			if Triggers[i] != tt.trigger {
				t.Fatalf("Triggers[%d] = %q, want %q", i, Triggers[i], tt.trigger)
			}
			d := Data{Trigger: tt.trigger, Locale: "en", Email: testEmail, Username: "qa.user", Code: tt.code}
			if tt.trigger == AccountTakeOverNotification {
				d.Takeover = &Takeover{LoginTime: "2024-05-01 10:00:00 UTC", IPAddress: "203.0.113.7", Action: "BLOCK"}
			}
			m, err := r.Render(d)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if m.Subject != tt.subject {
				t.Errorf("Subject = %q, want %q", m.Subject, tt.subject)
			}
			if tt.code != "" {
				if !strings.Contains(m.HTML, htmltemplate.HTMLEscapeString(tt.code)) {
					t.Errorf("HTML lacks the code")
				}
				if !strings.Contains(m.Text, "\n"+tt.textLabel+tt.code+"\n") {
					t.Errorf("text lacks the line %q", tt.textLabel+tt.code)
				}
			}
			for _, want := range tt.html {
				if !strings.Contains(m.HTML, want) {
					t.Errorf("HTML lacks %q", want)
				}
			}
			for _, want := range tt.text {
				if !strings.Contains(m.Text, want) {
					t.Errorf("text lacks %q", want)
				}
			}
			checkCommon(t, m)

			// Any other locale falls back to English.
			d.Locale = "de-DE"
			other, err := r.Render(d)
			if err != nil {
				t.Fatalf("Render with locale %q: %v", d.Locale, err)
			}
			if other != m {
				t.Errorf("locale %q renders differently from \"en\"", d.Locale)
			}
		})
	}
}

// checkCommon asserts what every English message shares. Failures quote
// the expectation, never the message: a rendering is a mail body.
func checkCommon(t *testing.T, m Message) {
	t.Helper()
	for _, want := range []string{
		`<html lang="en" dir="ltr"`,
		`role="presentation"`,
		"max-width:600px",
		">Phenom</td>",
		"You received this email because an account action was requested for qa&#43;reset@thephenom.app at Phenom.",
		`href="mailto:support@thephenom.app"`,
		`<meta name="color-scheme" content="light dark">`,
		"@media (prefers-color-scheme: dark)",
	} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	for _, bad := range []string{"<img", "<link", "@import", "url(", "<script", "@font-face"} {
		if strings.Contains(m.HTML, bad) {
			t.Errorf("HTML contains %q", bad)
		}
	}
	if strings.Contains(m.Text, "\r") || !strings.HasSuffix(m.Text, "\n") || strings.Contains(m.Text, "\n\n\n") {
		t.Errorf("text part is not tidy \"\\n\" text (CR, no final newline or two blank lines in a row)")
	}
	for _, want := range []string{
		"You received this email because an account action was requested for qa+reset@thephenom.app at Phenom.\n",
		"support@thephenom.app\n",
	} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text footer lacks %q", want)
		}
	}
}

func TestResetLink(t *testing.T) {
	tests := []struct{ base, code, email, cid, want string }{
		{"https://www.thephenom.app/reset-password", "123456", "qa+reset@thephenom.app", "", testResetLk},
		{"https://www.thephenom.app/reset-password", "123456", "qa+reset@thephenom.app", "6sjjnkaeagnqgkmbl1mr5rtfsr", testResetLk + "&cid=6sjjnkaeagnqgkmbl1mr5rtfsr"},
		{"https://x.test/r?lang=en", "1 2", "a@b.c", "", "https://x.test/r?lang=en&code=1+2&email=a%40b.c"},
		{"https://x.test/r?", "1", "a@b.c", "", "https://x.test/r?code=1&email=a%40b.c"},
		{"https://x.test/r#top", "1", "a@b.c", "c1", "https://x.test/r?code=1&email=a%40b.c&cid=c1#top"},
		{"https://x.test/r", "a&b=c", "x@y.z", "", "https://x.test/r?code=a%26b%3Dc&email=x%40y.z"},
		// A hostile client id stays one parameter's value.
		{"https://x.test/r", "1", "a@b.c", "x&code=999999&email=evil@x.test#f", "https://x.test/r?code=1&email=a%40b.c&cid=x%26code%3D999999%26email%3Devil%40x.test%23f"},
		{"https://x.test/r", "1", "a@b.c", "a+b c", "https://x.test/r?code=1&email=a%40b.c&cid=a%2Bb+c"},
	}
	for _, tt := range tests {
		got := ResetLink(tt.base, tt.code, tt.email, tt.cid)
		if got != tt.want {
			t.Errorf("ResetLink(%q, %q, %q, %q) = %q, want %q", tt.base, tt.code, tt.email, tt.cid, got, tt.want)
			continue
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		if q.Get("code") != tt.code || q.Get("email") != tt.email || q.Get("cid") != tt.cid || len(q["code"]) != 1 || len(q["email"]) != 1 {
			t.Errorf("%q parses to %v: the values did not survive as one parameter each", got, q)
		}
		if tt.cid == "" && q.Has("cid") {
			t.Errorf("%q has a cid without a client id", got)
		}
	}
}

func TestRenderResetLinkCarriesClientID(t *testing.T) {
	r := newRenderer(t)
	for _, tt := range []struct{ cid, wantHref string }{
		{"6sjjnkaeagnqgkmbl1mr5rtfsr", `href="` + testResetLkHTML + `&amp;cid=6sjjnkaeagnqgkmbl1mr5rtfsr"`},
		{"", `href="` + testResetLkHTML + `"`},
	} {
		m, err := r.Render(Data{Trigger: ForgotPassword, Email: testEmail, Code: "123456", ClientID: tt.cid})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.HTML, tt.wantHref) {
			t.Errorf("cid %q: HTML lacks %s", tt.cid, tt.wantHref)
		}
		wantText := ResetLink(DefaultResetURL, "123456", testEmail, tt.cid) + "\n"
		if !strings.Contains(m.Text, wantText) {
			t.Errorf("cid %q: text lacks the link %q on its own line", tt.cid, wantText)
		}
		if tt.cid == "" && strings.Contains(m.HTML+m.Text, "cid=") {
			t.Errorf("a mail without a client id has a cid parameter")
		}
	}
	// Other triggers never carry the link, client id or not.
	m, err := r.Render(Data{Trigger: SignUp, Email: testEmail, Code: "123456", ClientID: "6sjjnkaeagnqgkmbl1mr5rtfsr"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML+m.Text, "cid=") {
		t.Error("a SignUp mail carries a cid")
	}
}

func TestResetURLOption(t *testing.T) {
	r, err := New(templates.FS, Options{ResetURL: "https://staging.thephenom.app/reset?x=1", SupportEmail: "help@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.Render(Data{Trigger: ForgotPassword, Email: "a@example.com", Code: "111111"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`href="https://staging.thephenom.app/reset?x=1&amp;code=111111&amp;email=a%40example.com"`,
		`href="mailto:help@example.com"`,
	} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	for _, opts := range []Options{
		{ResetURL: "javascript:alert(1)"},
		{ResetURL: "/reset-password"},
		{SupportEmail: "not-an-address"},
		{SupportEmail: "a@b.c\r\nBcc: x@y.z"},
	} {
		if _, err := New(templates.FS, opts); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", opts)
		}
	}
}

func TestHTMLInjection(t *testing.T) {
	r := newRenderer(t)
	const script = "<script>alert(1)</script>"
	const img = "<img src=x onerror=alert(1)>"
	tests := []struct {
		name    string
		d       Data
		escaped string
		raw     string
	}{
		{"username", Data{Trigger: AdminCreateUser, Email: testEmail, Username: script, Code: "Tmp#Pass1"},
			"&lt;script&gt;alert(1)&lt;/script&gt;", script},
		{"city", Data{Trigger: AccountTakeOverNotification, Email: testEmail, Takeover: &Takeover{City: img, Action: "BLOCK"}},
			"&lt;img src=x onerror=alert(1)&gt;", img},
		{"email", Data{Trigger: SignUp, Email: `"><b>x</b>@example.com`, Code: "123456"},
			"&#34;&gt;&lt;b&gt;x&lt;/b&gt;@example.com", "<b>x</b>"},
		{"password", Data{Trigger: AdminCreateUser, Email: testEmail, Code: "</td><script>x</script>"},
			"&lt;/td&gt;&lt;script&gt;x&lt;/script&gt;", "<script>x"},
		{"one-click URL", Data{Trigger: AccountTakeOverNotification, Email: testEmail,
			Takeover: &Takeover{OneClickValidURL: "javascript:alert(1)", OneClickInvalidURL: `https://x.test/"><script>`}},
			`href="#ZgotmplZ"`, "javascript:alert"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := r.Render(tt.d)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(m.HTML, tt.escaped) {
				t.Errorf("HTML lacks the escaped form %q", tt.escaped)
			}
			if strings.Contains(m.HTML, tt.raw) || strings.Contains(m.HTML, "<script") {
				t.Errorf("HTML contains raw %q", tt.raw)
			}
		})
	}
}

func TestTakeover(t *testing.T) {
	r := newRenderer(t)
	full := Takeover{
		EventID:            "evt-0001",
		LoginTime:          "2024-05-01 10:00:00 UTC",
		IPAddress:          "203.0.113.7",
		City:               "Springfield",
		Country:            "Freedonia",
		DeviceName:         "Chrome on macOS",
		Action:             "BLOCK",
		OneClickValidURL:   "https://auth.example.com/valid?e=1&t=2",
		OneClickInvalidURL: "https://auth.example.com/invalid?e=1&t=2",
	}

	t.Run("action wording", func(t *testing.T) {
		wording := map[string]string{
			"BLOCK":             "we blocked the sign-in",
			"MFA":               "we asked for an extra verification step",
			"MFA_IF_CONFIGURED": "we asked for an extra verification step",
			"MFA_REQUIRED":      "we asked for an extra verification step",
			"NO_ACTION":         "We allowed it but flagged it",
		}
		all := []string{"we blocked the sign-in", "we asked for an extra verification step", "We allowed it but flagged it"}
		for action, want := range wording {
			to := full
			to.Action = action
			m, err := r.Render(Data{Trigger: AccountTakeOverNotification, Email: testEmail, Takeover: &to})
			if err != nil {
				t.Fatal(err)
			}
			for _, phrase := range all {
				for part, body := range map[string]string{"HTML": m.HTML, "text": m.Text} {
					if got := strings.Contains(body, phrase); got != (phrase == want) {
						t.Errorf("%s: %s contains %q = %v", action, part, phrase, got)
					}
				}
			}
		}
	})

	t.Run("all details", func(t *testing.T) {
		m, err := r.Render(Data{Trigger: AccountTakeOverNotification, Email: testEmail, Takeover: &full})
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			"Time: 2024-05-01 10:00:00 UTC\n", "IP address: 203.0.113.7\n",
			"Location: Springfield, Freedonia\n", "Device: Chrome on macOS\n",
			"\nhttps://auth.example.com/valid?e=1&t=2\n", "\nhttps://auth.example.com/invalid?e=1&t=2\n",
			"reset your Phenom password", "Reference: evt-0001\n",
		} {
			if !strings.Contains(m.Text, want) {
				t.Errorf("text lacks %q", want)
			}
		}
		for _, want := range []string{
			">Time</td>", ">IP address</td>", ">Location</td>", ">Springfield, Freedonia</td>", ">Device</td>",
			`href="https://auth.example.com/valid?e=1&amp;t=2"`, `href="https://auth.example.com/invalid?e=1&amp;t=2"`,
			"reset your Phenom password",
		} {
			if !strings.Contains(m.HTML, want) {
				t.Errorf("HTML lacks %q", want)
			}
		}
	})

	t.Run("empty fields omitted", func(t *testing.T) {
		tests := []struct {
			name   string
			to     *Takeover
			want   []string // in the text part
			absent []string // in both parts
		}{
			{"only IP", &Takeover{IPAddress: "203.0.113.7", Action: "NO_ACTION"},
				[]string{"IP address: 203.0.113.7\n"},
				[]string{"Time", "Location", "Device", "Reference", "Was this you", "this wasn't me", "href=\"https://auth"}},
			{"country only", &Takeover{Country: "Freedonia"},
				[]string{"Location: Freedonia\n"},
				[]string{", Freedonia", "IP address", "Time", "Device"}},
			{"city only", &Takeover{City: "Springfield"},
				[]string{"Location: Springfield\n"},
				[]string{"Springfield,"}},
			{"no takeover", nil,
				[]string{"We detected a sign-in to your Phenom account"},
				[]string{"Location", "IP address", "Time", "Device", "we blocked", "role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" style=\"margin:0 0 24px;\""}},
			{"one link", &Takeover{OneClickInvalidURL: "https://auth.example.com/invalid"},
				[]string{"https://auth.example.com/invalid\n"},
				[]string{"Yes, this was me", "confirm it here"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				m, err := r.Render(Data{Trigger: AccountTakeOverNotification, Email: testEmail, Takeover: tt.to})
				if err != nil {
					t.Fatal(err)
				}
				for _, want := range tt.want {
					if !strings.Contains(m.Text, want) {
						t.Errorf("text lacks %q", want)
					}
				}
				for _, bad := range tt.absent {
					if strings.Contains(m.Text, bad) {
						t.Errorf("text contains %q", bad)
					}
					if strings.Contains(m.HTML, bad) {
						t.Errorf("HTML contains %q", bad)
					}
				}
				checkCommon(t, m)
			})
		}
	})
}

func TestRenderErrors(t *testing.T) {
	r := newRenderer(t)
	const code = "987654"
	tests := []struct {
		name string
		d    Data
		want error
	}{
		{"unknown trigger", Data{Trigger: "CustomEmailSender_SignUp", Email: testEmail, Code: code}, ErrUnknownTrigger},
		{"empty trigger", Data{Email: testEmail, Code: code}, ErrUnknownTrigger},
		{"missing email", Data{Trigger: ForgotPassword, Code: code}, ErrMissingEmail},
		{"missing email takeover", Data{Trigger: AccountTakeOverNotification}, ErrMissingEmail},
	}
	for _, trigger := range Triggers {
		if needsCode(trigger) {
			tests = append(tests, struct {
				name string
				d    Data
				want error
			}{"missing code " + trigger, Data{Trigger: trigger, Email: testEmail}, ErrMissingCode})
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := r.Render(tt.d)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Render error = %v, want %v", err, tt.want)
			}
			if m != (Message{}) {
				t.Errorf("Render returned a message with its error")
			}
			if strings.Contains(err.Error(), code) {
				t.Errorf("error %q contains the code", err)
			}
		})
	}
}

func TestNewBrokenTemplates(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(fstest.MapFS)
		names string // the error must contain this
	}{
		{"missing trigger file", func(m fstest.MapFS) { delete(m, "ResendCode.tmpl") }, "ResendCode.tmpl"},
		{"missing layout", func(m fstest.MapFS) { delete(m, "layout.html") }, "layout.html"},
		{"missing text layout", func(m fstest.MapFS) { delete(m, "layout.txt") }, "layout.txt"},
		{"parse error", func(m fstest.MapFS) {
			m["SignUp.tmpl"] = &fstest.MapFile{Data: []byte(`{{define "subject"}}x{{end}}{{define "html"}}{{if}}{{end}}`)}
		}, "SignUp.tmpl"},
		{"missing block", func(m fstest.MapFS) {
			m["Authentication.tmpl"] = &fstest.MapFile{Data: []byte(`{{define "subject"}}x{{end}}{{define "html"}}x{{end}}`)}
		}, "Authentication.tmpl"},
		{"unknown field", func(m fstest.MapFS) {
			m["ForgotPassword.tmpl"] = &fstest.MapFile{Data: []byte(`{{define "subject"}}x{{end}}{{define "html"}}{{.Nope}}{{end}}{{define "text"}}x{{end}}`)}
		}, "ForgotPassword.tmpl"},
		{"two-line subject", func(m fstest.MapFS) {
			m["SignUp.tmpl"] = &fstest.MapFile{Data: []byte("{{define \"subject\"}}one\ntwo{{end}}{{define \"html\"}}x{{end}}{{define \"text\"}}x{{end}}")}
		}, "SignUp.tmpl"},
		{"empty subject", func(m fstest.MapFS) {
			m["SignUp.tmpl"] = &fstest.MapFile{Data: []byte(`{{define "subject"}}  {{end}}{{define "html"}}x{{end}}{{define "text"}}x{{end}}`)}
		}, "SignUp.tmpl"},
		{"user data in subject", func(m fstest.MapFS) {
			m["SignUp.tmpl"] = &fstest.MapFile{Data: []byte(`{{define "subject"}}Hi {{.Email}}{{end}}{{define "html"}}x{{end}}{{define "text"}}x{{end}}`)}
		}, "SignUp.tmpl"},
		{"bad HTML context", func(m fstest.MapFS) {
			m["SignUp.tmpl"] = &fstest.MapFile{Data: []byte(`{{define "subject"}}x{{end}}{{define "html"}}<a href="{{.Code}}{{end}}{{define "text"}}x{{end}}`)}
		}, "SignUp.tmpl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mapFS(t)
			if _, err := New(m, Options{}); err != nil {
				t.Fatalf("New on an intact copy: %v", err)
			}
			tt.edit(m)
			_, err := New(m, Options{})
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.names) {
				t.Errorf("error %q does not name %s", err, tt.names)
			}
		})
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New(nil) succeeded")
	}
}

func TestRenderConcurrent(t *testing.T) {
	r := newRenderer(t)
	want, err := r.Render(Data{Trigger: ForgotPassword, Email: testEmail, Code: "123456"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 4; j++ {
				for _, trigger := range Triggers {
					d := Data{Trigger: trigger, Email: testEmail, Code: "123456"}
					if trigger == AccountTakeOverNotification {
						d.Code = ""
					}
					m, err := r.Render(d)
					if err != nil {
						t.Error(err)
						return
					}
					if trigger == ForgotPassword && m != want {
						t.Error("concurrent render differs")
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

func TestTidyText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a", "a\n"},
		{"\n\n a\r\n\r\n\r\n\nb\n\n\n", " a\n\nb\n"},
		{"a\n  \n\t\nb", "a\n\nb\n"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := tidyText(tt.in); got != tt.want {
			t.Errorf("tidyText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func BenchmarkRender(b *testing.B) {
	r := newRenderer(b)
	d := Data{Trigger: ForgotPassword, Locale: "en", Email: testEmail, Code: "123456"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Render(d); err != nil {
			b.Fatal(err)
		}
	}
}

// tidyTextReference is tidyText as it was written first (normalise the
// line ends, split, trim), the reference for the one-pass version.
func tidyTextReference(s string) string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	var b strings.Builder
	blank, pending := true, false
	for _, line := range strings.Split(s, "\n") {
		if strings.TrimSpace(line) == "" {
			if !blank {
				pending = true
			}
			blank = true
			continue
		}
		if pending {
			b.WriteByte('\n')
			pending = false
		}
		b.WriteString(line)
		b.WriteByte('\n')
		blank = false
	}
	return b.String()
}

// FuzzTidyText: tidyText, on a string or on bytes, is its reference.
func FuzzTidyText(f *testing.F) {
	for _, s := range []string{"a", "\n\n a\r\n\r\n\r\n\nb\n\n\n", "a\r\rb\r", "x\n\u00a0\u2003\n\u0085\ny\n", "\xff \n\t\v\f\n z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := tidyTextReference(s)
		if got := tidyText(s); got != want {
			t.Fatalf("tidyText(%q) = %q, want %q", s, got, want)
		}
		if got := tidyText([]byte(s)); got != want {
			t.Fatalf("tidyText([]byte(%q)) = %q, want %q", s, got, want)
		}
	})
}
