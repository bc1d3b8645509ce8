package decrypt

import (
	"context"
	"testing"

	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
	"github.com/Phenom-earth/phenom-mailer/internal/timing"
)

// BenchmarkDecrypt is one decrypt of a Cognito-shaped ciphertext (suite
// 0x0378, userpool-id context, made by the Node Encryption SDK) through
// local-kms on 127.0.0.1, with the two trusted keys of the tests; own-ms/op
// is the Encryption SDK's work without the time spent in the KMS call.
func BenchmarkDecrypt(b *testing.B) {
	seed, err := standin.LoadSeed()
	if err != nil {
		b.Fatal(err)
	}
	k, err := standin.StartKMS(seed, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close()
	d, err := New(kmsClient(k.URL), Config{
		KeyARNs:            []string{standin.KeyARN(standin.StagingKeyID), standin.KeyARN(standin.DevLocalKeyID)},
		AllowedPools:       []string{standin.StagingPool, standin.DevLocalPool},
		RequirePoolContext: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	p, err := standin.RepoFile(standin.FixturesPath)
	if err != nil {
		b.Fatal(err)
	}
	fs, err := standin.LoadFixtures(p)
	if err != nil {
		b.Fatal(err)
	}
	f, ok := standin.FixtureByName(fs, "cognito-staging")
	if !ok {
		b.Fatal("no fixture cognito-staging")
	}
	var wait float64
	b.ReportAllocs()
	for b.Loop() {
		ctx, w := timing.WithWait(context.Background())
		got, err := d.Decrypt(ctx, f.Ciphertext, standin.StagingPool)
		if err != nil || got != f.Plaintext {
			b.Fatalf("decrypt: %v", err)
		}
		wait += float64(w.Total().Nanoseconds()) / 1e6
	}
	if b.N > 0 {
		elapsed := float64(b.Elapsed().Nanoseconds()) / 1e6
		b.ReportMetric(wait/float64(b.N), "kms-wait-ms/op")
		b.ReportMetric((elapsed-wait)/float64(b.N), "own-ms/op")
	}
}
