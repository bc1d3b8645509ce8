package preview

import (
	"strings"
	"testing"

	"github.com/Phenom-earth/phenom-mailer/internal/render"
	"github.com/Phenom-earth/phenom-mailer/internal/send"
)

// TestChecksCatchProblems breaks a good message in one way at a time and
// expects exactly the matching check to fail, with a detail that says why
// and does not quote the code.
func TestChecksCatchProblems(t *testing.T) {
	r := newRenderer(t)
	good, err := r.Render(render.Data{Trigger: render.ForgotPassword, Locale: "en", Email: SampleEmail, Code: SampleCode})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range Checks(good, SampleCode, nil) {
		if !c.OK {
			t.Fatalf("the intact message fails %s: %s", c.Name, c.Detail)
		}
	}
	body := func(m render.Message, s string) render.Message {
		m.HTML = strings.Replace(m.HTML, `<p class="signoff"`, s+`<p class="signoff"`, 1)
		return m
	}
	html := func(old, new string) func(render.Message) render.Message {
		return func(m render.Message) render.Message {
			if !strings.Contains(m.HTML, old) {
				t.Fatalf("test setup: HTML lacks %q", old)
			}
			m.HTML = strings.ReplaceAll(m.HTML, old, new)
			return m
		}
	}
	text := func(old, new string) func(render.Message) render.Message {
		return func(m render.Message) render.Message {
			if !strings.Contains(m.Text, old) {
				t.Fatalf("test setup: text lacks %q", old)
			}
			m.Text = strings.ReplaceAll(m.Text, old, new)
			return m
		}
	}
	tests := []struct {
		name   string
		edit   func(render.Message) render.Message
		check  string // fails, with detail
		detail string
	}{
		{"HTML of 100 KB", func(m render.Message) render.Message {
			return body(m, "<p>"+strings.Repeat("padding ", 100*1024/8)+"</p>")
		}, CheckHTMLSize, "over 100.0 KB"},
		{"http button", html(`<a class="btn" href="https://`, `<a class="btn" href="http://`), CheckHTTPSLinks,
			"<a> link: http://www.thephenom.app/reset-password is not https"},
		{"http VML button", html(`xmlns:w="urn:schemas-microsoft-com:office:word" href="https://`, `xmlns:w="urn:schemas-microsoft-com:office:word" href="http://`),
			CheckHTTPSLinks, "Outlook (VML) link: http://www.thephenom.app/reset-password is not https"},
		{"relative link", func(m render.Message) render.Message { return body(m, `<a href="/help">help</a>`) },
			CheckHTTPSLinks, "relative /help is not https"},
		{"http link in the text part", text("https://www.thephenom.app/", "http://www.thephenom.app/"),
			CheckHTTPSLinks, "text part: http://www.thephenom.app/reset-password is not https"},
		{"image without alt", func(m render.Message) render.Message { return body(m, `<img src="cid:logo">`) },
			CheckImageAlt, "image 1 (cid://) has no alt text"},
		{"image with empty alt", func(m render.Message) render.Message { return body(m, `<img src="cid:logo" alt=" ">`) },
			CheckImageAlt, "has no alt text"},
		{"tracking pixel", func(m render.Message) render.Message {
			return body(m, `<img src="https://t.example.com/open.gif?u=1" width="1" height="1" alt="">`)
		}, CheckNoRemote, "<img src> loads https://t.example.com/open.gif"},
		{"remote font", html(`<style>`, `<style>@import url(https://fonts.example.com/x.css);`), CheckNoRemote, "CSS loads a resource"},
		{"remote background", func(m render.Message) render.Message {
			return body(m, `<table background="https://x.example.com/bg.png"></table>`)
		},
			CheckNoRemote, "<table background> loads https://x.example.com/bg.png"},
		{"unfilled template field", html("Reset your password</h1>", "&lt;no value&gt;</h1>"), CheckFields, `HTML has "<no value>"`},
		{"unfilled placeholder", text("ada.lovelace@example.com at Phenom", "{email} at Phenom"), CheckFields, `text part has "{email}"`},
		{"empty code", html(">"+SampleCode+"</div>", "></div>"), CheckFields, `empty <div class="code">`},
		{"empty button", html(">Reset password</a>", "></a>"), CheckFields, `empty <a class="btn">`},
		{"empty labelled value", text("Your code: "+SampleCode, "Your code: "), CheckFields, "text line 5 is a label with no value"},
		{"no text part", func(m render.Message) render.Message { m.Text = " \n"; return m }, CheckTextPart, "missing or blank"},
		{"code missing from HTML", html(">"+SampleCode+"</div>", ">see the app</div>"), CheckCodeBothParts, "HTML part does not show the code"},
		{"code not on a labelled line", text("Your code: "+SampleCode, SampleCode), CheckCodeBothParts, `no line "Label: <code>"`},
		{"long subject", func(m render.Message) render.Message {
			m.Subject = strings.Repeat("é", 78)
			return m
		}, CheckSubject, "78 characters"},
		{"preheader in the text part", func(m render.Message) render.Message {
			m.Text = "Use this code to choose a new password for your Phenom account.\n" + m.Text
			return m
		}, CheckPreheader, "appears in the text part"},
		{"no preheader", html(`class="preheader"`, `class="intro"`), CheckPreheader, "no hidden preheader"},
	}
	// Flaws that rightly fail a second check.
	also := map[string][]string{
		"tracking pixel":       {CheckImageAlt}, // alt="" is no alt text
		"empty code":           {CheckCodeBothParts},
		"empty labelled value": {CheckCodeBothParts},
		"no text part":         {CheckCodeBothParts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checks := Checks(tt.edit(good), SampleCode, nil)
			var failed []string
			for _, c := range checks {
				if c.OK {
					continue
				}
				failed = append(failed, c.Name)
				if strings.Contains(c.Detail, SampleCode) {
					t.Errorf("%s: detail quotes the code", c.Name)
				}
				if c.Name == tt.check && !strings.Contains(c.Detail, tt.detail) {
					t.Errorf("%s: detail %q lacks %q", c.Name, c.Detail, tt.detail)
				}
			}
			if want := append([]string{tt.check}, also[tt.name]...); !sameSet(failed, want) {
				t.Errorf("failed checks = %q, want %q", failed, want)
			}
		})
	}
}

// TestChecksReadTheEML: with the .eml given, the checks see what a mail
// client sees: the decoded subject and parts.
func TestChecksReadTheEML(t *testing.T) {
	r := newRenderer(t)
	m, err := r.Render(render.Data{Trigger: render.SignUp, Locale: "es", Email: SampleEmail, Code: SampleCode})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := EMLSender("")
	eml, err := s.Build(send.Message{To: SampleEmail, Subject: m.Subject, HTML: m.HTML, Text: m.Text})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(eml), "Subject: =?") {
		t.Fatal("test setup: the Spanish subject is not RFC 2047 encoded")
	}
	if c := Checks(m, SampleCode, eml); !OK(c) {
		t.Errorf("checks over the .eml fail: %+v", c)
	}
	// A message whose MIME lost its text part.
	broken := strings.Replace(string(eml), "Content-Type: text/plain", "Content-Type: application/octet-stream", 1)
	var textCheck Check
	for _, c := range Checks(m, SampleCode, []byte(broken)) {
		if c.Name == CheckTextPart {
			textCheck = c
		}
	}
	if textCheck.OK {
		t.Error("the text-part check passes on a message without a text part")
	}
	// Another subject in the .eml than the rendered one.
	other := m
	other.Subject = "Something else"
	for _, c := range Checks(other, SampleCode, eml) {
		if c.Name == CheckSubject && c.OK {
			t.Error("the subject check passes when the .eml carries another subject")
		}
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]bool{}
	for _, x := range a {
		seen[x] = true
	}
	for _, x := range b {
		if !seen[x] {
			return false
		}
	}
	return true
}
