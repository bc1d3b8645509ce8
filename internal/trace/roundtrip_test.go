package trace

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/delivery"
	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

func TestSESMessageID(t *testing.T) {
	for in, want := range map[string]string{
		"<0100018c2f7e5a1b-2a9c7e11-4b6e-4c1b-9d8e-6f1e2b3c4d5e-000000@email.amazonses.com>": "0100018c2f7e5a1b-2a9c7e11-4b6e-4c1b-9d8e-6f1e2b3c4d5e-000000",
		"<0102018c2f7e5a1b-000000@eu-west-1.amazonses.com>":                                  "0102018c2f7e5a1b-000000",
		"<a1b2c3d4e5f6@thephenom.app>":                                                       "",
		"<x@email.amazonses.com.evil.example>":                                               "",
		"":                                                                                   "",
	} {
		if got := SESMessageID(in); got != want {
			t.Errorf("SESMessageID(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRoundTripMail reads a record in moto's DynamoDB: the mail found by
// the Message-ID header SES sets, or, as with moto's own sends, by the
// recipient; and a Delivery event that arrives while it waits.
func TestRoundTripMail(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test (-short)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := standin.MotoForTest(t)
	if err := m.CreateDeliveryTable(ctx, "deliveries"); err != nil {
		t.Fatal(err)
	}
	store := &delivery.Store{Client: m.DynamoClient(), Table: "deliveries"}
	const addr = "test-staging@thephenom.app"
	start := time.Now().Add(-time.Second)
	mid := "0100018c2f7e5a1b-2a9c7e11-4b6e-4c1b-9d8e-6f1e2b3c4d5e-000000"
	if err := store.RecordAttempt(ctx, delivery.Attempt{Trigger: "ForgotPassword", Pool: "p", Outcome: "sent", MessageID: mid, RequestID: "r-1", Recipient: addr}); err != nil {
		t.Fatal(err)
	}
	// No event yet: after the wait, the mail is reported as accepted only.
	r, err := RoundTripMail(ctx, store, "<"+mid+"@email.amazonses.com>", addr, start, 600*time.Millisecond)
	if err != nil || r == nil || r.FoundBy != "message-id header" || !r.Delivered.IsZero() || r.Trigger != "ForgotPassword" {
		t.Fatalf("before the event: %+v, %v", r, err)
	}
	go func() {
		time.Sleep(700 * time.Millisecond)
		_ = store.RecordEvent(context.Background(), delivery.Event{MessageID: mid, Type: "Delivery", Time: time.Now(), Digest: "d1",
			Recipient: addr, SMTPResponse: "250 2.0.0 OK", RemoteMTAIP: "192.0.2.25"})
	}()
	r, err = RoundTripMail(ctx, store, "<a1b2c3@thephenom.app>", addr, start, 20*time.Second)
	if err != nil || r == nil || r.FoundBy != "recipient" || r.Delivered.IsZero() || r.Server != "192.0.2.25" || r.SMTP != "250 2.0.0 OK" {
		t.Fatalf("after the event: %+v, %v", r, err)
	}
	if !strings.Contains(r.Description, "delivered") || strings.Contains(r.Description, addr) {
		t.Errorf("description %q", r.Description)
	}
	if r, err := RoundTripMail(ctx, store, "", "nobody@thephenom.app", start, 0); r != nil || err != nil {
		t.Errorf("unknown address: %+v, %v", r, err)
	}
}
