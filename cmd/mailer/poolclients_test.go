package main

import (
	"maps"
	"strings"
	"testing"

	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

func TestConfigPoolClients(t *testing.T) {
	base := map[string]string{
		"MAILER_KMS_KEY_ARNS":  "arn:aws:kms:us-east-1:657033058608:key/a",
		"MAILER_ALLOWED_POOLS": "us-east-1_n8gO6SbP6,us-east-1_knEL7cqS3,us-east-1_AkG9mnbjA",
	}
	env := func(v string) func(string) string {
		m := maps.Clone(base)
		m["MAILER_POOL_CLIENTS"] = v
		return envMap(m)
	}
	c, err := loadConfig(env(" us-east-1_n8gO6SbP6=6sjjnkaeagnqgkmbl1mr5rtfsr, us-east-1_knEL7cqS3=8uun49ru7f3fdvmlc12vqig3a "))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"us-east-1_n8gO6SbP6": "6sjjnkaeagnqgkmbl1mr5rtfsr", "us-east-1_knEL7cqS3": "8uun49ru7f3fdvmlc12vqig3a"}
	if !maps.Equal(c.PoolClients, want) {
		t.Errorf("PoolClients = %v, want %v", c.PoolClients, want)
	}
	if c, err := loadConfig(env("")); err != nil || len(c.PoolClients) != 0 {
		t.Errorf("unset: %v, %v", c.PoolClients, err)
	}

	// Every problem at once, each naming the variable.
	_, err = loadConfig(env("us-east-1_n8gO6SbP6=6sjjnkaeagnqgkmbl1mr5rtfsr,,us-east-1_other=abc,nopool,us-east-1_AkG9mnbjA=CLIENT_ID_NOT_APPLICABLE," +
		"us-east-1_n8gO6SbP6=abc,us-east-1_knEL7cqS3=a&cid=x,us-east-1_knEL7cqS3="))
	if err == nil {
		t.Fatal("bad MAILER_POOL_CLIENTS accepted")
	}
	for _, want := range []string{
		"entry 2 is empty",
		`pool "us-east-1_other" is not in MAILER_ALLOWED_POOLS`,
		`entry 4 "nopool" is not poolId=clientId`,
		`"CLIENT_ID_NOT_APPLICABLE" is not an app client id`,
		`pool "us-east-1_n8gO6SbP6" is given more than once`,
		`entry 7 "us-east-1_knEL7cqS3=a&cid=x" is not poolId=clientId`,
		`entry 8 "us-east-1_knEL7cqS3=" is not poolId=clientId`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := loadConfig(env("us-east-1_n8gO6SbP6=has space")); err == nil || !strings.Contains(err.Error(), "not an app client id") {
		t.Errorf("a client id with a space: %v", err)
	}
	if _, err := loadConfig(env("us-east-1_n8gO6SbP6=" + strings.Repeat("a", 129))); err == nil {
		t.Error("a 129-character client id accepted")
	}
	// Reported together with the other variables' problems.
	m := maps.Clone(base)
	m["MAILER_POOL_CLIENTS"] = "x"
	m["MAILER_TIMEOUT"] = "soon"
	if _, err := loadConfig(envMap(m)); err == nil || !strings.Contains(err.Error(), "MAILER_POOL_CLIENTS") || !strings.Contains(err.Error(), "MAILER_TIMEOUT") {
		t.Errorf("not every problem reported: %v", err)
	}
}

// The reset link's cid through the real wiring: MAILER_POOL_CLIENTS read by
// config.go, the handler, local-kms and moto's SES.
func TestInvokeResetLinkClientID(t *testing.T) {
	needStack(t)
	const poolDefault = "defaultclient0000000000000"
	for _, tt := range []struct {
		name, clientID, poolClients, wantCID string
	}{
		{"the event's client", "", "", "6sjjnkaeagnqgkmbl1mr5rtfsr"},
		{"CLIENT_ID_NOT_APPLICABLE with a pool default", "CLIENT_ID_NOT_APPLICABLE", standin.StagingPool + "=" + poolDefault, poolDefault},
		{"CLIENT_ID_NOT_APPLICABLE without one", "CLIENT_ID_NOT_APPLICABLE", standin.DevLocalPool + "=" + poolDefault, ""},
		{"hostile client id", "x&email=eve%40example.com", standin.StagingPool + "=" + poolDefault, poolDefault},
	} {
		t.Run(tt.name, func(t *testing.T) {
			freshSES(t, true)
			mailerEnv(t, map[string]string{"MAILER_POOL_CLIENTS": tt.poolClients})
			ev := readEvent(t, "ForgotPassword")
			if ev["userPoolId"] != standin.StagingPool {
				t.Fatal("fixture changed: the reset event must come from the staging pool")
			}
			if tt.clientID != "" {
				ev["callerContext"].(map[string]any)["clientId"] = tt.clientID
			}
			res, _, _ := invoke(t, marshal(t, ev))
			if res.Outcome != "sent" {
				t.Fatalf("%+v", res)
			}
			env := parseMail(t, sentMails(t)[0])
			want := "https://www.thephenom.app/reset-password?code=836251&email=qa%2Breset%40thephenom.app"
			if tt.wantCID != "" {
				want += "&cid=" + tt.wantCID
			}
			if !strings.Contains(env.Text, want+"\r\n") { // the link ends its line (text parts end lines in CRLF)
				t.Errorf("the text part lacks the reset link with cid %q", tt.wantCID)
			}
			if !strings.Contains(env.HTML, `href="`+strings.ReplaceAll(want, "&", "&amp;")+`"`) {
				t.Errorf("the HTML part lacks the reset link with cid %q", tt.wantCID)
			}
		})
	}
}
