package standin

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

func TestKMSEncryptDecryptWithContext(t *testing.T) {
	k := startKMS(t)
	if !strings.HasPrefix(k.URL, "http://127.0.0.1:") {
		t.Fatalf("URL %q is not on 127.0.0.1", k.URL)
	}
	c := kmsClient(k.URL)
	ctx := t.Context()
	ec := map[string]string{"userpool-id": StagingPool}

	enc, err := c.Encrypt(ctx, &kms.EncryptInput{
		KeyId:             aws.String(k.KeyARN(StagingKeyID)),
		Plaintext:         []byte("123456"),
		EncryptionContext: ec,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(enc.KeyId), KeyARN(StagingKeyID); got != want {
		t.Errorf("Encrypt KeyId = %q, want %q", got, want)
	}
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{
		CiphertextBlob:    enc.CiphertextBlob,
		EncryptionContext: ec,
		KeyId:             aws.String(k.KeyARN(StagingKeyID)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if string(dec.Plaintext) != "123456" {
		t.Errorf("Decrypt = %q", dec.Plaintext)
	}

	// The encryption context is enforced.
	if _, err := c.Decrypt(ctx, &kms.DecryptInput{
		CiphertextBlob:    enc.CiphertextBlob,
		EncryptionContext: map[string]string{"userpool-id": DevLocalPool},
	}); err == nil {
		t.Error("Decrypt with another pool's context succeeded")
	}
	// So is the key id, when given.
	if _, err := c.Decrypt(ctx, &kms.DecryptInput{
		CiphertextBlob:    enc.CiphertextBlob,
		EncryptionContext: ec,
		KeyId:             aws.String(k.KeyARN(DevLocalKeyID)),
	}); err == nil {
		t.Error("Decrypt naming another key succeeded")
	}

	// Seeded aliases resolve to their keys.
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/phenom-dev-local-cognito")})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(d.KeyMetadata.Arn); got != KeyARN(DevLocalKeyID) {
		t.Errorf("alias/phenom-dev-local-cognito -> %q", got)
	}
	for _, id := range []string{StagingKeyID, DevLocalKeyID, OtherKeyID} {
		if _, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(KeyARN(id))}); err != nil {
			t.Errorf("seeded key %s: %v", id, err)
		}
	}
}

// Fixed key material: a second server seeded from the same file (and the
// same server restarted on its database) opens what the first encrypted.
func TestKMSFixedKeyMaterial(t *testing.T) {
	seed, err := LoadSeed()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	k1, err := StartKMS(seed, dir)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := kmsClient(k1.URL).Encrypt(t.Context(), &kms.EncryptInput{
		KeyId:     aws.String(KeyARN(OtherKeyID)),
		Plaintext: []byte("x"),
	})
	if err != nil {
		t.Fatal(err)
	}
	k1.Close()

	for name, d := range map[string]string{"same database": dir, "fresh database": t.TempDir()} {
		k, err := StartKMS(seed, d)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := kmsClient(k.URL).Decrypt(t.Context(), &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
		k.Close()
		if err != nil || string(dec.Plaintext) != "x" {
			t.Errorf("%s: Decrypt = %v, %v", name, dec, err)
		}
	}
}

func TestStartKMSRejectsBadSeed(t *testing.T) {
	for _, seed := range []string{"Keys: [", "Aliases: []\n"} {
		if k, err := StartKMS([]byte(seed), ""); err == nil {
			k.Close()
			t.Errorf("StartKMS(%q) succeeded", seed)
		}
	}
}
