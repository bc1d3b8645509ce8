package main

import (
	"strings"
	"testing"
	"time"
)

func TestDeliveryConfig(t *testing.T) {
	c, err := loadDeliveryConfig(envMap(nil))
	if err != nil || c.Table != "" || c.TTL != 30*24*time.Hour {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	for v, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "36h": 36 * time.Hour, " 90d ": 90 * 24 * time.Hour} {
		c, err := loadDeliveryConfig(envMap(map[string]string{"MAILER_DELIVERY_TABLE": "t", "MAILER_DELIVERY_TTL": v}))
		if err != nil || c.TTL != want || c.Table != "t" {
			t.Errorf("%q: %+v, %v", v, c, err)
		}
	}
	for _, v := range []string{"0d", "-1h", "soon", "1.5d", "d"} {
		if _, err := loadDeliveryConfig(envMap(map[string]string{"MAILER_DELIVERY_TTL": v})); err == nil || !strings.Contains(err.Error(), "MAILER_DELIVERY_TTL") {
			t.Errorf("%q accepted: %v", v, err)
		}
	}
	// The sender's configuration reports a bad TTL with its other problems.
	if _, err := loadConfig(envMap(map[string]string{"MAILER_DELIVERY_TTL": "soon"})); err == nil || !strings.Contains(err.Error(), "MAILER_DELIVERY_TTL") || !strings.Contains(err.Error(), "MAILER_KMS_KEY_ARNS") {
		t.Errorf("loadConfig: %v", err)
	}
	// `mailer help` documents both.
	if !strings.Contains(envDoc, "MAILER_DELIVERY_TABLE") || !strings.Contains(envDoc, "MAILER_DELIVERY_TTL") {
		t.Error("envDoc lacks the delivery variables")
	}
}
