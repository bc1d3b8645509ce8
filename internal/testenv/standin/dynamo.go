package standin

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoClient is a DynamoDB client for moto (through its proxy).
func (m *Moto) DynamoClient() *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       Region,
		BaseEndpoint: aws.String(m.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

// CreateIdempotencyTable creates the mailer's idempotency table on moto
// with the documented schema: partition key "id" (string), TTL on
// "expires_at".
func (m *Moto) CreateIdempotencyTable(ctx context.Context, name string) error {
	return m.createTableWithTTL(ctx, &dynamodb.CreateTableInput{
		TableName:            &name,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
}

// createTableWithTTL creates the table in and turns TTL on for its
// "expires_at" attribute, as both of the mailer's tables have it.
func (m *Moto) createTableWithTTL(ctx context.Context, in *dynamodb.CreateTableInput) error {
	c := m.DynamoClient()
	name := aws.ToString(in.TableName)
	if _, err := c.CreateTable(ctx, in); err != nil {
		return fmt.Errorf("standin: create table %s: %w", name, err)
	}
	_, err := c.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               in.TableName,
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String("expires_at"), Enabled: aws.Bool(true)},
	})
	if err != nil {
		return fmt.Errorf("standin: ttl on %s: %w", name, err)
	}
	return nil
}
