package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/Phenom-earth/phenom-mailer/internal/awsretry"
	"github.com/Phenom-earth/phenom-mailer/internal/cognito"
	"github.com/Phenom-earth/phenom-mailer/internal/delivery"
)

// DeliveryConfig is what the delivery record needs from the environment:
// all the events function and `mailer trace` read (they start without the
// Cognito sender's variables).
type DeliveryConfig struct {
	Table string        // MAILER_DELIVERY_TABLE; "" = no records
	TTL   time.Duration // MAILER_DELIVERY_TTL
}

// loadDeliveryConfig reads MAILER_DELIVERY_TABLE and MAILER_DELIVERY_TTL.
func loadDeliveryConfig(getenv func(string) string) (DeliveryConfig, error) {
	c := DeliveryConfig{Table: strings.TrimSpace(getenv("MAILER_DELIVERY_TABLE")), TTL: delivery.DefaultTTL}
	if v := strings.TrimSpace(getenv("MAILER_DELIVERY_TTL")); v != "" {
		d, err := parseDays(v)
		if err != nil || d <= 0 {
			return c, fmt.Errorf("MAILER_DELIVERY_TTL=%q is not a positive duration such as 720h or 30d", v)
		}
		c.TTL = d
	}
	return c, nil
}

// parseDays parses a Go duration or a whole number of days ("30d", "7d").
func parseDays(v string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 100*365 {
			return 0, errors.New("bad number of days")
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(v)
}

// newDeliveryStore wires the delivery-record store, or nil without a table.
func newDeliveryStore(awsCfg aws.Config, dc DeliveryConfig) *delivery.Store {
	if dc.Table == "" {
		return nil
	}
	return &delivery.Store{
		Client: dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
			// Bounded: the write runs within cognito.RecordTimeout.
			o.Retryer = awsretry.Repeatable(3, 500*time.Millisecond)
		}),
		Table: dc.Table,
		TTL:   dc.TTL,
	}
}

// withRequestID puts the invocation's request id into ctx: Lambda's, or a
// generated one outside Lambda.
func withRequestID(ctx context.Context) context.Context {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		return cognito.WithRequestID(ctx, lc.AwsRequestID)
	}
	return cognito.WithRequestID(ctx, cognito.NewRequestID())
}
