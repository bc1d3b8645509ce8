package standin

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// SkipOrFail skips a test whose tool is missing, except with CI=true, where
// a missing tool fails it: CI must run every test.
func SkipOrFail(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and a stand-in tool is missing: %v", err)
	}
	t.Skip(err)
}

// KMSForTest starts a KMS stand-in with the seeded test keys for one test.
func KMSForTest(t testing.TB) *KMS {
	t.Helper()
	seed, err := LoadSeed()
	if err != nil {
		t.Fatal(err)
	}
	k, err := StartKMS(seed, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

// MotoForTest starts moto_server and its proxy for one test, closed when
// the test ends. A missing moto_server skips the test (fails it with
// CI=true).
func MotoForTest(t testing.TB) *Moto {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := StartMoto(ctx, MotoOptions{})
	if errors.Is(err, ErrMotoMissing) {
		SkipOrFail(t, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// KMSClient is a KMS client for a stand-in URL with static test credentials.
func KMSClient(url string) *kms.Client {
	return kms.New(kms.Options{
		Region:       Region,
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}
