// Package sqspeek looks into an SQS queue without taking anything out of
// it: the doctor's age of the oldest failed event, and `mailer trace`'s
// search of the failed-events queue.
//
// It never deletes. A ReceiveMessage with VisibilityTimeout 0 cannot be
// sent through the Go SDK (it omits a zero VisibilityTimeout, and SQS then
// applies the queue's default, 30 s by default): so a peek receives with a
// short timeout (HideFor), which also keeps one peek from seeing the same
// message twice, and then makes every message it received visible again
// at once with ChangeMessageVisibilityBatch, VisibilityTimeout 0 (which the
// SDK always sends). If that release fails, the messages reappear by
// themselves after HideFor. Each receive adds one to the sampled
// messages' ApproximateReceiveCount: on a queue with a redrive policy that
// would move a message on after maxReceiveCount peeks, so peek only queues
// without one (the failed-events and dead-letter queues have none).
// ReceiveMessage short-polls a sample of SQS's servers and returns at most
// 10 messages, so a peek is a bounded sample, not a listing.
package sqspeek

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// ReceiveAPI is the SQS calls a peek makes.
type ReceiveAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
}

// HideFor is how long a peeked message is hidden at most: until the peek
// releases it, or this long if the release fails.
const HideFor = 20 * time.Second

// Message is one message seen in the queue.
type Message struct {
	ID     string
	Body   string    // empty unless the peek asked for bodies
	SentAt time.Time // SQS's SentTimestamp; zero if SQS gave none
}

// maxPerReceive is SQS's documented limit of MaxNumberOfMessages (1-10).
const maxPerReceive = 10

// Peek receives up to receives times, 10 messages each, and returns each
// message seen once (by MessageId), in the order first seen. It stops early
// when two receives in a row bring nothing new. With bodies false the
// bodies are dropped as soon as they arrive. An error from the first
// receive is returned; one from a later receive ends the peek with what
// was seen and the error.
func Peek(ctx context.Context, c ReceiveAPI, url string, receives int, bodies bool) (out []Message, err error) {
	if receives < 1 {
		receives = 1
	}
	seen := map[string]bool{}
	var handles []string
	defer func() {
		// A fresh context: release even when ctx was cancelled mid-peek.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if rerr := release(rctx, c, url, handles); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}()
	idle := 0
	for i := 0; i < receives && idle < 2; i++ {
		res, rerr := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    &url,
			MaxNumberOfMessages:         maxPerReceive,
			VisibilityTimeout:           int32(HideFor / time.Second),
			WaitTimeSeconds:             0,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameSentTimestamp},
		})
		if rerr != nil {
			return out, fmt.Errorf("sqs receive: %w", rerr)
		}
		fresh := 0
		for _, m := range res.Messages {
			if m.ReceiptHandle != nil {
				handles = append(handles, *m.ReceiptHandle)
			}
			id := ""
			if m.MessageId != nil {
				id = *m.MessageId
			}
			if id != "" {
				if seen[id] {
					continue
				}
				seen[id] = true
			}
			fresh++
			msg := Message{ID: id}
			if ms, err := strconv.ParseInt(m.Attributes[string(sqstypes.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
				msg.SentAt = time.UnixMilli(ms).UTC()
			}
			if bodies && m.Body != nil {
				msg.Body = *m.Body
			}
			out = append(out, msg)
		}
		if fresh == 0 {
			idle++
		} else {
			idle = 0
		}
	}
	return out, nil
}

// Oldest returns the earliest SentAt among msgs, false when none has one.
func Oldest(msgs []Message) (time.Time, bool) {
	var first time.Time
	for _, m := range msgs {
		if !m.SentAt.IsZero() && (first.IsZero() || m.SentAt.Before(first)) {
			first = m.SentAt
		}
	}
	return first, !first.IsZero()
}

// release makes the received messages visible again (VisibilityTimeout 0),
// 10 per call (SQS's limit for a batch).
func release(ctx context.Context, c ReceiveAPI, url string, handles []string) error {
	var errs []error
	for start := 0; start < len(handles); start += maxPerReceive {
		end := min(start+maxPerReceive, len(handles))
		entries := make([]sqstypes.ChangeMessageVisibilityBatchRequestEntry, 0, end-start)
		for i, h := range handles[start:end] {
			entries = append(entries, sqstypes.ChangeMessageVisibilityBatchRequestEntry{
				Id: aws.String(strconv.Itoa(start + i)), ReceiptHandle: aws.String(h), VisibilityTimeout: 0,
			})
		}
		out, err := c.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: &url, Entries: entries})
		switch {
		case err != nil:
			errs = append(errs, err)
		case len(out.Failed) > 0:
			errs = append(errs, fmt.Errorf("%d message(s) not released", len(out.Failed)))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("sqs release (the messages are visible again after %s): %w", HideFor, errors.Join(errs...))
	}
	return nil
}
