package cognito

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

const (
	stagingPool   = "us-east-1_n8gO6SbP6"
	stagingClient = "6sjjnkaeagnqgkmbl1mr5rtfsr"
	prodClient    = "8uun49ru7f3fdvmlc12vqig3a"
)

var resetLinkRE = regexp.MustCompile(`https://www\.thephenom\.app/reset-password\?[^\s"<]+`)

// resetLinkParams is the query of the reset link in the text part, after
// checking that every link of the mail (text and HTML) is the same one.
func resetLinkParams(t *testing.T, text, html string) url.Values {
	t.Helper()
	links := resetLinkRE.FindAllString(text, -1)
	if len(links) != 1 {
		t.Fatalf("%d reset links in the text part, want 1", len(links))
	}
	for _, h := range resetLinkRE.FindAllString(html, -1) {
		if strings.ReplaceAll(h, "&amp;", "&") != links[0] {
			t.Errorf("the HTML part links %q, the text part %q", h, links[0])
		}
	}
	u, err := url.Parse(links[0])
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// The reset link's cid: the event's client, else the pool's default, else
// none; the placeholder Cognito sends for admin requests, null and a
// malformed id name no client.
func TestResetLinkClientID(t *testing.T) {
	hostile := "abc&code=000000&email=attacker%40evil.example&cid=" + prodClient
	tests := []struct {
		name     string
		clientID *string // nil: "clientId": null
		defaults map[string]string
		wantCID  string // "" = no cid parameter
	}{
		{"event client", ptr(stagingClient), nil, stagingClient},
		{"event client over the pool default", ptr(prodClient), map[string]string{stagingPool: stagingClient}, prodClient},
		{"null, pool default", nil, map[string]string{stagingPool: stagingClient}, stagingClient},
		{"null, no default", nil, nil, ""},
		{"empty, pool default", ptr(""), map[string]string{stagingPool: stagingClient}, stagingClient},
		{"CLIENT_ID_NOT_APPLICABLE, pool default", ptr(ClientIDNotApplicable), map[string]string{stagingPool: stagingClient}, stagingClient},
		{"CLIENT_ID_NOT_APPLICABLE, no default", ptr(ClientIDNotApplicable), nil, ""},
		{"CLIENT_ID_NOT_APPLICABLE, another pool's default only", ptr(ClientIDNotApplicable), map[string]string{"us-east-1_knEL7cqS3": prodClient}, ""},
		{"hostile, pool default", ptr(hostile), map[string]string{stagingPool: stagingClient}, stagingClient},
		{"hostile, no default", ptr(hostile), nil, ""},
		{"too long, no default", ptr(strings.Repeat("a", 129)), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.h.PoolClients = tt.defaults
			cid := "null"
			if tt.clientID != nil {
				cid = `"` + jsonEscape(*tt.clientID) + `"`
			}
			raw := `{"version":"1","triggerSource":"CustomEmailSender_ForgotPassword","region":"us-east-1",
			 "userPoolId":"` + stagingPool + `","userName":"u","callerContext":{"awsSdkVersion":"x","clientId":` + cid + `},
			 "request":{"type":"customEmailSenderRequestV1","code":"ct-code","clientMetadata":null,
			 "userAttributes":{"email":"qa+reset@thephenom.app"}},"response":{}}`
			res := f.h.HandleJSON(context.Background(), []byte(raw))
			if res.Outcome != OutcomeSent {
				t.Fatalf("%+v", res)
			}
			m := f.snd.sent[0]
			q := resetLinkParams(t, m.Text, m.HTML)
			if q.Get("code") != "482913" || q.Get("email") != "qa+reset@thephenom.app" || len(q["code"]) != 1 || len(q["email"]) != 1 {
				t.Errorf("link parameters %v: code or email lost or repeated", redactCode(q))
			}
			switch {
			case tt.wantCID == "" && q.Has("cid"):
				t.Errorf("cid = %q, want none", q["cid"])
			case tt.wantCID != "" && (len(q["cid"]) != 1 || q.Get("cid") != tt.wantCID):
				t.Errorf("cid = %q, want %q", q["cid"], tt.wantCID)
			}
			if len(q) != 2+len(q["cid"]) {
				t.Errorf("link parameters %v: want only code, email and cid", redactCode(q))
			}
		})
	}
}

// Only the ForgotPassword mail has a reset link.
func TestClientIDOnlyInResetLink(t *testing.T) {
	f := newFixture(t)
	f.h.PoolClients = map[string]string{stagingPool: stagingClient}
	for _, trig := range TriggerSources {
		if trig == TriggerForgotPassword {
			continue
		}
		ct := "ct-code"
		if trig == TriggerAdminCreateUser {
			ct = "ct-temp"
		} else if trig == TriggerAccountTakeOverNotification {
			ct = ""
		}
		f.h.Handle(context.Background(), event(trig, ct, nil))
		if f.rend.last.ClientID != "" {
			t.Errorf("%s: render data has client id %q", trig.Name(), f.rend.last.ClientID)
		}
	}
}

func TestValidClientID(t *testing.T) {
	for id, want := range map[string]bool{
		stagingClient:                true,
		"a":                          true,
		"with_underscore+plus":       true,
		strings.Repeat("a", 128):     true,
		strings.Repeat("a", 129):     false,
		"":                           false,
		ClientIDNotApplicable:        false,
		"has space":                  false,
		"a&b=c":                      false,
		"dash-is-not-in-the-pattern": false,
		"line\nbreak":                false,
		"ünïcode":                    false,
	} {
		if got := ValidClientID(id); got != want {
			t.Errorf("ValidClientID(%q) = %v, want %v", id, got, want)
		}
	}
}

func ptr(s string) *string { return &s }

func jsonEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// redactCode keeps a failure message free of the code.
func redactCode(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		if k == "code" {
			v = []string{"[redacted]"}
		}
		out[k] = v
	}
	return out
}

// FuzzValidClientID holds the byte loop to Cognito's documented pattern
// written as a regexp, [\w+]{1,128}.
func FuzzValidClientID(f *testing.F) {
	documented := regexp.MustCompile(`^[\w+]{1,128}$`)
	for _, s := range []string{stagingClient, "a", "a+b_c", "", "a-b", "line\n", "ü", strings.Repeat("x", 128), strings.Repeat("x", 129)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		want := id != ClientIDNotApplicable && documented.MatchString(id)
		if got := ValidClientID(id); got != want {
			t.Fatalf("ValidClientID(%q) = %v, the documented pattern says %v", id, got, want)
		}
	})
}
