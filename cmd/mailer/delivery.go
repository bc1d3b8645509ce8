package main

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/Phenom-earth/phenom-mailer/internal/awsretry"
	"github.com/Phenom-earth/phenom-mailer/internal/cognito"
	"github.com/Phenom-earth/phenom-mailer/internal/delivery"
)

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
