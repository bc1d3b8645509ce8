package delivery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// These tests run against moto's DynamoDB on 127.0.0.1, with the table and
// index the Terraform module creates.

func newStore(t *testing.T) (*Store, *standin.Moto) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test (-short)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := standin.MotoForTest(t)
	if err := m.CreateDeliveryTable(ctx, "deliveries"); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	return &Store{Client: m.DynamoClient(), Table: "deliveries", TTL: 48 * time.Hour, Now: func() time.Time { return now }}, m
}

func TestRecordAndFind(t *testing.T) {
	s, m := newStore(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	sent := Attempt{Trigger: "ForgotPassword", Pool: "us-east-1_n8gO6SbP6", ClientID: "c1", Outcome: "sent",
		MessageID: "m-1", RequestID: "r-1", Time: t0, Recipient: "Test-Staging@thephenom.app"}
	if err := s.RecordAttempt(ctx, sent); err != nil {
		t.Fatal(err)
	}
	refused := Attempt{Trigger: "SignUp", Pool: "p", Outcome: "refused", Reason: "pool_not_allowed",
		RequestID: "r-2", Time: t0.Add(time.Minute), Recipient: "test-staging@thephenom.app"}
	if err := s.RecordAttempt(ctx, refused); err != nil {
		t.Fatal(err)
	}
	other := Attempt{Trigger: "SignUp", Pool: "p", Outcome: "sent", MessageID: "m-3", RequestID: "r-3",
		Time: t0, Recipient: "someone@example.com"}
	if err := s.RecordAttempt(ctx, other); err != nil {
		t.Fatal(err)
	}
	ev := Event{MessageID: "m-1", Type: "Bounce", Time: t0.Add(2 * time.Second), Digest: "d1",
		Recipient: "test-staging@thephenom.app", BounceType: "Permanent", BounceSubType: "General",
		DiagnosticCode: "smtp; 550 5.1.1 <test-staging@thephenom.app>: user unknown"}
	if err := s.RecordEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordEvent(ctx, ev); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("the same event again: %v, want ErrDuplicate", err)
	}
	del := Event{MessageID: "m-1", Type: "Delivery", Time: t0.Add(time.Second), Digest: "d2",
		Recipient: "test-staging@thephenom.app", SMTPResponse: "250 ok"}
	if err := s.RecordEvent(ctx, del); err != nil {
		t.Fatal(err)
	}

	// By address, in any case: both attempts, the sent one with its events in order.
	mails, err := s.ByRecipient(ctx, "TEST-staging@thephenom.app", t0.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(mails) != 2 {
		t.Fatalf("by recipient: %d mails, want 2: %+v", len(mails), mails)
	}
	m1 := mails[0]
	if m1.MessageID != "m-1" || len(m1.Attempts) != 1 || len(m1.Events) != 2 || m1.Events[0].Type != "Delivery" || m1.Events[1].Type != "Bounce" {
		t.Fatalf("sent mail: %+v", m1)
	}
	if got := m1.Events[1].DiagnosticCode; strings.Contains(got, "test-staging") || !strings.Contains(got, "t***@thephenom.app") {
		t.Errorf("diagnostic code not masked: %q", got)
	}
	if m1.Recipient() != "T***@thephenom.app" {
		t.Errorf("masked recipient %q", m1.Recipient())
	}
	if mails[1].Attempts[0].Reason != "pool_not_allowed" || mails[1].MessageID != "" {
		t.Errorf("refused mail: %+v", mails[1])
	}
	// Since excludes older mails.
	if mails, _ := s.ByRecipient(ctx, "test-staging@thephenom.app", t0.Add(30*time.Second)); len(mails) != 1 || mails[0].Attempts[0].RequestID != "r-2" {
		t.Errorf("since: %+v, want the refusal only", mails)
	}
	if mails, _ := s.ByRecipient(ctx, "test-staging@thephenom.app", t0.Add(time.Hour)); len(mails) != 0 {
		t.Errorf("since after everything: %d mails", len(mails))
	}
	// By message id and by request id.
	if mails, err := s.ByMessageID(ctx, "m-1"); err != nil || len(mails) != 1 || len(mails[0].Attempts) != 1 || len(mails[0].Events) != 2 {
		t.Fatalf("by message id: %+v, %v", mails, err)
	}
	if mails, err := s.ByRequestID(ctx, "r-1"); err != nil || len(mails) != 1 || len(mails[0].Events) != 2 || mails[0].Attempts[0].Trigger != "ForgotPassword" {
		t.Fatalf("by request id: %+v, %v", mails, err)
	}
	if mails, err := s.ByMessageID(ctx, "nope"); err != nil || len(mails) != 0 {
		t.Fatalf("unknown message id: %+v, %v", mails, err)
	}

	// No address in clear anywhere in the table; every item expires.
	out, err := m.DynamoClient().Scan(ctx, &dynamodb.ScanInput{TableName: &s.Table})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Items) != 7 {
		t.Errorf("%d items, want 7 (3 attempts, 2 copies, 2 events)", len(out.Items))
	}
	for _, item := range out.Items {
		for k, v := range item {
			if sv, ok := v.(*types.AttributeValueMemberS); ok && strings.Contains(strings.ToLower(sv.Value), "staging@") || ok && strings.Contains(sv.Value, "someone@") {
				t.Errorf("attribute %s holds an address in clear", k)
			}
		}
		exp, ok := item["expires_at"].(*types.AttributeValueMemberN)
		if !ok || exp.Value != fmt.Sprint(s.Now().Add(48*time.Hour).Unix()) {
			t.Errorf("expires_at = %v, want now+48h", item["expires_at"])
		}
	}
}

func TestRecipientHash(t *testing.T) {
	if RecipientHash(" Test-Staging@thephenom.app ") != RecipientHash("test-staging@thephenom.app") {
		t.Error("the hash depends on case or spaces")
	}
	// sha256("test-staging@thephenom.app"), as `printf %s ADDR | sha256sum` prints it.
	if got := RecipientHash("test-staging@thephenom.app"); len(got) != 64 {
		t.Errorf("hash %q", got)
	}
}
