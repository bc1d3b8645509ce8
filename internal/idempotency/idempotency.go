// Package idempotency makes a repeated or concurrent delivery of the same
// Cognito event send at most one mail. Before sending, the handler claims
// the event's key in a DynamoDB table with a conditional write; a delivery
// that finds the key sent or in progress is a duplicate. A failed send
// releases its claim so that Lambda's retry can try again.
//
// Table schema (the Terraform module and docs/reliability.md describe the
// same): partition key `id` (string), TTL attribute `expires_at` (epoch
// seconds). Items also carry `status` ("in_progress" or "sent"),
// `lease_until` (epoch seconds) and, once sent, `message_id`.
//
// It must not know what is sent, nor Lambda or the environment: it claims
// opaque keys in the table it is given.
package idempotency

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/Phenom-earth/phenom-mailer/internal/failure"
)

// Status values of an item.
const (
	StatusInProgress = "in_progress"
	StatusSent       = "sent"
)

// Defaults.
const (
	// DefaultTTL keeps a key well past Lambda's asynchronous retry window
	// (up to 6 hours on throttling).
	DefaultTTL = 24 * time.Hour
	// DefaultLease is how long an in-progress claim blocks others when the
	// claiming context has no deadline: longer than Lambda's 15-minute
	// maximum invocation. With a deadline, the lease ends LeaseMargin after
	// it, so that a claim left by an invocation that died is free again by
	// the time Lambda retries (about a minute later).
	DefaultLease = 16 * time.Minute
	// LeaseMargin is added to the claiming context's deadline.
	LeaseMargin = 10 * time.Second
)

// DuplicateError means the event was already sent, or another delivery of
// it is in progress. It matches failure.ErrDuplicate.
type DuplicateError struct {
	Status    string // StatusSent or StatusInProgress
	MessageID string // the first delivery's message id, once sent
}

func (e *DuplicateError) Error() string        { return "duplicate delivery: event already " + e.Status }
func (e *DuplicateError) Is(target error) bool { return target == failure.ErrDuplicate }

// DuplicateOf returns the reason for the outcome ("already_sent" or
// "in_progress") and the first delivery's message id when known.
func (e *DuplicateError) DuplicateOf() (reason, messageID string) {
	if e.Status == StatusSent {
		return string(failure.ReasonAlreadySent), e.MessageID
	}
	return string(failure.ReasonInProgress), ""
}

// DynamoAPI is the part of the DynamoDB client the store uses.
type DynamoAPI interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Store claims event keys in a DynamoDB table. It is safe for concurrent use.
type Store struct {
	Client DynamoAPI
	Table  string
	TTL    time.Duration
	// Lease, when set, fixes how long a claim blocks others; when zero, a
	// claim lasts until the claiming context's deadline plus LeaseMargin
	// (DefaultLease without a deadline).
	Lease time.Duration
	Now   func() time.Time
}

// Claim takes key for this delivery. It returns a *DuplicateError (matching
// failure.ErrDuplicate) when the key is sent or claimed by a live delivery.
func (s *Store) Claim(ctx context.Context, key string) error {
	return s.ClaimRequest(ctx, key, "")
}

// ClaimRequest is Claim for a key a caller chose (a service request's
// idempotency key), with fingerprint the hash of the request it came with.
// The item keeps the fingerprint; when the key is already taken by a
// request with another fingerprint, the error is a permanent
// idempotency_conflict rather than a duplicate. An empty fingerprint is
// Claim.
func (s *Store) ClaimRequest(ctx context.Context, key, fingerprint string) error {
	now := s.now()
	leaseUntil := now.Add(s.lease())
	if dl, ok := ctx.Deadline(); ok && s.Lease == 0 {
		leaseUntil = dl.Add(LeaseMargin)
	}
	item := map[string]types.AttributeValue{
		"id":          &types.AttributeValueMemberS{Value: key},
		"status":      &types.AttributeValueMemberS{Value: StatusInProgress},
		"lease_until": num(leaseUntil),
		"expires_at":  num(now.Add(s.ttl())),
	}
	// Free, or claimed by a delivery whose lease ran out (of the same
	// request, when the key has a fingerprint).
	cond := "attribute_not_exists(id) OR (#s = :inprogress AND lease_until < :now)"
	names := map[string]string{"#s": "status"}
	values := map[string]types.AttributeValue{
		":inprogress": &types.AttributeValueMemberS{Value: StatusInProgress},
		":now":        num(now),
	}
	if fingerprint != "" {
		item["request_hash"] = &types.AttributeValueMemberS{Value: fingerprint}
		cond = "attribute_not_exists(id) OR (#s = :inprogress AND lease_until < :now AND request_hash = :fp)"
		values[":fp"] = &types.AttributeValueMemberS{Value: fingerprint}
	}
	_, err := s.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           &s.Table,
		Item:                                item,
		ConditionExpression:                 &cond,
		ExpressionAttributeNames:            names,
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		if v, ok := ccf.Item["request_hash"].(*types.AttributeValueMemberS); fingerprint != "" && (!ok || v.Value != fingerprint) {
			return failure.Permanent(failure.ReasonIdempotencyConflict, errors.New("the idempotency key was used before with a different request"))
		}
		d := &DuplicateError{Status: StatusInProgress}
		if v, ok := ccf.Item["status"].(*types.AttributeValueMemberS); ok {
			d.Status = v.Value
		}
		if v, ok := ccf.Item["message_id"].(*types.AttributeValueMemberS); ok {
			d.MessageID = v.Value
		}
		return d
	}
	if err != nil {
		return fmt.Errorf("idempotency: claim: %w", err)
	}
	return nil
}

// Sent marks key as sent, for the TTL.
func (s *Store) Sent(ctx context.Context, key, messageID string) error {
	_, err := s.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &s.Table,
		Key:                      map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: key}},
		UpdateExpression:         strPtr("SET #s = :sent, message_id = :mid, expires_at = :exp REMOVE lease_until"),
		ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":sent": &types.AttributeValueMemberS{Value: StatusSent},
			":mid":  &types.AttributeValueMemberS{Value: messageID},
			":exp":  num(s.now().Add(s.ttl())),
		},
	})
	if err != nil {
		return fmt.Errorf("idempotency: mark sent: %w", err)
	}
	return nil
}

// Release gives key up after a failed send, so that a retry can claim it.
// Only an in-progress claim is removed, never a sent one.
func (s *Store) Release(ctx context.Context, key string) error {
	_, err := s.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 &s.Table,
		Key:                       map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: key}},
		ConditionExpression:       strPtr("#s = :inprogress"),
		ExpressionAttributeNames:  map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":inprogress": &types.AttributeValueMemberS{Value: StatusInProgress}},
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("idempotency: release: %w", err)
	}
	return nil
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Store) ttl() time.Duration {
	if s.TTL > 0 {
		return s.TTL
	}
	return DefaultTTL
}

func (s *Store) lease() time.Duration {
	if s.Lease > 0 {
		return s.Lease
	}
	return DefaultLease
}

func num(t time.Time) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(t.Unix(), 10)}
}

func strPtr(s string) *string { return &s }
