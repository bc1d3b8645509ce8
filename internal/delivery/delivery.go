// Package delivery keeps the delivery record: what the mailer did with each
// Cognito event (an attempt) and what SES later reported about the mail it
// accepted (events), in one DynamoDB table, so that `mailer trace` can tell
// an operator what became of a mail.
//
// # Table
//
// Partition key `pk` (S), sort key `sk` (S), TTL attribute `expires_at`
// (epoch seconds), one global secondary index `by-recipient` with partition
// key `recipient` (S) and sort key `sk` (S), projection ALL. Items expire
// after Store.TTL (MAILER_DELIVERY_TTL, default 30 days).
//
// # Items
//
//	pk                   sk                                               what
//	req#<request id>     attempt#<time>                                   one invocation of the sender (an attempt)
//	msg#<message id>     attempt#<time>                                   a copy of a `sent` attempt, found by SES message id
//	msg#<message id>     event#<event time>#<event type>#<event digest>   one SES event about that message
//
// <time> is UTC with nanoseconds in a fixed width (2006-01-02T15:04:05.000000000Z)
// so that sort keys order by time. <event digest> is the first 16 hex digits
// of the SHA-256 of the SES event JSON: the same notification delivered
// twice (SES, SNS and SQS all deliver at least once) has the same key, and
// the write is conditional on the key being new, so it is recorded once.
//
// Attributes: `kind` ("attempt" or "event"), `at` (RFC 3339, the time of
// the attempt or event), `recipient` (see below), `recipient_masked`
// ("t***@thephenom.app"), `message_id`, `expires_at`; on attempts
// `source` ("cognito"; "service" later), `trigger`, `pool`, `client_id`,
// `outcome`, `reason`, `request_id`, `suppression_reason` and
// `suppression_since` (when the recipient was on SES's suppression list);
// on events `event_type` (SES's eventType) and the fields of the event that
// tell an operator something (bounce type, subtype, action, status and
// diagnostic code; complaint feedback type and subtype; the receiving
// server's SMTP response, the reporting MTA and processing time; delay type
// and expiration time; reject reason; rendering error). Every free-text field
// has any address in it masked.
//
// # Recipients
//
// An address is never stored in clear. `recipient` is the hex SHA-256 of
// the address trimmed and lower-cased (RecipientHash): plain, not keyed, so
// that `mailer trace --to` needs no secret and any operator tool can compute
// it. Someone who can read the table could confirm a guessed address; that is
// accepted because reading the table already requires production access and
// the masked form shows the domain anyway. Only the attempt item under
// `req#` and the event items carry `recipient`, so the `by-recipient` index
// finds each attempt once and every event; the `msg#` copy of an attempt
// leaves it out.
//
// It must not know who writes or reads the record (the sender's handler, the
// events function, trace), Lambda or the environment: the DynamoDB client
// and the table name come in through Store.
package delivery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/Phenom-earth/phenom-mailer/internal/redact"
)

// DefaultTTL is how long records live when Store.TTL is zero.
const DefaultTTL = 30 * 24 * time.Hour

// IndexByRecipient is the name of the global secondary index over `recipient`.
const IndexByRecipient = "by-recipient"

// Item kinds.
const (
	KindAttempt = "attempt"
	KindEvent   = "event"
)

// Sources of an attempt.
const (
	SourceCognito = "cognito"
	SourceService = "service"
)

// skTime is the sort keys' time format: fixed width, so that the string
// order is the time order.
const skTime = "2006-01-02T15:04:05.000000000Z"

var zeroTime = time.Time{}.Format(time.RFC3339)

// RecipientHash is the lookup form of an address: the hex SHA-256 of the
// address trimmed and lower-cased.
func RecipientHash(addr string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(addr))))
	return hex.EncodeToString(sum[:])
}

// Attempt is one invocation of the sender.
type Attempt struct {
	Source    string    `dynamodbav:"source" json:"source"`
	Trigger   string    `dynamodbav:"trigger,omitempty" json:"trigger,omitempty"`
	Pool      string    `dynamodbav:"pool,omitempty" json:"pool,omitempty"`
	ClientID  string    `dynamodbav:"client_id,omitempty" json:"client_id,omitempty"`
	Outcome   string    `dynamodbav:"outcome" json:"outcome"`
	Reason    string    `dynamodbav:"reason,omitempty" json:"reason,omitempty"`
	MessageID string    `dynamodbav:"message_id,omitempty" json:"message_id,omitempty"`
	RequestID string    `dynamodbav:"request_id" json:"request_id"`
	Time      time.Time `dynamodbav:"at" json:"time"`
	// Recipient is the address in clear: set it when writing; it is never
	// stored (Masked and Hash are) and is empty on read.
	Recipient         string    `dynamodbav:"-" json:"-"`
	RecipientMasked   string    `dynamodbav:"recipient_masked,omitempty" json:"recipient,omitempty"`
	RecipientHash     string    `dynamodbav:"recipient,omitempty" json:"-"`
	SuppressionReason string    `dynamodbav:"suppression_reason,omitempty" json:"suppression_reason,omitempty"`
	SuppressionSince  time.Time `dynamodbav:"suppression_since,omitempty" json:"suppression_since,omitzero"`
}

// Event is one SES event about a message the mailer sent.
type Event struct {
	MessageID string    `dynamodbav:"message_id" json:"message_id"`
	Type      string    `dynamodbav:"event_type" json:"type"`
	Time      time.Time `dynamodbav:"at" json:"time"`
	// Digest identifies the notification (see the package comment).
	Digest string `dynamodbav:"digest" json:"-"`
	// Recipient is the address in clear when writing; never stored.
	Recipient       string `dynamodbav:"-" json:"-"`
	RecipientMasked string `dynamodbav:"recipient_masked,omitempty" json:"recipient,omitempty"`
	RecipientHash   string `dynamodbav:"recipient,omitempty" json:"-"`

	BounceType       string    `dynamodbav:"bounce_type,omitempty" json:"bounce_type,omitempty"`
	BounceSubType    string    `dynamodbav:"bounce_subtype,omitempty" json:"bounce_subtype,omitempty"`
	Action           string    `dynamodbav:"action,omitempty" json:"action,omitempty"`
	Status           string    `dynamodbav:"status,omitempty" json:"status,omitempty"`
	DiagnosticCode   string    `dynamodbav:"diagnostic_code,omitempty" json:"diagnostic_code,omitempty"`
	ComplaintType    string    `dynamodbav:"complaint_type,omitempty" json:"complaint_type,omitempty"`
	ComplaintSubType string    `dynamodbav:"complaint_subtype,omitempty" json:"complaint_subtype,omitempty"`
	SMTPResponse     string    `dynamodbav:"smtp_response,omitempty" json:"smtp_response,omitempty"`
	ReportingMTA     string    `dynamodbav:"reporting_mta,omitempty" json:"reporting_mta,omitempty"`
	RemoteMTAIP      string    `dynamodbav:"remote_mta_ip,omitempty" json:"remote_mta_ip,omitempty"`
	ProcessingTimeMS int64     `dynamodbav:"processing_time_ms,omitempty" json:"processing_time_ms,omitempty"`
	DelayType        string    `dynamodbav:"delay_type,omitempty" json:"delay_type,omitempty"`
	ExpirationTime   time.Time `dynamodbav:"expiration_time,omitempty" json:"expiration_time,omitzero"`
	RejectReason     string    `dynamodbav:"reject_reason,omitempty" json:"reject_reason,omitempty"`
	ErrorMessage     string    `dynamodbav:"error_message,omitempty" json:"error_message,omitempty"`
	TemplateName     string    `dynamodbav:"template_name,omitempty" json:"template_name,omitempty"`
}

// DynamoAPI is the part of the DynamoDB client the store uses.
type DynamoAPI interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Store writes and reads the delivery record. It is safe for concurrent use.
type Store struct {
	Client DynamoAPI
	Table  string
	TTL    time.Duration // DefaultTTL when zero
	Now    func() time.Time
}

// ErrDuplicate means the event was recorded before.
var ErrDuplicate = errors.New("delivery: event already recorded")

// RecordAttempt writes one attempt, and its copy under the SES message id
// when the mail was sent.
func (s *Store) RecordAttempt(ctx context.Context, a Attempt) error {
	if a.RequestID == "" {
		return errors.New("delivery: attempt without a request id")
	}
	if a.Time.IsZero() {
		a.Time = s.now()
	}
	a.Time = a.Time.UTC()
	if a.Source == "" {
		a.Source = SourceCognito
	}
	if a.Recipient != "" {
		a.RecipientMasked = redact.Email(a.Recipient)
		a.RecipientHash = RecipientHash(a.Recipient)
	}
	item, err := s.item(a, "req#"+a.RequestID, "attempt#"+a.Time.Format(skTime), KindAttempt)
	if err != nil {
		return err
	}
	if err := s.put(ctx, item, false); err != nil {
		return err
	}
	if a.MessageID == "" || a.Outcome != "sent" {
		return nil
	}
	copyItem, err := s.item(a, "msg#"+a.MessageID, "attempt#"+a.Time.Format(skTime), KindAttempt)
	if err != nil {
		return err
	}
	delete(copyItem, "recipient") // the index finds the attempt once, under req#
	return s.put(ctx, copyItem, false)
}

// RecordEvent writes one SES event. It returns ErrDuplicate when the same
// notification was recorded before.
func (s *Store) RecordEvent(ctx context.Context, e Event) error {
	if e.MessageID == "" || e.Type == "" || e.Digest == "" || e.Time.IsZero() {
		return errors.New("delivery: event without a message id, type, digest or time")
	}
	e.Time = e.Time.UTC()
	if e.Recipient != "" {
		e.RecipientMasked = redact.Email(e.Recipient)
		e.RecipientHash = RecipientHash(e.Recipient)
	}
	for _, p := range []*string{&e.DiagnosticCode, &e.SMTPResponse, &e.ErrorMessage, &e.RejectReason, &e.ReportingMTA} {
		*p = redact.Emails(*p)
	}
	item, err := s.item(e, "msg#"+e.MessageID, "event#"+e.Time.Format(skTime)+"#"+e.Type+"#"+e.Digest, KindEvent)
	if err != nil {
		return err
	}
	return s.put(ctx, item, true)
}

func (s *Store) item(v any, pk, sk, kind string) (map[string]types.AttributeValue, error) {
	item, err := attributevalue.MarshalMap(v)
	if err != nil {
		return nil, fmt.Errorf("delivery: encode item: %w", err)
	}
	for k, v := range item {
		// attributevalue's omitempty keeps a zero time.Time.
		if sv, ok := v.(*types.AttributeValueMemberS); ok && sv.Value == zeroTime {
			delete(item, k)
		}
	}
	item["pk"] = &types.AttributeValueMemberS{Value: pk}
	item["sk"] = &types.AttributeValueMemberS{Value: sk}
	item["kind"] = &types.AttributeValueMemberS{Value: kind}
	ttl := s.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	item["expires_at"] = &types.AttributeValueMemberN{Value: fmt.Sprint(s.now().Add(ttl).Unix())}
	return item, nil
}

func (s *Store) put(ctx context.Context, item map[string]types.AttributeValue, once bool) error {
	in := &dynamodb.PutItemInput{TableName: &s.Table, Item: item}
	if once {
		in.ConditionExpression = aws.String("attribute_not_exists(pk)")
	}
	_, err := s.Client.PutItem(ctx, in)
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return ErrDuplicate
	}
	if err != nil {
		return fmt.Errorf("delivery: write %s: %w", s.Table, err)
	}
	return nil
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Mail is what the record holds about one mail: the attempts that produced
// (or failed to produce) it, and SES's events about it, each in time order.
type Mail struct {
	MessageID string    `json:"message_id,omitempty"`
	Attempts  []Attempt `json:"attempts"`
	Events    []Event   `json:"events"`
}

// Recipient returns the masked recipient of the mail, from any of its items.
func (m Mail) Recipient() string {
	for _, a := range m.Attempts {
		if a.RecipientMasked != "" {
			return a.RecipientMasked
		}
	}
	for _, e := range m.Events {
		if e.RecipientMasked != "" {
			return e.RecipientMasked
		}
	}
	return ""
}

// Start is the time of the mail's first item.
func (m Mail) Start() time.Time {
	var t time.Time
	for _, a := range m.Attempts {
		if t.IsZero() || a.Time.Before(t) {
			t = a.Time
		}
	}
	for _, e := range m.Events {
		if t.IsZero() || e.Time.Before(t) {
			t = e.Time
		}
	}
	return t
}

// ByRequestID returns the mails of every attempt with this request id
// (Lambda's asynchronous retries keep the request id).
func (s *Store) ByRequestID(ctx context.Context, requestID string) ([]Mail, error) {
	attempts, _, err := s.query(ctx, "pk", "req#"+requestID, "", "", "")
	if err != nil {
		return nil, err
	}
	return s.assemble(ctx, attempts, nil)
}

// ByMessageID returns the mail SES knows by this message id.
func (s *Store) ByMessageID(ctx context.Context, messageID string) ([]Mail, error) {
	attempts, events, err := s.query(ctx, "pk", "msg#"+messageID, "", "", "")
	if err != nil {
		return nil, err
	}
	if len(attempts) == 0 && len(events) == 0 {
		return nil, nil
	}
	return []Mail{{MessageID: messageID, Attempts: attempts, Events: sortEvents(events)}}, nil
}

// ByRecipient returns the mails to addr (compared lower-cased) with an
// attempt or an event at or after since.
func (s *Store) ByRecipient(ctx context.Context, addr string, since time.Time) ([]Mail, error) {
	h := RecipientHash(addr)
	from := since.UTC().Format(skTime)
	attempts, _, err := s.query(ctx, "recipient", h, IndexByRecipient, "attempt#"+from, "attempt#~")
	if err != nil {
		return nil, err
	}
	_, events, err := s.query(ctx, "recipient", h, IndexByRecipient, "event#"+from, "event#~")
	if err != nil {
		return nil, err
	}
	return s.assemble(ctx, attempts, events)
}

// assemble groups attempts and events into mails, reading each message's
// full timeline.
func (s *Store) assemble(ctx context.Context, attempts []Attempt, events []Event) ([]Mail, error) {
	var mails []Mail
	seen := map[string]bool{}
	var ids []string
	for _, a := range attempts {
		if a.MessageID == "" {
			mails = append(mails, Mail{Attempts: []Attempt{a}})
			continue
		}
		if !seen[a.MessageID] {
			seen[a.MessageID] = true
			ids = append(ids, a.MessageID)
		}
	}
	for _, e := range events {
		if !seen[e.MessageID] {
			seen[e.MessageID] = true
			ids = append(ids, e.MessageID)
		}
	}
	for _, id := range ids {
		_, evs, err := s.query(ctx, "pk", "msg#"+id, "", "event#", "event#~")
		if err != nil {
			return nil, err
		}
		m := Mail{MessageID: id, Events: sortEvents(evs)}
		for _, a := range attempts {
			if a.MessageID == id {
				m.Attempts = append(m.Attempts, a)
			}
		}
		if len(m.Attempts) == 0 {
			// Found through an event: the attempt's copy under msg#.
			as, _, err := s.query(ctx, "pk", "msg#"+id, "", "attempt#", "attempt#~")
			if err != nil {
				return nil, err
			}
			m.Attempts = as
		}
		mails = append(mails, m)
	}
	sort.SliceStable(mails, func(i, j int) bool { return mails[i].Start().Before(mails[j].Start()) })
	return mails, nil
}

func sortEvents(evs []Event) []Event {
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	return evs
}

// query reads every item with key attribute = value (in the table or the
// index), with sk between lo and hi when lo is set, and splits them by kind.
func (s *Store) query(ctx context.Context, key, value, index, lo, hi string) ([]Attempt, []Event, error) {
	cond := "#k = :v"
	names := map[string]string{"#k": key}
	values := map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: value}}
	if lo != "" {
		cond += " AND #sk BETWEEN :lo AND :hi"
		names["#sk"] = "sk"
		values[":lo"] = &types.AttributeValueMemberS{Value: lo}
		values[":hi"] = &types.AttributeValueMemberS{Value: hi}
	}
	in := &dynamodb.QueryInput{
		TableName:                 &s.Table,
		KeyConditionExpression:    &cond,
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}
	if index != "" {
		in.IndexName = &index
	}
	var attempts []Attempt
	var events []Event
	for {
		out, err := s.Client.Query(ctx, in)
		if err != nil {
			return nil, nil, fmt.Errorf("delivery: query %s: %w", s.Table, err)
		}
		for _, item := range out.Items {
			kind, _ := item["kind"].(*types.AttributeValueMemberS)
			if kind == nil {
				continue
			}
			switch kind.Value {
			case KindAttempt:
				var a Attempt
				if err := attributevalue.UnmarshalMap(item, &a); err != nil {
					return nil, nil, fmt.Errorf("delivery: decode attempt: %w", err)
				}
				attempts = append(attempts, a)
			case KindEvent:
				var e Event
				if err := attributevalue.UnmarshalMap(item, &e); err != nil {
					return nil, nil, fmt.Errorf("delivery: decode event: %w", err)
				}
				events = append(events, e)
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return attempts, events, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}
