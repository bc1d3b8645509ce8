package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"github.com/Phenom-earth/phenom-mailer/internal/inbox"
	"github.com/Phenom-earth/phenom-mailer/internal/reset"
)

// TestRoundTripChain: `inboxreader roundtrip` succeeds through the S3
// source and through the IMAP source against the whole local chain, and
// signs in with the new password.
func TestRoundTripChain(t *testing.T) {
	c := needChain(t)
	c.env(t)
	for _, tc := range []struct {
		name, source string
		env          map[string]string
	}{
		{"s3", c.s3Source(), nil},
		{"imap", c.imapSource(), map[string]string{"INBOX_IMAP_PASSWORD": imapPassword}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := invoke(t, tc.env, "roundtrip",
				"--user-pool-id", c.Pool, "--client-id", c.Client, "--username", user,
				"--source", tc.source, "--auth", "password", "--resolver", c.DNS.Addr,
				"--timeout", "30s", "--json")
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, summary(stdout, stderr))
			}
			rep := decode(t, stdout)
			if rep["outcome"] != "ok" || rep["email_claim"] != user || rep["auth"] != "password" {
				t.Errorf("report: outcome %v, email claim %v, auth %v", rep["outcome"], rep["email_claim"], rep["auth"])
			}
			if _, has := rep["new_password"]; has {
				t.Errorf("the report shows the password without --show-password")
			}
			if d, _ := rep["destination"].(string); d == "" {
				t.Errorf("no destination reported")
			}
			stages, _ := rep["stages"].([]any)
			var names []string
			for _, s := range stages {
				s := s.(map[string]any)
				names = append(names, s["name"].(string))
				if s["ok"] != true {
					t.Errorf("stage %v failed: %v", s["name"], s["detail"])
				}
				if _, ok := s["duration_ms"].(float64); !ok {
					t.Errorf("stage %v has no duration", s["name"])
				}
			}
			if strings.Join(names, ",") != "forgot_password,wait_for_mail,confirm_forgot_password,sign_in,check_id_token" {
				t.Errorf("stages %v", names)
			}
			mail := rep["mail"].(map[string]any)
			if mail["trusted"] != true || mail["code_html"] != "match" || mail["code_link"] != "match" {
				t.Errorf("mail verdict %v", mail)
			}
			// cognito-local passes ForgotPassword's ClientId to the mailer as
			// callerContext.clientId: the link names the client, the run checks it.
			if mail["reset_cid"] != "found" || mail["reset_client_id"] != c.Client || rep["link_client"] != "match" {
				t.Errorf("cid: reset_cid %v, reset_client_id %v (want %s), link_client %v", mail["reset_cid"], mail["reset_client_id"], c.Client, rep["link_client"])
			}
			var aligned bool
			for _, s := range mail["signatures"].([]any) {
				s := s.(map[string]any)
				if s["domain"] == "thephenom.app" && s["selector"] == "mailer" && s["result"] == "pass" && s["aligned"] == true {
					aligned = true
				}
			}
			if !aligned {
				t.Errorf("no passing aligned thephenom.app signature in %v", mail["signatures"])
			}
			if len(mail["ses_verdicts"].([]any)) == 0 {
				t.Errorf("the receipt rule's SES verdicts are missing from the report")
			}
			if strings.Contains(stdout, `"code"`) {
				t.Errorf("the round trip report carries the code")
			}
		})
	}
	if errs := c.Rule.Stop(); len(errs) > 0 {
		t.Errorf("receipt rule: %v", errs)
	}
	c.Rule.Start()
	// The mailer's logs never hold the code or the address in clear.
	if logs := c.RIELog(); strings.Contains(logs, `"recipient":"`+user) {
		t.Errorf("the mailer logged the address unmasked")
	}
}

// TestRoundTripHumanOutput: without --json the stages print as they happen,
// and the password only with --show-password.
func TestRoundTripHumanOutput(t *testing.T) {
	c := needChain(t)
	c.env(t)
	stdout, stderr, code := invoke(t, nil, "roundtrip",
		"--user-pool-id", c.Pool, "--client-id", c.Client, "--username", user,
		"--source", c.s3Source(), "--auth", "password", "--resolver", c.DNS.Addr, "--show-password")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, summary(stdout, stderr))
	}
	for _, want := range []string{"ok   forgot_password", "ok   wait_for_mail", "ok   sign_in", " ms ", "trusted   yes", "d=thephenom.app s=mailer pass, aligned", "password  "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "not shown") {
		t.Errorf("--show-password did not show it")
	}
	// The shown password is the one that now signs in.
	var pw string
	for _, l := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(l, "password  ") {
			pw = strings.TrimSpace(strings.TrimPrefix(l, "password  "))
		}
	}
	out, err := c.Cognito.Client().InitiateAuth(context.Background(), &cip.InitiateAuthInput{
		AuthFlow: "USER_PASSWORD_AUTH", ClientId: aws.String(c.Client),
		AuthParameters: map[string]string{"USERNAME": user, "PASSWORD": pw},
	})
	if err != nil || out.AuthenticationResult == nil {
		t.Fatalf("the shown password does not sign in: %v", err)
	}
	assertNoSecret(t, "stderr", stderr, pw)
}

// wrongCode changes the code on its way to ConfirmForgotPassword.
type wrongCode struct{ reset.Cognito }

func (w wrongCode) ConfirmForgotPassword(ctx context.Context, in *cip.ConfirmForgotPasswordInput, opts ...func(*cip.Options)) (*cip.ConfirmForgotPasswordOutput, error) {
	c := []byte(aws.ToString(in.ConfirmationCode))
	c[0] = '0' + (c[0]-'0'+1)%10
	in.ConfirmationCode = aws.String(string(c))
	return w.Cognito.ConfirmForgotPassword(ctx, in, opts...)
}

// TestWrongCodeSurfacesCodeMismatch: cognito-local checks codes exactly; a
// wrong one comes back as CodeMismatch, exit code 5, and the password is
// unchanged.
func TestWrongCodeSurfacesCodeMismatch(t *testing.T) {
	c := needChain(t)
	src := sourceFor(t, c)
	lookup, _ := inbox.Resolver(c.DNS.Addr)
	rep, err := reset.Run(context.Background(), reset.Config{
		Cognito: wrongCode{c.Cognito.Client()}, PoolID: c.Pool, ClientID: c.Client,
		Username: user, Email: user, Auth: reset.AuthPassword,
		Source: src, LookupTXT: lookup, Timeout: 20 * time.Second,
	})
	var ce *reset.CognitoError
	if !errors.As(err, &ce) || ce.Name != "CodeMismatch" || ce.Op != "ConfirmForgotPassword" {
		t.Fatalf("want CodeMismatch from ConfirmForgotPassword, got %v", err)
	}
	if exitCode(err) != exitCognito {
		t.Errorf("exit code %d, want %d", exitCode(err), exitCognito)
	}
	if rep.Mail == nil || !rep.Mail.Trusted || rep.NewPassword != "" {
		t.Errorf("the mail should have been trusted and no password set")
	}
	if !strings.Contains(err.Error(), "CodeMismatch") || strings.Contains(err.Error(), rep.Mail.Code) {
		t.Errorf("the error must name CodeMismatch and never quote the code")
	}
}

func sourceFor(t *testing.T, c *chain) inbox.Source {
	t.Helper()
	c.env(t)
	s, closer, err := (&common{source: c.s3Source(), from: inbox.DefaultFrom}).openSource(context.Background(), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closer)
	return s
}
