package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// SQSAPI is the part of *sqs.Client the SQS sender uses.
type SQSAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// SQSSender sends requests to the mailer's service queue.
type SQSSender struct {
	api      SQSAPI
	queueURL string
}

// NewSQS returns a sender to the queue at queueURL (the Terraform output
// send_queue_url).
func NewSQS(api SQSAPI, queueURL string) *SQSSender {
	return &SQSSender{api: api, queueURL: queueURL}
}

// Send puts the request on the queue as one message whose body is the
// request's JSON, and returns SQS's message id. The mailer sends it within
// seconds, retries a passing failure (up to 5 receives, then the
// dead-letter queue) and drops a refused request after logging it: the
// outcome is not returned here (use the URL for that). Without an
// IdempotencyKey the message id is the key, so a redelivered message sends
// one mail. The queue is a standard queue: no group or deduplication id.
// A request that fails Encode is a *RefusedError and is not sent.
func (s *SQSSender) Send(ctx context.Context, req Request) (string, error) {
	body, err := req.Encode()
	if err != nil {
		return "", err
	}
	out, err := s.api.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:    aws.String(s.queueURL),
		MessageBody: aws.String(string(body)),
	})
	if err != nil {
		return "", fmt.Errorf("client: sqs send: %w", err)
	}
	if out == nil || aws.ToString(out.MessageId) == "" {
		return "", errors.New("client: sqs send: no message id in the answer")
	}
	return aws.ToString(out.MessageId), nil
}
