package service

import (
	"context"
	"sync"
)

// Message is one request from the send queue.
type Message struct {
	ID   string // the SQS message id
	Body []byte
}

// DefaultBatchParallel is how many messages of a batch are sent at once.
const DefaultBatchParallel = 10

// HandleBatch sends the mail of each message, at most parallel at once
// (DefaultBatchParallel when 0), and returns the results in order. A
// message whose result says Requeue must go back to the queue (a
// retryable failure, or a duplicate of a request still in flight); every
// other outcome is final (logged and recorded), so the message is
// dropped.
func (h *Handler) HandleBatch(ctx context.Context, msgs []Message, parallel int) []Result {
	if parallel <= 0 {
		parallel = DefaultBatchParallel
	}
	out := make([]Result, len(msgs))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, m := range msgs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i] = h.Handle(ctx, m.Body, Source{Kind: SourceSQS, MessageID: m.ID})
		}()
	}
	wg.Wait()
	return out
}
