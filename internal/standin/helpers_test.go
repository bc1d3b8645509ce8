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

// inCI: missing tools fail the build there instead of skipping.
func inCI() bool { return os.Getenv("CI") == "true" }

func skipOrFail(t *testing.T, err error) {
	t.Helper()
	if inCI() {
		t.Fatalf("CI=true and a stand-in tool is missing: %v", err)
	}
	t.Skip(err)
}

func startKMS(t *testing.T) *KMS {
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

func kmsClient(url string) *kms.Client {
	return kms.New(kms.Options{
		Region:       Region,
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

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
