package inbox

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func msg(raw []byte) Message { return Message{ID: "m1", Received: time.Now(), Raw: raw} }

func TestCheckTrusted(t *testing.T) {
	raw := build(t, mailOpts{signers: []string{"thephenom.app", "amazonses.com"},
		prepend: "X-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: PASS\r\nAuthentication-Results: amazonses.com;\r\n spf=pass smtp.mailfrom=thephenom.app;\r\n dkim=pass header.i=@thephenom.app;\r\n dmarc=pass header.from=thephenom.app\r\n"})
	v, err := Check(context.Background(), msg(raw), policy)
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	if !v.Trusted || v.Code != testCode {
		t.Fatalf("verdict %+v", v)
	}
	if v.CodeText != CodeFound || v.CodeHTML != CodeMatch || v.CodeLink != CodeMatch {
		t.Errorf("cross-checks text=%s html=%s link=%s", v.CodeText, v.CodeHTML, v.CodeLink)
	}
	if !strings.HasPrefix(v.ResetLink, "https://www.thephenom.app/reset-password?code=") {
		t.Errorf("reset link %q", v.ResetLink)
	}
	if len(v.Signatures) != 2 || v.Signatures[0].Domain != "amazonses.com" || v.Signatures[1].Domain != "thephenom.app" {
		t.Fatalf("signatures %+v", v.Signatures)
	}
	for _, s := range v.Signatures {
		if s.Result != "pass" || s.Selector != "mailer" || s.Aligned != (s.Domain == "thephenom.app") {
			t.Errorf("signature %+v", s)
		}
	}
	if len(v.SES) != 5 {
		t.Errorf("SES verdicts %+v", v.SES)
	}
	if v.From != DefaultFrom || v.To != testTo || v.Subject != "Reset your Phenom password" {
		t.Errorf("header fields %q %q %q", v.From, v.To, v.Subject)
	}
}

// TestCheckRefusals: every way a message must not be trusted, each with
// its reason; no error or verdict field carries the code.
func TestCheckRefusals(t *testing.T) {
	good := build(t, mailOpts{signers: []string{"thephenom.app"}})
	changed := bytes.Replace(good, []byte("choose a new password"), []byte("choose a new passw0rd"), 1)
	if bytes.Equal(changed, good) {
		t.Fatal("tamper did not change the body")
	}
	cases := []struct {
		name   string
		raw    []byte
		p      Policy
		reason string
	}{
		{"unsigned", build(t, mailOpts{}), policy, RefuseUnsigned},
		{"signed only by another domain", build(t, mailOpts{signers: []string{"example.com"}}), policy, RefuseUnaligned},
		{"signed only by amazonses.com", build(t, mailOpts{signers: []string{"amazonses.com"}}), policy, RefuseUnaligned},
		{"signed by the parent domain", build(t, mailOpts{signers: []string{"app"}}), policy, RefuseUnaligned},
		{"body changed after signing", changed, policy, RefuseDKIMFail},
		{"body changed, amazonses.com still passes", bytes.Replace(sign(t, good, "amazonses.com"), []byte("choose a new password"), []byte("choose another password"), 1), policy, RefuseDKIMFail},
		{"subject changed after signing", bytes.Replace(good, []byte("Subject: Reset your"), []byte("Subject: Reset our"), 1), policy, RefuseDKIMFail},
		{"other sender", build(t, mailOpts{from: "Phenom <noreply@example.com>", signers: []string{"example.com"}}), policy, RefuseFromDomain},
		{"second From on top", append([]byte("From: evil@example.com\r\n"), good...), policy, RefuseHeader},
		{"spam verdict", append([]byte("X-SES-Spam-Verdict: FAIL\r\n"), good...), policy, RefuseSESVerdict},
		{"virus verdict", append([]byte("X-SES-Virus-Verdict: GRAY\r\n"), good...), policy, RefuseSESVerdict},
		{"SES says dkim fail", append([]byte("Authentication-Results: amazonses.com; dkim=fail header.i=@thephenom.app\r\n"), good...), policy, RefuseSESVerdict},
		{"DNS temporary failure", good, Policy{LookupTXT: func(ctx context.Context, n string) ([]string, error) { return nil, errTemp }}, RefuseDKIMTemp},
		{"no code", build(t, mailOpts{signers: []string{"thephenom.app"}, text: "Hello, no code here.\n", html: "<p>Hello</p>"}), policy, RefuseCodeMissing},
		{"two codes", build(t, mailOpts{signers: []string{"thephenom.app"}, text: "Your code: 111111\nYour code: 222222\n"}), policy, RefuseCodeAmbig},
		{"HTML shows another code", build(t, mailOpts{signers: []string{"thephenom.app"}, html: resetHTML("999999")}), policy, RefuseCodeHTML},
		{"link carries another code", build(t, mailOpts{signers: []string{"thephenom.app"}, text: strings.Replace(resetText(testCode), "?code="+testCode, "?code=999999", 1)}), policy, RefuseCodeLink},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := Check(context.Background(), msg(c.raw), c.p)
			if err == nil || v.Trusted {
				t.Fatalf("trusted; want refused with %s", c.reason)
			}
			if !errors.Is(err, ErrUntrusted) || v.Reason != c.reason {
				t.Fatalf("reason %s (%s), want %s", v.Reason, v.Detail, c.reason)
			}
			if v.Code != "" || strings.Contains(err.Error(), testCode) || strings.Contains(v.Detail, testCode) {
				t.Errorf("a refusal carries the code")
			}
		})
	}
}

func TestExtractCode(t *testing.T) {
	for _, c := range []struct {
		text, html string
		code, st   string
	}{
		{"Your code: 123456\n", "", "123456", CodeFound},
		{"Your verification code: 654321.\n", "", "654321", CodeFound},
		{"Your password reset code is 112233. \n", "", "112233", CodeFound},
		{"CODE:445566", "", "445566", CodeFound},
		{"Your code: 1234567\n", "", "", CodeMissing},
		{"Your code: 12345\n", "", "", CodeMissing},
		{"Call 123456 now\n", "", "", CodeMissing},
		{"Enter this code to choose a new password:\n\n123456\n", "", "", CodeMissing},
		{"Your code: 123456\nyour code: 123456\n", "", "123456", CodeFound},
		{"Your code: 123456\nOld code: 654321\n", "", "", CodeAmbiguous},
	} {
		ex := ExtractCode(c.text, c.html)
		if ex.Code != c.code || ex.Text != c.st {
			t.Errorf("%q: code %q %s, want %q %s", c.text, ex.Code, ex.Text, c.code, c.st)
		}
	}
	ex := ExtractCode(resetText("123456"), resetHTML("123456"))
	if ex.HTML != CodeMatch || ex.Link != CodeMatch || ex.ResetLink != "https://www.thephenom.app/reset-password?code=123456&email=test-staging%40thephenom.app" {
		t.Errorf("%+v", ex)
	}
	if ex := ExtractCode("Your code: 123456\n", "<p>1234567</p>"); ex.HTML != CodeMismatch {
		t.Errorf("a longer digit run must not count as the code: %s", ex.HTML)
	}
	if ex := ExtractCode("Your code: 123456\n", "<p>Your code: 123456</p><p>code: 999999</p>"); ex.HTML != CodeMismatch {
		t.Errorf("another labelled code in the HTML: %s", ex.HTML)
	}
	if ex := ExtractCode("Your code: 123456\nhttps://x.test/r?code=123456&code=999999\n", ""); ex.Link != CodeMismatch {
		t.Errorf("a repeated code parameter: %s", ex.Link)
	}
}

func TestParseSpec(t *testing.T) {
	for in, want := range map[string]Spec{
		"s3://inbox-bucket/inbound/": {Kind: KindS3, Bucket: "inbox-bucket", Prefix: "inbound/"},
		"s3://b":                     {Kind: KindS3, Bucket: "b"},
		"imaps://test-staging@thephenom.app@imap.mail.us-east-1.awsapps.com/INBOX": {Kind: KindIMAPS, User: "test-staging@thephenom.app", Addr: "imap.mail.us-east-1.awsapps.com:993", Mailbox: "INBOX"},
		"imap://u%40x.test@127.0.0.1:1143/":                                        {Kind: KindIMAP, User: "u@x.test", Addr: "127.0.0.1:1143", Mailbox: "INBOX"},
		"maildir:out/maildir":                                                      {Kind: KindMaildir, Path: "out/maildir"},
	} {
		got, err := ParseSpec(in)
		if err != nil || got != want {
			t.Errorf("%s: %+v %v, want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "s3://", "maildir:", "imaps://host/INBOX", "imaps://u:secretpw@host/INBOX", "http://x", "pop3://u@h"} {
		_, err := ParseSpec(bad)
		if err == nil {
			t.Errorf("%q accepted", bad)
		} else if strings.Contains(err.Error(), "secretpw") {
			t.Errorf("the error quotes the password")
		}
	}
}

func TestVisibleText(t *testing.T) {
	for in, want := range map[string]string{
		"<p>a</p>b":                      " a b",
		"<STYLE>.x{}</style>c":           " c",
		"<style type=x>999999</STYLE >d": " d",
		"<script>1<2</script>e":          " e",
		"<!-- 123456 -->f":               " f",
		"<stylesheet>g</stylesheet>":     " g ",
		"no tags":                        "no tags",
		"<p unterminated":                " ",
		"<!-- open":                      " ",
		"x<style>never closed 123456":    "x ",
	} {
		if got := visibleText(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

// TestMailerGoldens: the code comes out of the mailer's own rendered
// ForgotPassword mail in every locale, text, HTML and link agreeing.
func TestMailerGoldens(t *testing.T) {
	texts, _ := filepath.Glob("../render/testdata/golden/*/ForgotPassword.txt")
	if len(texts) == 0 {
		t.Fatal("no ForgotPassword goldens under internal/render/testdata/golden/*/")
	}
	for _, txt := range texts {
		text, err := os.ReadFile(txt)
		if err != nil {
			t.Fatal(err)
		}
		html, err := os.ReadFile(strings.TrimSuffix(txt, ".txt") + ".html")
		if err != nil {
			t.Fatal(err)
		}
		ex := ExtractCode(string(text), string(html))
		if ex.Code != "123456" || ex.Text != CodeFound || ex.HTML != CodeMatch || ex.Link != CodeMatch {
			t.Errorf("%s: %+v", txt, ex)
		}
	}
}

func TestExtractCodeSpanish(t *testing.T) {
	for _, text := range []string{"Tu código: 123456\n", "TU CÓDIGO: 123456\n", "Tu código es 123456.\n"} {
		if ex := ExtractCode(text, ""); ex.Code != "123456" {
			t.Errorf("%q: %+v", text, ex)
		}
	}
}
