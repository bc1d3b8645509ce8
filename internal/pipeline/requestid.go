package pipeline

import (
	"context"
	"crypto/rand"
	"fmt"
)

type requestIDKey struct{}

// WithRequestID returns ctx carrying the id of this request (Lambda's
// request id; outside Lambda one from NewRequestID).
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the request id ctx carries, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// RequestID is the request id ctx carries, or a new one.
func RequestID(ctx context.Context) string {
	if id := RequestIDFrom(ctx); id != "" {
		return id
	}
	return NewRequestID()
}

// NewRequestID returns a random request id shaped like Lambda's (a UUID v4).
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
