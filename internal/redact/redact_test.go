package redact

import "testing"

func TestEmail(t *testing.T) {
	for in, want := range map[string]string{
		"qa+reset@thephenom.app": "q***@thephenom.app",
		"Émile@example.com":      "É***@example.com",
		"":                       "",
		"@thephenom.app":         "***",
		"nobody@":                "***",
		"a@b\r\nBcc: x@y":        "***",
		"no-at-sign":             "***",
	} {
		if got := Email(in); got != want {
			t.Errorf("Email(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEmailsInText(t *testing.T) {
	for in, want := range map[string]string{
		"smtp; 550 5.1.1 <user@example.com>: Recipient address rejected": "smtp; 550 5.1.1 <u***@example.com>: Recipient address rejected",
		"250 2.0.0 OK to=test-staging@thephenom.app, x@y.z":              "250 2.0.0 OK t***@thephenom.app, x***@y.z",
		"250 2.6.0 Message received":                                     "250 2.6.0 Message received",
	} {
		if got := Emails(in); got != want {
			t.Errorf("Emails(%q) = %q, want %q", in, got, want)
		}
	}
}
