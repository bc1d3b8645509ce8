package main

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/Phenom-earth/phenom-mailer/internal/delivery"
	"github.com/Phenom-earth/phenom-mailer/internal/redact"
	"github.com/Phenom-earth/phenom-mailer/internal/trace"
)

// deliveryReport reads what the mailer's delivery record says of the mail
// the round trip read. A lookup that fails is a note, not a failed round trip.
func deliveryReport(ctx context.Context, cfg aws.Config, table, messageIDHeader, email string, requested time.Time, wait time.Duration) (*trace.MailReport, string) {
	store := &delivery.Store{Client: dynamodb.NewFromConfig(cfg), Table: table}
	// A minute of slack for the clocks of this machine and Lambda's.
	r, err := trace.RoundTripMail(ctx, store, messageIDHeader, email, requested.Add(-time.Minute), wait)
	switch {
	case err != nil:
		return nil, "could not read the delivery record: " + redact.Emails(err.Error())
	case r == nil:
		return nil, "the delivery record has no mail sent to this address since the request"
	}
	return r, ""
}
