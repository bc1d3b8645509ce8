package decrypt

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/Phenom-earth/phenom-mailer/internal/failure"
	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// These tests decrypt ciphertexts made by an independent implementation
// (the Node Encryption SDK, committed in testdata/ciphertexts) through a
// real KMS server on 127.0.0.1 (local-kms with fixed key material).

func startKMS(t *testing.T) *standin.KMS { return standin.KMSForTest(t) }

func kmsClient(url string) *kms.Client { return standin.KMSClient(url) }

func fixtures(t *testing.T) []standin.Fixture {
	t.Helper()
	p, err := standin.RepoFile(standin.FixturesPath)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := standin.LoadFixtures(p)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func fixture(t *testing.T, name string) standin.Fixture {
	t.Helper()
	f, ok := standin.FixtureByName(fixtures(t), name)
	if !ok {
		t.Fatalf("no fixture %q", name)
	}
	return f
}

func newDecrypter(t *testing.T, url string, requireContext bool) *Decrypter {
	t.Helper()
	d, err := New(kmsClient(url), Config{
		KeyARNs:            []string{standin.KeyARN(standin.StagingKeyID), standin.KeyARN(standin.DevLocalKeyID)},
		AllowedPools:       []string{standin.StagingPool, standin.DevLocalPool},
		RequirePoolContext: requireContext,
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDecryptCognitoShapedCiphertexts(t *testing.T) {
	k := startKMS(t)
	d := newDecrypter(t, k.URL, true)
	for _, tc := range []struct{ fixture, pool string }{
		{"cognito-staging", standin.StagingPool},
		{"cognito-devlocal", standin.DevLocalPool},
		{"admin-temp-password", standin.StagingPool},
	} {
		f := fixture(t, tc.fixture)
		got, err := d.Decrypt(context.Background(), f.Ciphertext, tc.pool)
		if err != nil {
			t.Fatalf("%s: %v", tc.fixture, err)
		}
		if got != f.Plaintext {
			t.Errorf("%s: plaintext differs from the fixture's", tc.fixture)
		}
	}
}

func TestRefusals(t *testing.T) {
	k := startKMS(t)
	strict := newDecrypter(t, k.URL, true)
	lax := newDecrypter(t, k.URL, false)
	staging := fixture(t, "cognito-staging")
	raw, _ := staging.CiphertextBytes()
	tampered := append([]byte(nil), raw...)
	tampered[len(tampered)-120] ^= 0x01 // inside the body or signature
	truncated := raw[:len(raw)/2]

	tests := []struct {
		name       string
		d          *Decrypter
		ciphertext string
		pool       string
		reason     string
	}{
		{"ciphertext for another pool", strict, fixture(t, "other-pool").Ciphertext, standin.StagingPool, "pool_mismatch"},
		{"another pool, even when context is optional", lax, fixture(t, "other-pool").Ciphertext, standin.StagingPool, "pool_mismatch"},
		{"staging ciphertext in a dev-local event", strict, staging.Ciphertext, standin.DevLocalPool, "pool_mismatch"},
		{"pool not allowed", strict, staging.Ciphertext, "us-east-1_NotOurs01", "pool_not_allowed"},
		{"no userpool-id context", strict, fixture(t, "no-context-0378").Ciphertext, standin.StagingPool, "pool_context_missing"},
		{"committing, no context, required", strict, fixture(t, "committing-nocontext").Ciphertext, standin.StagingPool, "pool_context_missing"},
		{"data key under a key we do not trust", strict, fixture(t, "unknown-key").Ciphertext, standin.StagingPool, "ciphertext_invalid"},
		{"tampered", strict, base64.StdEncoding.EncodeToString(tampered), standin.StagingPool, "ciphertext_invalid"},
		{"truncated", strict, base64.StdEncoding.EncodeToString(truncated), standin.StagingPool, "ciphertext_invalid"},
		{"not base64", strict, "%%%not-base64%%%", standin.StagingPool, "ciphertext_invalid"},
		{"base64 of junk", strict, base64.StdEncoding.EncodeToString([]byte("hello, world")), standin.StagingPool, "ciphertext_invalid"},
		{"empty", strict, "", standin.StagingPool, "code_missing"},
		{"oversized", strict, strings.Repeat("A", MaxCiphertext+4), standin.StagingPool, "ciphertext_invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.d.Decrypt(context.Background(), tt.ciphertext, tt.pool)
			if err == nil {
				t.Fatal("decrypted; want a refusal")
			}
			if got != "" {
				t.Error("returned plaintext with an error")
			}
			reason, permanent := failure.Classify(err)
			if reason != tt.reason || !permanent {
				t.Fatalf("got %s (permanent %v): %v; want permanent %s", reason, permanent, err, tt.reason)
			}
			if strings.Contains(err.Error(), "%!s") {
				t.Errorf("error keeps the SDK's stray prefix: %v", err)
			}
		})
	}
}

func TestCommittingSuiteWithoutContextWhenAllowed(t *testing.T) {
	k := startKMS(t)
	d := newDecrypter(t, k.URL, false)
	f := fixture(t, "committing-nocontext")
	got, err := d.Decrypt(context.Background(), f.Ciphertext, standin.StagingPool)
	if err != nil {
		t.Fatal(err)
	}
	if got != f.Plaintext {
		t.Error("plaintext differs from the fixture's")
	}
}

func TestKMSDownIsRetryable(t *testing.T) {
	k := startKMS(t)
	url := k.URL
	k.Close()
	d := newDecrypter(t, url, true)
	_, err := d.Decrypt(context.Background(), fixture(t, "cognito-staging").Ciphertext, standin.StagingPool)
	reason, permanent := failure.Classify(err)
	if err == nil || permanent || reason != "kms_unavailable" {
		t.Fatalf("got %v (%s, permanent %v); want retryable kms_unavailable", err, reason, permanent)
	}
}

func TestDeadlineReachesKMS(t *testing.T) {
	k := startKMS(t)
	d := newDecrypter(t, k.URL, true)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := d.Decrypt(ctx, fixture(t, "cognito-staging").Ciphertext, standin.StagingPool)
	reason, permanent := failure.Classify(err)
	if err == nil || permanent || reason != "deadline" {
		t.Fatalf("got %v (%s, permanent %v); want retryable deadline", err, reason, permanent)
	}
}

// TestFreshNodeCiphertexts mints new ciphertexts with the Node Encryption
// SDK at test time, so the interop holds for the SDK versions installed now,
// not only for the committed fixtures.
func TestFreshNodeCiphertexts(t *testing.T) {
	k := startKMS(t)
	cases := []standin.NodeCase{
		{Name: "fresh-0378", Suite: standin.SuiteCognito, Pool: standin.StagingPool, KeyID: standin.StagingKeyID, Plaintext: "918273"},
		{Name: "fresh-0578", Suite: standin.SuiteCommitting, Pool: standin.DevLocalPool, KeyID: standin.DevLocalKeyID, Plaintext: "564738"},
	}
	got, err := standin.EncryptWithNode(context.Background(), k.URL, cases)
	if errors.Is(err, standin.ErrNodeESDKMissing) {
		standin.SkipOrFail(t, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	d := newDecrypter(t, k.URL, true)
	for i, f := range got {
		pt, err := d.Decrypt(context.Background(), f.Ciphertext, cases[i].Pool)
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if pt != cases[i].Plaintext {
			t.Errorf("%s: wrong plaintext", f.Name)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	c := kmsClient("http://127.0.0.1:1")
	for name, cfg := range map[string]Config{
		"no keys":   {AllowedPools: []string{"p"}},
		"alias":     {KeyARNs: []string{"alias/phenom"}, AllowedPools: []string{"p"}},
		"alias arn": {KeyARNs: []string{"arn:aws:kms:us-east-1:111122223333:alias/phenom"}, AllowedPools: []string{"p"}},
		"no pools":  {KeyARNs: []string{standin.KeyARN(standin.StagingKeyID)}},
	} {
		if _, err := New(c, cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestSwappedDataKey puts the encrypted data key of one Cognito message into
// another made under the same key and pool: KMS must refuse to open it under
// the other message's encryption context, and nothing is decrypted.
func TestSwappedDataKey(t *testing.T) {
	k := startKMS(t)
	d := newDecrypter(t, k.URL, true)
	a, b := fixture(t, "cognito-staging"), fixture(t, "admin-temp-password")
	rawA, _ := a.CiphertextBytes()
	rawB, _ := b.CiphertextBytes()
	ha, err := standin.ParseESDKHeader(rawA)
	if err != nil {
		t.Fatal(err)
	}
	hb, err := standin.ParseESDKHeader(rawB)
	if err != nil {
		t.Fatal(err)
	}
	edkA, edkB := ha.DataKeys[0].Ciphertext, hb.DataKeys[0].Ciphertext
	if len(edkA) != len(edkB) || bytes.Equal(edkA, edkB) {
		t.Fatalf("fixtures unsuitable: data keys of %d and %d bytes", len(edkA), len(edkB))
	}
	swapped := bytes.Replace(rawA, edkA, edkB, 1)
	got, err := d.Decrypt(context.Background(), base64.StdEncoding.EncodeToString(swapped), standin.StagingPool)
	reason, permanent := failure.Classify(err)
	if err == nil || got != "" || reason != "ciphertext_invalid" || !permanent {
		t.Fatalf("swapped data key: %v (%s, permanent %v)", err, reason, permanent)
	}
}

// FuzzDecrypt feeds arbitrary bytes, raw and as base64, through the whole
// ciphertext path against the KMS stand-in: every input ends in an error or
// a plaintext, never a panic.
func FuzzDecrypt(f *testing.F) {
	k := standin.KMSForTest(f)
	// No retries: with the SDK's default retryer this target stalled at
	// about a hundred inputs in a fresh checkout (some mutated messages make
	// KMS calls that are retried with seconds of backoff); without it, tens
	// of thousands of inputs run in 10 s.
	noRetry := kms.New(standin.KMSClient(k.URL).Options(), func(o *kms.Options) { o.Retryer = aws.NopRetryer{} })
	d, err := New(noRetry, Config{
		KeyARNs:            []string{standin.KeyARN(standin.StagingKeyID)},
		AllowedPools:       []string{standin.StagingPool},
		RequirePoolContext: true,
	})
	if err != nil {
		f.Fatal(err)
	}
	p, _ := standin.RepoFile(standin.FixturesPath)
	fs, _ := standin.LoadFixtures(p)
	for _, fx := range fs {
		raw, _ := fx.CiphertextBytes()
		f.Add(raw)
		if len(raw) > 40 {
			f.Add(raw[:40])
		}
	}
	f.Add([]byte{0x01, 0x80, 0x03, 0x78})
	f.Add([]byte{0x02, 0x05, 0x78})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, in := range []string{base64.StdEncoding.EncodeToString(data), string(data)} {
			pt, err := d.Decrypt(context.Background(), in, standin.StagingPool)
			if err != nil && pt != "" {
				t.Fatal("plaintext returned with an error")
			}
			if err != nil {
				if _, permanent := failure.Classify(err); !permanent && !strings.Contains(err.Error(), "kms") {
					t.Fatalf("bad input classified retryable: %v", err)
				}
			}
		}
	})
}
