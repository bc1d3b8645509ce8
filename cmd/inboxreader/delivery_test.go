package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/delivery"
	"github.com/Phenom-earth/phenom-mailer/internal/sesevents"
	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// TestRoundTripDeliveryTable: with --delivery-table, the round trip reports
// what SES said of the mail it read. The chain's mailer writes its attempt
// into the delivery record; this test plays SES as soon as the attempt is
// there, publishing the Delivery event to an SNS topic whose SQS queue the
// real events handler reads into the same table.
func TestRoundTripDeliveryTable(t *testing.T) {
	c := needChain(t)
	c.env(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	pipe, err := c.Moto.StartEventPipeline(ctx, "chain")
	if err != nil {
		t.Fatal(err)
	}
	store := &delivery.Store{Client: c.Moto.DynamoClient(), Table: standin.ChainDeliveryTable}
	start := time.Now().Add(-time.Minute)
	// Mails of earlier tests are not this round trip's.
	before := map[string]bool{}
	earlier, err := store.ByRecipient(ctx, user, start)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range earlier {
		before[m.MessageID] = true
	}
	played := make(chan error, 1)
	go func() {
		played <- func() error {
			for ctx.Err() == nil {
				mails, err := store.ByRecipient(ctx, user, start)
				if err != nil {
					return err
				}
				for _, m := range mails {
					if m.MessageID == "" || before[m.MessageID] {
						continue
					}
					p, err := standin.RepoFile("testdata/sesevents/delivery.json")
					if err != nil {
						return err
					}
					tmpl, err := os.ReadFile(p)
					if err != nil {
						return err
					}
					ev := strings.ReplaceAll(string(tmpl), "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000", m.MessageID)
					ev = strings.ReplaceAll(ev, "recipient@example.com", user)
					ev = strings.ReplaceAll(ev, "2016-10-19T23:21:04.133Z", time.Now().UTC().Format(time.RFC3339Nano))
					if err := pipe.Publish(ctx, ev); err != nil {
						return err
					}
					batches, err := pipe.Receive(ctx, 10)
					if err != nil {
						return err
					}
					if len(batches) == 0 {
						return fmt.Errorf("the SES event never reached the queue")
					}
					h := &sesevents.Handler{Recorder: store}
					for _, b := range batches {
						if s, err := h.HandleJSON(ctx, b); err != nil || s.Recorded != 1 {
							t.Errorf("events handler: %+v, %v", s, err)
						}
					}
					return nil
				}
				time.Sleep(100 * time.Millisecond)
			}
			return ctx.Err()
		}()
	}()

	stdout, stderr, code := invoke(t, nil, "roundtrip",
		"--user-pool-id", c.Pool, "--client-id", c.Client, "--username", user,
		"--source", c.s3Source(), "--auth", "password", "--resolver", c.DNS.Addr,
		"--timeout", "30s", "--delivery-table", standin.ChainDeliveryTable, "--delivery-wait", "20s", "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, summary(stdout, stderr))
	}
	if err := <-played; err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Delivery *struct {
			MessageID string    `json:"message_id"`
			FoundBy   string    `json:"found_by"`
			Accepted  time.Time `json:"accepted"`
			Trigger   string    `json:"trigger"`
			Delivered time.Time `json:"delivered"`
			Server    string    `json:"server"`
			SMTP      string    `json:"smtp_response"`
		} `json:"delivery"`
		Note string `json:"delivery_note"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	d := rep.Delivery
	// moto keeps the mailer's own Message-ID (SES would set <id@email.amazonses.com>),
	// so the mail is found by its recipient.
	if d == nil || d.FoundBy != "recipient" || d.Accepted.IsZero() || d.Delivered.IsZero() || d.Trigger != "ForgotPassword" ||
		d.SMTP != "250 2.6.0 Message received" || d.Server != "the mail server of thephenom.app" {
		t.Fatalf("delivery report %+v, note %q", d, rep.Note)
	}
	if b, _ := json.Marshal(d); strings.Contains(string(b), user) {
		t.Errorf("the delivery report prints the address: %s", b)
	}
}
