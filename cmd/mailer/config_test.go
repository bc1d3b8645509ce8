package main

import (
	"strings"
	"testing"
	"time"
)

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigDefaults(t *testing.T) {
	c, err := loadConfig(envMap(map[string]string{
		"MAILER_KMS_KEY_ARNS":  "arn:aws:kms:us-east-1:657033058608:key/a, arn:aws:kms:us-east-1:657033058608:key/b",
		"MAILER_ALLOWED_POOLS": "us-east-1_n8gO6SbP6,us-east-1_AkG9mnbjA",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.KMSKeyARNs) != 2 || len(c.AllowedPools) != 2 {
		t.Errorf("lists = %v %v", c.KMSKeyARNs, c.AllowedPools)
	}
	if !c.RequirePoolContext || !c.RequireDKIM || c.Delivery != "ses" || c.Timeout != 30*time.Second {
		t.Errorf("defaults = %+v", c)
	}
	if c.ResetURL != "https://www.thephenom.app/reset-password" || c.From != "Phenom <noreply@thephenom.app>" || c.DKIMDomain != "thephenom.app" {
		t.Errorf("defaults = %+v", c)
	}
}

func TestConfigReportsEveryProblem(t *testing.T) {
	_, err := loadConfig(envMap(map[string]string{
		"MAILER_REQUIRE_POOL_CONTEXT": "maybe",
		"MAILER_DELIVERY":             "smtp",
		"MAILER_TIMEOUT":              "-1s",
		"PASSWORD_RESET_URL":          "/relative",
		"MAILER_FROM":                 "Phenom <noreply@thephenom.app>\r\nBcc: x@y",
		"MAILER_DKIM_SELECTOR":        "s1",
	}))
	if err == nil {
		t.Fatal("bad configuration accepted")
	}
	for _, want := range []string{"MAILER_KMS_KEY_ARNS", "MAILER_ALLOWED_POOLS", "MAILER_REQUIRE_POOL_CONTEXT", "MAILER_DELIVERY", "MAILER_TIMEOUT", "PASSWORD_RESET_URL", "MAILER_FROM", "MAILER_DKIM_SELECTOR"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
}

func TestConfigMaildirAndDKIMKey(t *testing.T) {
	c, err := loadConfig(envMap(map[string]string{
		"MAILER_KMS_KEY_ARNS":         "arn:aws:kms:us-east-1:111122223333:key/x",
		"MAILER_ALLOWED_POOLS":        "us-east-1_n8gO6SbP6",
		"MAILER_DELIVERY":             "maildir:/tmp/md",
		"MAILER_REQUIRE_POOL_CONTEXT": "false",
		"MAILER_DKIM_SELECTOR":        "s1",
		"MAILER_DKIM_PRIVATE_KEY":     "-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----\n",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.MaildirPath != "/tmp/md" || c.RequirePoolContext || c.DKIMSelector != "s1" || len(c.DKIMPrivateKey) == 0 {
		t.Errorf("config = %+v", c)
	}
}

func TestConfigSuppressionAndDoctorSettings(t *testing.T) {
	base := map[string]string{
		"MAILER_KMS_KEY_ARNS":  "arn:aws:kms:us-east-1:111122223333:key/x",
		"MAILER_ALLOWED_POOLS": "us-east-1_n8gO6SbP6",
	}
	c, err := loadConfig(envMap(base))
	if err != nil || !c.CheckSuppression {
		t.Fatalf("default: check %v, err %v", c.CheckSuppression, err)
	}
	base["MAILER_CHECK_SUPPRESSION"] = "false"
	base["MAILER_EVENTS_DLQ_URL"] = " https://sqs.us-east-1.amazonaws.com/1/dlq "
	base["MAILER_SEND_DLQ_URL"] = " https://sqs.us-east-1.amazonaws.com/1/send-dlq "
	base["MAILER_ALARM_PREFIX"] = "phenom-mailer-staging-"
	if c, err = loadConfig(envMap(base)); err != nil || c.CheckSuppression || c.EventsDLQURL != "https://sqs.us-east-1.amazonaws.com/1/dlq" ||
		c.SendDLQURL != "https://sqs.us-east-1.amazonaws.com/1/send-dlq" || c.AlarmPrefix != "phenom-mailer-staging-" {
		t.Fatalf("%+v, %v", c, err)
	}
	base["MAILER_CHECK_SUPPRESSION"] = "sometimes"
	if _, err := loadConfig(envMap(base)); err == nil || !strings.Contains(err.Error(), "MAILER_CHECK_SUPPRESSION") {
		t.Errorf("MAILER_CHECK_SUPPRESSION=sometimes: %v", err)
	}
	for _, v := range []string{"MAILER_CHECK_SUPPRESSION", "MAILER_EVENTS_DLQ_URL", "MAILER_SEND_DLQ_URL", "MAILER_FAILED_EVENTS_QUEUE_URL", "MAILER_ALARM_PREFIX"} {
		if !strings.Contains(envDoc, v) {
			t.Errorf("mailer help does not document %s", v)
		}
	}
}

// TestRenderConfigStoreLinks: the welcome mail's links are configuration,
// https only, and `mailer preview` reads them without any KMS variable.
func TestRenderConfigStoreLinks(t *testing.T) {
	c, err := loadRenderConfig(envMap(map[string]string{"MAILER_APP_STORE_URL": "https://apps.example.com/phenom"}))
	if err != nil {
		t.Fatalf("loadRenderConfig without KMS variables: %v", err)
	}
	if c.WebAppURL != "https://www.thephenom.app" || c.AppStoreURL != "https://apps.example.com/phenom" || c.PlayStoreURL != "" {
		t.Errorf("render config %+v", c)
	}
	_, err = loadRenderConfig(envMap(map[string]string{"MAILER_PLAY_STORE_URL": "http://play.example.com/x"}))
	if err == nil || !strings.Contains(err.Error(), "MAILER_PLAY_STORE_URL") {
		t.Errorf("an http store link: %v, want a MAILER_PLAY_STORE_URL error", err)
	}
}
