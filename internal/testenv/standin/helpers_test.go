package standin

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
)

func skipOrFail(t *testing.T, err error) { SkipOrFail(t, err) }

func startKMS(t *testing.T) *KMS { return KMSForTest(t) }

func kmsClient(url string) *kms.Client { return KMSClient(url) }

func startMoto(t *testing.T, opts MotoOptions) *Moto {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	m, err := StartMoto(ctx, opts)
	if errors.Is(err, ErrMotoMissing) {
		skipOrFail(t, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}
