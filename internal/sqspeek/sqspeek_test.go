package sqspeek

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Unit tests with an in-process queue; cmd/mailer's trace and doctor tests
// peek at real queues on moto.

// fakeQueue hides what it hands out for the requested timeout, as SQS
// does, and makes it visible again on release.
type fakeQueue struct {
	n          int
	hidden     map[int]bool
	released   int
	releaseErr error
	timeouts   []int32
}

func (q *fakeQueue) ReceiveMessage(_ context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	q.timeouts = append(q.timeouts, in.VisibilityTimeout)
	var out []sqstypes.Message
	for i := 0; i < q.n && len(out) < int(in.MaxNumberOfMessages); i++ {
		if q.hidden[i] {
			continue
		}
		if in.VisibilityTimeout > 0 {
			q.hidden[i] = true
		}
		out = append(out, sqstypes.Message{MessageId: aws.String("m" + strconv.Itoa(i)), ReceiptHandle: aws.String(strconv.Itoa(i)),
			Body:       aws.String("body " + strconv.Itoa(i)),
			Attributes: map[string]string{"SentTimestamp": strconv.FormatInt(int64(1_700_000_000_000-i*1000), 10)}})
	}
	return &sqs.ReceiveMessageOutput{Messages: out}, nil
}

func (q *fakeQueue) ChangeMessageVisibilityBatch(_ context.Context, in *sqs.ChangeMessageVisibilityBatchInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	if len(in.Entries) > 10 {
		return nil, errors.New("AWS.SimpleQueueService.TooManyEntriesInBatchRequest")
	}
	if q.releaseErr != nil {
		return nil, q.releaseErr
	}
	for _, e := range in.Entries {
		if e.VisibilityTimeout != 0 {
			return nil, errors.New("release with a non-zero timeout")
		}
		i, _ := strconv.Atoi(*e.ReceiptHandle)
		delete(q.hidden, i)
		q.released++
	}
	return &sqs.ChangeMessageVisibilityBatchOutput{}, nil
}

func TestPeekSeesEachOnceAndReleasesAll(t *testing.T) {
	q := &fakeQueue{n: 25, hidden: map[int]bool{}}
	msgs, err := Peek(context.Background(), q, "u", 10, true)
	if err != nil || len(msgs) != 25 {
		t.Fatalf("%d messages, %v", len(msgs), err)
	}
	if q.released != 25 || len(q.hidden) != 0 {
		t.Errorf("released %d, still hidden %d", q.released, len(q.hidden))
	}
	for _, to := range q.timeouts {
		if to <= 0 {
			t.Errorf("a receive with VisibilityTimeout %d: the SDK does not send 0, so the queue's default applies", to)
		}
	}
	// 3 receives bring messages, then 2 empty ones end the peek.
	if len(q.timeouts) != 5 {
		t.Errorf("%d receives, want 5", len(q.timeouts))
	}
	if msgs[3].Body != "body 3" || msgs[3].ID != "m3" {
		t.Errorf("%+v", msgs[3])
	}
	oldest, ok := Oldest(msgs)
	if !ok || !oldest.Equal(time.UnixMilli(1_700_000_000_000-24*1000)) {
		t.Errorf("oldest %v", oldest)
	}

	// Without bodies, and bounded: one receive.
	q = &fakeQueue{n: 25, hidden: map[int]bool{}}
	msgs, _ = Peek(context.Background(), q, "u", 1, false)
	if len(msgs) != 10 || msgs[0].Body != "" || q.released != 10 {
		t.Errorf("%d messages, body %q, released %d", len(msgs), msgs[0].Body, q.released)
	}

	// A release that fails is an error beside what was seen.
	q = &fakeQueue{n: 3, hidden: map[int]bool{}, releaseErr: errors.New("AccessDenied")}
	msgs, err = Peek(context.Background(), q, "u", 10, false)
	if len(msgs) != 3 || err == nil || !strings.Contains(err.Error(), "visible again after 20s") {
		t.Errorf("%d messages, %v", len(msgs), err)
	}
}
