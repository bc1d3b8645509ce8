package inbox

import (
	"bytes"
	"context"
	"net/textproto"
	"strings"
	"testing"
)

// Each step of the trust policy alone: what it accepts, what it refuses
// and with which reason, and what it records in the verdict.

func newTestVerdict() *Verdict { return &Verdict{Signatures: []Signature{}, SES: []HeaderVerdict{}} }

func wantRefusal(t *testing.T, r *UntrustedError, reason string) {
	t.Helper()
	if reason == "" {
		if r != nil {
			t.Fatalf("refused: %s: %s", r.Reason, r.Detail)
		}
		return
	}
	if r == nil {
		t.Fatalf("accepted, want %s", reason)
	}
	if r.Reason != reason {
		t.Fatalf("reason %s (%s), want %s", r.Reason, r.Detail, reason)
	}
	if strings.Contains(r.Detail, testCode) {
		t.Fatal("the refusal quotes the code")
	}
}

func TestStepSender(t *testing.T) {
	good := build(t, mailOpts{}) // the sender step does not look at signatures
	cases := []struct {
		name, reason string
		raw          []byte
		from         string
	}{
		{"the expected sender", "", good, DefaultFrom},
		{"the expected sender in another case", "", good, strings.ToUpper(DefaultFrom)},
		{"another expected sender", RefuseFromDomain, good, "noreply@example.com"},
		{"a second From", RefuseHeader, append([]byte("From: evil@example.com\r\n"), good...), DefaultFrom},
		{"no From", RefuseHeader, bytes.Replace(good, []byte("From:"), []byte("X-Was-From:"), 1), DefaultFrom},
		{"From with two addresses", RefuseHeader, bytes.Replace(good, []byte("From: "), []byte("From: evil@example.com, "), 1), DefaultFrom},
		{"a repeated Subject", RefuseHeader, append([]byte("Subject: Urgent\r\n"), good...), DefaultFrom},
		{"a repeated Date", RefuseHeader, append([]byte("Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"), good...), DefaultFrom},
		{"two Sender headers", RefuseHeader, append([]byte("Sender: a@thephenom.app\r\nSender: b@example.com\r\n"), good...), DefaultFrom},
		{"an unreadable header", RefuseHeader, []byte("this is not a header line\r\n\r\nbody"), DefaultFrom},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := newTestVerdict()
			h, r := checkSender(v, c.raw, c.from)
			wantRefusal(t, r, c.reason)
			if c.reason == "" {
				if h == nil || v.From != DefaultFrom || v.To != testTo || v.Subject != "Reset your Phenom password" || v.Date.IsZero() {
					t.Fatalf("recorded From %q To %q Subject %q Date %v", v.From, v.To, v.Subject, v.Date)
				}
			}
		})
	}
}

func TestStepSESVerdicts(t *testing.T) {
	cases := []struct {
		name, reason string
		header       map[string][]string
		verdicts     int
	}{
		{"no SES headers (not received through SES)", "", nil, 0},
		{"all pass", "", map[string][]string{
			"X-Ses-Spam-Verdict": {"PASS"}, "X-Ses-Virus-Verdict": {" pass "},
			"Authentication-Results": {"amazonses.com; spf=pass smtp.mailfrom=thephenom.app; dkim=pass header.i=@thephenom.app; dmarc=pass header.from=thephenom.app"},
		}, 5},
		{"SPF and DMARC only reported unless they fail", "", map[string][]string{
			"Authentication-Results": {"amazonses.com; spf=softfail; dkim=pass; dmarc=none"},
		}, 3},
		{"another server's results are ignored", "", map[string][]string{
			"Authentication-Results": {"mx.example.com; dkim=fail; spf=fail"},
		}, 0},
		{"spam", RefuseSESVerdict, map[string][]string{"X-Ses-Spam-Verdict": {"FAIL"}}, 1},
		{"virus gray", RefuseSESVerdict, map[string][]string{"X-Ses-Spam-Verdict": {"PASS"}, "X-Ses-Virus-Verdict": {"GRAY"}}, 2},
		{"SES dkim none", RefuseSESVerdict, map[string][]string{"Authentication-Results": {"amazonses.com; dkim=none"}}, 1},
		{"SES spf fail", RefuseSESVerdict, map[string][]string{"Authentication-Results": {"amazonses.com; spf=fail; dkim=pass"}}, 2},
		{"SES dmarc fail", RefuseSESVerdict, map[string][]string{"Authentication-Results": {"AmazonSES.com; dmarc=fail"}}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := newTestVerdict()
			wantRefusal(t, checkSESVerdicts(v, textproto.MIMEHeader(c.header)), c.reason)
			if len(v.SES) != c.verdicts {
				t.Fatalf("recorded %d verdicts, want %d: %+v", len(v.SES), c.verdicts, v.SES)
			}
			failing := 0
			for _, hv := range v.SES {
				if !hv.Pass {
					failing++
				}
			}
			if (failing > 0) != (c.reason != "") {
				t.Fatalf("verdicts %+v for reason %q", v.SES, c.reason)
			}
		})
	}
}

func TestStepDKIM(t *testing.T) {
	good := build(t, mailOpts{signers: []string{"thephenom.app"}})
	tempfail := func(context.Context, string) ([]string, error) { return nil, errTemp }
	manySigned := good
	for range maxDKIMSignatures + 2 {
		manySigned = sign(t, manySigned, "example.com")
	}
	cases := []struct {
		name, reason string
		raw          []byte
		lookup       func(context.Context, string) ([]string, error)
		signatures   int
	}{
		{"aligned and passing", "", good, lookup, 1},
		{"aligned among others", "", build(t, mailOpts{signers: []string{"example.com", "thephenom.app", "amazonses.com"}}), lookup, 3},
		{"unsigned", RefuseUnsigned, build(t, mailOpts{}), lookup, 0},
		{"another domain only", RefuseUnaligned, build(t, mailOpts{signers: []string{"example.com"}}), lookup, 1},
		{"the parent domain", RefuseUnaligned, build(t, mailOpts{signers: []string{"app"}}), lookup, 1},
		{"body changed", RefuseDKIMFail, bytes.Replace(good, []byte("choose a new password"), []byte("choose a new passw0rd"), 1), lookup, 1},
		{"key lookup fails temporarily", RefuseDKIMTemp, good, tempfail, 1},
		{"more signatures than verified", RefuseUnaligned, manySigned, lookup, maxDKIMSignatures},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := newTestVerdict()
			wantRefusal(t, checkDKIM(context.Background(), v, c.raw, "thephenom.app", c.lookup), c.reason)
			if len(v.Signatures) != c.signatures {
				t.Fatalf("recorded %d signatures, want %d: %+v", len(v.Signatures), c.signatures, v.Signatures)
			}
			for _, s := range v.Signatures {
				if s.Aligned != (s.Domain == "thephenom.app") || s.Selector != "mailer" {
					t.Errorf("signature %+v", s)
				}
			}
		})
	}
}

func TestStepContent(t *testing.T) {
	// Unsigned mail: the content step does not look at signatures.
	cases := []struct {
		name, reason string
		raw          []byte
	}{
		{"the reset mail", "", build(t, mailOpts{})},
		{"links naming one client", "", build(t, mailOpts{text: withCID(resetText(testCode), "&", testCID), html: withCID(resetHTML(testCode), "&amp;", testCID)})},
		{"no code", RefuseCodeMissing, build(t, mailOpts{text: "Hello, no code here.\n", html: "<p>Hello</p>"})},
		{"two codes", RefuseCodeAmbig, build(t, mailOpts{text: "Your code: 111111\nYour code: 222222\n"})},
		{"HTML shows another code", RefuseCodeHTML, build(t, mailOpts{html: resetHTML("999999")})},
		{"link carries another code", RefuseCodeLink, build(t, mailOpts{text: strings.Replace(resetText(testCode), "?code="+testCode, "?code=999999", 1)})},
		{"links naming different clients", RefuseCIDLink, build(t, mailOpts{text: withCID(resetText(testCode), "&", testCID), html: withCID(resetHTML(testCode), "&amp;", "another")})},
		{"multipart sections over the limit", RefuseMIME, deepMIME(maxMultipart + 1)},
		{"multipart sections at the limit", "", deepMIME(maxMultipart)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := newTestVerdict()
			wantRefusal(t, checkContent(v, c.raw), c.reason)
			if (v.Code == testCode) != (c.reason == "") {
				t.Fatalf("code set %v for reason %q", v.Code != "", c.reason)
			}
		})
	}
}

// The steps' order decides the reason when several would refuse: the
// sender first, then the signature, then SES's verdicts, then the content.
func TestStepOrder(t *testing.T) {
	unsigned := build(t, mailOpts{text: "Hello, no code here.\n", html: "<p>Hello</p>"})
	signedNoCode := build(t, mailOpts{signers: []string{"thephenom.app"}, text: "Hello, no code here.\n", html: "<p>Hello</p>"})
	cases := []struct {
		name, reason string
		raw          []byte
	}{
		{"other sender, unsigned, spam", RefuseFromDomain, append([]byte("X-SES-Spam-Verdict: FAIL\r\n"), build(t, mailOpts{from: "noreply@example.com"})...)},
		{"unsigned, spam, no code", RefuseUnsigned, append([]byte("X-SES-Spam-Verdict: FAIL\r\n"), unsigned...)},
		{"signed, spam, no code", RefuseSESVerdict, append([]byte("X-SES-Spam-Verdict: FAIL\r\n"), signedNoCode...)},
		{"signed, no code", RefuseCodeMissing, signedNoCode},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := check(context.Background(), msg(c.raw), policy)
			if v.Trusted || v.Reason != c.reason {
				t.Fatalf("trusted %v reason %q (%s), want %q", v.Trusted, v.Reason, v.Detail, c.reason)
			}
		})
	}
}
