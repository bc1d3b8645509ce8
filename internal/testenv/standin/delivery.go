package standin

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// CreateDeliveryTable creates the delivery-record table on moto with the
// schema the Terraform module gives it: partition key "pk" (S), sort key
// "sk" (S), TTL on "expires_at", global secondary index "by-recipient"
// (partition "recipient" (S), sort "sk" (S), projection ALL),
// PAY_PER_REQUEST.
func (m *Moto) CreateDeliveryTable(ctx context.Context, name string) error {
	s := func(n string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS}
	}
	return m.createTableWithTTL(ctx, &dynamodb.CreateTableInput{
		TableName:            &name,
		AttributeDefinitions: []types.AttributeDefinition{s("pk"), s("sk"), s("recipient")},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String("by-recipient"),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String("recipient"), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
		BillingMode: types.BillingModePayPerRequest,
	})
}

// SNSClient is an SNS client for moto.
func (m *Moto) SNSClient() *sns.Client {
	return sns.New(sns.Options{
		Region:       Region,
		BaseEndpoint: aws.String(m.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

// SQSClient is an SQS client for moto.
func (m *Moto) SQSClient() *sqs.Client {
	return sqs.New(sqs.Options{
		Region:       Region,
		BaseEndpoint: aws.String(m.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}
