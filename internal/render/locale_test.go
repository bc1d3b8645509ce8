package render

import (
	"errors"
	"html"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func TestResolveLocale(t *testing.T) {
	available := []string{"en", "es"}
	tests := map[string]string{
		"":               "en",
		"en":             "en",
		"es":             "es",
		"ES":             "es",
		"es-MX":          "es",
		"es_419":         "es",
		" es-ES ":        "es",
		"es-ES,es;q=0.9": "es",
		"de-DE":          "en",
		"pt":             "en",
		"e":              "en",
		"spanish":        "en",
	}
	for in, want := range tests {
		if got := ResolveLocale(in, available); got != want {
			t.Errorf("ResolveLocale(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSpanish renders every trigger for a Spanish-speaking user: the
// document says so, and nothing English is left in subject, HTML or text.
func TestSpanish(t *testing.T) {
	r := newRenderer(t)
	if got := r.Locales(); !slices.Equal(got, []string{"en", "es"}) {
		t.Fatalf("Locales() = %v, want [en es]", got)
	}
	if got := r.LocaleName("es"); got != "Español" {
		t.Errorf("LocaleName(es) = %q", got)
	}
	subjects := map[string]string{
		SignUp:                      "Verifica tu correo electrónico para Phenom",
		ResendCode:                  "Tu nuevo código de verificación de Phenom",
		ForgotPassword:              "Restablece tu contraseña de Phenom",
		UpdateUserAttribute:         "Confirma tu nuevo correo electrónico para Phenom",
		VerifyUserAttribute:         "Confirma tu correo electrónico para Phenom",
		AdminCreateUser:             "Te invitaron a Phenom",
		AccountTakeOverNotification: "Nuevo inicio de sesión en tu cuenta de Phenom",
		Authentication:              "Tu código de inicio de sesión de Phenom",
	}
	// Words of the English copy that have no place in a Spanish mail.
	english := regexp.MustCompile(`\b(?:[Yy]our|[Yy]ou|the|code|password|received|email address|Questions|team)\b`)
	for _, trigger := range Triggers {
		t.Run(trigger, func(t *testing.T) {
			for _, locale := range []string{"es", "es-MX", "es_ES"} {
				d := goldenData(trigger)
				d.Locale = locale
				m, err := r.Render(d)
				if err != nil {
					t.Fatal(err)
				}
				if m.Subject != subjects[trigger] {
					t.Errorf("%s: Subject = %q, want %q", locale, m.Subject, subjects[trigger])
				}
				if !strings.HasPrefix(m.HTML, "<!DOCTYPE html>\n<html lang=\"es\" dir=\"ltr\"") {
					t.Errorf("%s: HTML does not start with <html lang=\"es\" dir=\"ltr\"", locale)
				}
				urls := regexp.MustCompile(`https://\S+`)
				for part, body := range map[string]string{"HTML": visibleText(m.HTML), "text": urls.ReplaceAllString(m.Text, "")} {
					if w := english.FindString(body); w != "" {
						t.Errorf("%s: %s part has the English word %q", locale, part, w)
					}
				}
				if d.Code != "" && !strings.Contains(m.Text, "\n"+codeLabel(trigger, "es")+d.Code+"\n") {
					t.Errorf("%s: text lacks the line %q", locale, codeLabel(trigger, "es")+"…")
				}
				if !strings.Contains(m.Text, "Recibiste este correo porque se solicitó una acción en la cuenta de Phenom de ada.lovelace+test@example.com.\n") {
					t.Errorf("%s: text lacks the Spanish footer", locale)
				}
			}
		})
	}
}

func codeLabel(trigger, locale string) string {
	switch {
	case trigger == AdminCreateUser && locale == "es":
		return "Contraseña temporal: "
	case trigger == AdminCreateUser:
		return "Temporary password: "
	case locale == "es":
		return "Tu código: "
	}
	return "Your code: "
}

// visibleText strips tags, the head and comments from an HTML document:
// roughly what a reader sees.
func visibleText(doc string) string {
	if i := strings.Index(doc, "<body"); i >= 0 {
		doc = doc[i:]
	}
	doc = regexp.MustCompile(`(?s)<!--.*?-->`).ReplaceAllString(doc, " ")
	return regexp.MustCompile(`(?s)<[^>]*>`).ReplaceAllString(doc, " ")
}

// TestPreheader: the inbox preview line is in the HTML, hidden, and never
// in the text part, where it would read as a stray first line. It is
// hidden without a tiny font or a colour (in its style or the dark
// rules), which spam filters score as hidden text (SpamAssassin's
// HTML_FONT_LOW_CONTRAST, LONG_INVISIBLE_TEXT), and its spacer never makes
// a line over RFC 5322's 998 octets.
func TestPreheader(t *testing.T) {
	r := newRenderer(t)
	hidden := regexp.MustCompile(`<div class="preheader" style="(display:none;[^"]*max-height:0;[^"]*opacity:0;[^"]*mso-hide:all[^"]*)">([^<]*)</div>`)
	styled := regexp.MustCompile(`\.preheader\s*\{[^}]*(color|font)`)
	for _, loc := range r.Locales() {
		for _, trigger := range Triggers {
			d := goldenData(trigger)
			d.Locale = loc
			m, err := r.Render(d)
			if err != nil {
				t.Fatal(err)
			}
			sm := hidden.FindStringSubmatch(m.HTML)
			if sm == nil {
				t.Errorf("%s/%s: no hidden preheader div", loc, trigger)
				continue
			}
			if strings.Contains(sm[1], "font") || strings.Contains(sm[1], "color") || styled.MatchString(m.HTML) {
				t.Errorf("%s/%s: the preheader is styled with a font size or colour: %s", loc, trigger, sm[1])
			}
			for _, line := range strings.Split(sm[0], "\n") {
				if len(line) > 998 {
					t.Errorf("%s/%s: the preheader makes a line of %d octets", loc, trigger, len(line))
				}
			}
			content := html.UnescapeString(sm[2])
			pre := strings.TrimRight(content, "\u034f\u200c\u00a0\n")
			if len(pre) < 20 {
				t.Errorf("%s/%s: preheader %q is too short to be one", loc, trigger, pre)
			}
			if len(content)-len(pre) < 100 {
				t.Errorf("%s/%s: preheader is not followed by spacer characters", loc, trigger)
			}
			if strings.Contains(m.Text, pre) {
				t.Errorf("%s/%s: the preheader %q leaks into the text part", loc, trigger, pre)
			}
		}
	}
}

// TestInlinedCSS: clients that drop <style> (Gmail in some apps, many
// webmails) still get the design, because the base rules are inlined; the
// responsive and dark rules stay in <style> for clients that honour them.
func TestInlinedCSS(t *testing.T) {
	r := newRenderer(t)
	m, err := r.Render(goldenData(ForgotPassword))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`<h1 style="[^"]*font-size:24px[^"]*color:#111827`),
		regexp.MustCompile(`<td class="card" style="[^"]*background-color:#ffffff`),
		regexp.MustCompile(`<div class="code" style="[^"]*font-size:36px`),
		regexp.MustCompile(`<a class="btn" href="https://[^"]+" style="[^"]*color:#ffffff[^"]*mso-hide:all`),
		regexp.MustCompile(`@media only screen and \(max-width: 620px\)`),
		regexp.MustCompile(`\[data-ogsc\] h1`),
	} {
		if !want.MatchString(m.HTML) {
			t.Errorf("HTML does not match %s", want)
		}
	}
	for _, bad := range []string{".card { background-color: #ffffff;", "h1 { margin: 0 0 16px;", "data-premailer", "pr-el-id"} {
		if strings.Contains(m.HTML, bad) {
			t.Errorf("HTML still contains %q", bad)
		}
	}
}

// TestOutlookButton: Outlook desktop gets a VML button with the same link
// and label as the HTML one, escaped, inside a conditional comment; a bad
// URL gets no VML link at all.
func TestOutlookButton(t *testing.T) {
	r := newRenderer(t)
	m, err := r.Render(Data{Trigger: ForgotPassword, Email: testEmail, Code: "123456"})
	if err != nil {
		t.Fatal(err)
	}
	want := `<!--[if mso]><v:roundrect xmlns:v="urn:schemas-microsoft-com:vml" xmlns:w="urn:schemas-microsoft-com:office:word" href="https://www.thephenom.app/reset-password?code=123456&amp;email=qa%2Breset%40thephenom.app" `
	if !strings.Contains(m.HTML, want) {
		t.Errorf("HTML lacks the VML button %q", want)
	}
	if !strings.Contains(m.HTML, `<center style="color:#ffffff;font-family:'Segoe UI',Arial,sans-serif;font-size:16px;font-weight:600;">Reset password</center></v:roundrect><![endif]-->`) {
		t.Errorf("VML button lacks its label")
	}
	for _, ghost := range []string{
		`<!--[if mso]><table role="presentation" align="center" width="600"`,
		`<!--[if mso]></td></tr></table><![endif]-->`,
		`<o:PixelsPerInch>96</o:PixelsPerInch>`,
	} {
		if !strings.Contains(m.HTML, ghost) {
			t.Errorf("HTML lacks %q", ghost)
		}
	}

	m, err = r.Render(Data{Trigger: AccountTakeOverNotification, Email: testEmail, Takeover: &Takeover{
		OneClickValidURL:   "javascript:alert(1)",
		OneClickInvalidURL: `https://x.test/a?b=1&c="><script>x</script>`,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.HTML, `xmlns:w="urn:schemas-microsoft-com:office:word" href="https://x.test/a?b=1&amp;c=&#34;&gt;&lt;script&gt;x&lt;/script&gt;" `) {
		t.Errorf("VML href is not escaped")
	}
	if n := strings.Count(m.HTML, "<v:roundrect"); n != 2 {
		t.Errorf("%d VML buttons, want 2", n)
	}
	if strings.Contains(m.HTML, "javascript") || strings.Contains(m.HTML, "<script") {
		t.Errorf("HTML carries the hostile URL unescaped")
	}
}

// catalogueFS returns the embedded templates with es.json replaced.
func catalogueFS(t *testing.T, es string) fstest.MapFS {
	m := mapFS(t)
	m["locales/es.json"] = &fstest.MapFile{Data: []byte(es)}
	return m
}

func TestCatalogueRefusals(t *testing.T) {
	intact := string(mapFS(t)["locales/es.json"].Data)
	tests := []struct {
		name string
		edit func(fstest.MapFS)
		want []string // in the error
	}{
		{"missing key", func(m fstest.MapFS) {
			m["locales/es.json"].Data = []byte(strings.Replace(intact, `"SignUp.ignore":`, `"SignUp.ignorar":`, 1))
		}, []string{"locales/es.json lacks \"SignUp.ignore\"", "locales/es.json has \"SignUp.ignorar\""}},
		{"empty text", func(m fstest.MapFS) {
			m["locales/es.json"].Data = []byte(regexp.MustCompile(`"ResendCode.note": "[^"]*"`).ReplaceAllString(intact, `"ResendCode.note": " "`))
		}, []string{`"ResendCode.note" is empty`}},
		{"placeholder renamed", func(m fstest.MapFS) {
			m["locales/es.json"].Data = []byte(strings.Replace(intact, "Tu código: {code}", "Tu código: {codigo}", 1))
		}, []string{`"common.code_line" has placeholders [{codigo}]`}},
		{"not JSON", func(m fstest.MapFS) {
			m["locales/es.json"].Data = []byte(intact[:len(intact)/2])
		}, []string{"locales/es.json"}},
		{"no English", func(m fstest.MapFS) { delete(m, "locales/en.json") }, []string{"locales/en.json is missing"}},
		{"bad locale name", func(m fstest.MapFS) {
			m["locales/Spanish.json"] = &fstest.MapFile{Data: []byte(intact)}
		}, []string{"locales/Spanish.json"}},
		{"template uses an unknown key", func(m fstest.MapFS) {
			m["SignUp.tmpl"].Data = []byte(strings.Replace(string(m["SignUp.tmpl"].Data), `{{t "SignUp.ignore"}}</p>`, `{{t "SignUp.nope"}}</p>`, 1))
		}, []string{"SignUp.tmpl", `no message "SignUp.nope"`}},
		{"template fills no placeholder", func(m fstest.MapFS) {
			m["SignUp.tmpl"].Data = []byte(strings.Replace(string(m["SignUp.tmpl"].Data), `{{t "common.code_line" "code" .Code}}`, `{{t "common.code_line"}}`, 1))
		}, []string{"SignUp.tmpl", `placeholder {code} is not filled`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := catalogueFS(t, intact)
			if _, err := New(m, Options{}); err != nil {
				t.Fatalf("New on an intact copy: %v", err)
			}
			tt.edit(m)
			_, err := New(m, Options{})
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
}

func TestT(t *testing.T) {
	m := newTranslator(messages{"k": "Hi {name}, your code is {code}.", "plain": "Hello"})
	got, err := m.t("k", "name", "{code}", "code", "123")
	if err != nil || got != "Hi {code}, your code is 123." {
		t.Errorf("t = %q, %v; a value must never be filled in itself", got, err)
	}
	for _, tt := range []struct {
		key   string
		pairs []string
	}{
		{"missing", nil},
		{"k", []string{"name", "secret-value"}},                              // {code} unfilled
		{"k", []string{"name", "a", "code", "secret-value", "x", "y"}},       // no {x}
		{"plain", []string{"name"}},                                          // odd pairs
		{"plain", []string{"code", "secret-value"}},                          // no {code}
		{"k", []string{"name", "secret-value", "code", "secret-value", "z"}}, // odd pairs
	} {
		_, err := m.t(tt.key, tt.pairs...)
		if err == nil {
			t.Errorf("t(%q, %q) succeeded", tt.key, tt.pairs)
			continue
		}
		if strings.Contains(err.Error(), "secret-value") {
			t.Errorf("error %q shows a value", err)
		}
	}
	if _, err := m.t("missing"); err == nil || !strings.Contains(err.Error(), `"missing"`) || errors.Unwrap(err) != nil {
		t.Errorf("unknown key error = %v", err)
	}
}
