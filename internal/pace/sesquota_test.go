package pace

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// countingSES counts the GetAccount calls that reach the stand-in.
type countingSES struct {
	*sesv2.Client
	calls int
}

func (c *countingSES) GetAccount(ctx context.Context, in *sesv2.GetAccountInput, optFns ...func(*sesv2.Options)) (*sesv2.GetAccountOutput, error) {
	c.calls++
	return c.Client.GetAccount(ctx, in, optFns...)
}

// SESQuota against moto's SES v2 GetAccount (the stand-in's account answer
// has SendQuota.MaxSendRate 14, as a new production account).
func TestSESQuotaReadsMaxSendRateOnce(t *testing.T) {
	m := standin.MotoForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ses := &countingSES{Client: m.SESClient()}
	q := &SESQuota{Client: ses}
	for i := 0; i < 3; i++ {
		r, err := q.MaxSendRate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r != 14 {
			t.Fatalf("MaxSendRate = %v, want 14", r)
		}
	}
	if ses.calls != 1 {
		t.Fatalf("GetAccount called %d times, want once", ses.calls)
	}
	if got := New(q, 2, 0, nil).Rate(); got != 7 {
		t.Fatalf("Rate() = %v, want 14/2", got)
	}
}
