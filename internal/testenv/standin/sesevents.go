package standin

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// EventPipeline is the SES events path of the Terraform module on moto: an
// SNS topic (the configuration set's event destination) and an SQS queue
// subscribed to it with raw message delivery off, so that each SQS body is
// SNS's JSON envelope around the SES event. moto has no SES event
// publishing: tests play SES by publishing SES-shaped events to the topic.
type EventPipeline struct {
	m        *Moto
	TopicARN string
	QueueURL string
	QueueARN string
}

// StartEventPipeline creates the topic, the queue and the subscription.
func (m *Moto) StartEventPipeline(ctx context.Context, name string) (*EventPipeline, error) {
	t, err := m.SNSClient().CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name + "-ses-events")})
	if err != nil {
		return nil, fmt.Errorf("standin: create topic: %w", err)
	}
	q, err := m.SQSClient().CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-ses-events")})
	if err != nil {
		return nil, fmt.Errorf("standin: create queue: %w", err)
	}
	attrs, err := m.SQSClient().GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return nil, fmt.Errorf("standin: queue attributes: %w", err)
	}
	p := &EventPipeline{m: m, TopicARN: *t.TopicArn, QueueURL: *q.QueueUrl, QueueARN: attrs.Attributes["QueueArn"]}
	_, err = m.SNSClient().Subscribe(ctx, &sns.SubscribeInput{
		TopicArn: t.TopicArn, Protocol: aws.String("sqs"), Endpoint: &p.QueueARN,
		Attributes: map[string]string{"RawMessageDelivery": "false"},
	})
	if err != nil {
		return nil, fmt.Errorf("standin: subscribe: %w", err)
	}
	return p, nil
}

// Publish publishes one SES event (its JSON) to the topic, as SES does.
func (p *EventPipeline) Publish(ctx context.Context, sesEvent string) error {
	_, err := p.m.SNSClient().Publish(ctx, &sns.PublishInput{TopicArn: &p.TopicARN, Message: &sesEvent})
	if err != nil {
		return fmt.Errorf("standin: publish: %w", err)
	}
	return nil
}

// Receive reads every message waiting in the queue (deleting them) and
// returns them as the SQS event Lambda's event source mapping would hand
// the function, in batches of at most batchSize records.
func (p *EventPipeline) Receive(ctx context.Context, batchSize int) ([][]byte, error) {
	var msgs []events.SQSMessage
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := p.m.SQSClient().ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: &p.QueueURL, MaxNumberOfMessages: 10,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			return nil, fmt.Errorf("standin: receive: %w", err)
		}
		if len(out.Messages) == 0 {
			break
		}
		for _, m := range out.Messages {
			attrs := map[string]string{}
			for k, v := range m.Attributes {
				attrs[k] = v
			}
			msgs = append(msgs, events.SQSMessage{
				MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
				Body: aws.ToString(m.Body), Md5OfBody: aws.ToString(m.MD5OfBody), Attributes: attrs,
				MessageAttributes: map[string]events.SQSMessageAttribute{},
				EventSource:       "aws:sqs", EventSourceARN: p.QueueARN, AWSRegion: Region,
			})
			if _, err := p.m.SQSClient().DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &p.QueueURL, ReceiptHandle: m.ReceiptHandle}); err != nil {
				return nil, fmt.Errorf("standin: delete message: %w", err)
			}
		}
		if time.Now().After(deadline) {
			break
		}
	}
	var batches [][]byte
	for len(msgs) > 0 {
		n := min(batchSize, len(msgs))
		b, err := json.Marshal(events.SQSEvent{Records: msgs[:n]})
		if err != nil {
			return nil, err
		}
		batches = append(batches, b)
		msgs = msgs[n:]
	}
	return batches, nil
}
