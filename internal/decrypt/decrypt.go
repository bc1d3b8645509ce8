// Package decrypt turns the code Cognito hands a custom sender (a base64 AWS
// Encryption SDK message) back into plaintext, through KMS. It is the only
// package that imports the Encryption SDK.
//
// Cognito encrypts with the non-committing suite 0x0378 and an encryption
// context {"userpool-id": <pool>, "aws-crypto-public-key": ...}. The
// Decrypter allows that suite (commitment policy
// REQUIRE_ENCRYPT_ALLOW_DECRYPT, which also decrypts committing suites),
// accepts only data keys wrapped by the configured key ARNs, and refuses a
// message whose authenticated userpool-id is not the event's pool, or whose
// pool is not allowed, before any mail is built.
//
// It must not know the event beyond its ciphertext and pool, the templates,
// SES, Lambda or the environment: the KMS client and the allowed keys and
// pools are given to New.
package decrypt

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-cryptographic-material-providers-library/releases/go/mpl/awscryptographymaterialproviderssmithygenerated"
	mpltypes "github.com/aws/aws-cryptographic-material-providers-library/releases/go/mpl/awscryptographymaterialproviderssmithygeneratedtypes"
	esdk "github.com/aws/aws-encryption-sdk/releases/go/encryption-sdk/awscryptographyencryptionsdksmithygenerated"
	esdktypes "github.com/aws/aws-encryption-sdk/releases/go/encryption-sdk/awscryptographyencryptionsdksmithygeneratedtypes"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/Phenom-earth/phenom-mailer/internal/failure"
	"github.com/Phenom-earth/phenom-mailer/internal/timing"
)

// PoolContextKey is the encryption context key Cognito sets to the pool id.
const PoolContextKey = "userpool-id"

// MaxCiphertext bounds the base64 code accepted (Cognito's are under 1 KiB).
const MaxCiphertext = 16 << 10

// maxDataKeys bounds the encrypted data keys the SDK will try (Cognito sends one).
const maxDataKeys = 4

// Config says which keys and pools are trusted.
type Config struct {
	// KeyARNs are the full KMS key ARNs (never aliases: the keyring matches
	// a data key's provider info, which is the key ARN).
	KeyARNs []string
	// AllowedPools are the user pool ids this deployment serves.
	AllowedPools []string
	// RequirePoolContext refuses a ciphertext without a userpool-id
	// encryption context. Only emulators (cognito-local) need it false.
	RequirePoolContext bool
}

// Decrypter decrypts Cognito codes. It is safe for concurrent use.
type Decrypter struct {
	cfg  Config
	kms  *kms.Client
	esdk *esdk.Client
	mpl  *awscryptographymaterialproviderssmithygenerated.Client
	// keyrings holds built keyrings (*boundKeyring) for reuse: building
	// one per Decrypt cost about a tenth of a millisecond of the SDK's
	// generated code. Each is held by one Decrypt at a time.
	keyrings sync.Pool
}

// boundKeyring is a keyring whose KMS client works for whichever Decrypt
// holds it: the material providers call KMS with context.Background(), so
// the client's middleware brings back the holder's invocation deadline and
// records what KMS answered, so that a failure can be classified.
type boundKeyring struct {
	keyring mpltypes.IKeyring
	// Set by the holder for the length of one Decrypt.
	invocation context.Context
	rec        *kmsRecorder
}

// New checks cfg and prepares the Encryption SDK. kmsClient carries the
// region, credentials and endpoint; it is not called until Decrypt.
func New(kmsClient *kms.Client, cfg Config) (*Decrypter, error) {
	if len(cfg.KeyARNs) == 0 {
		return nil, errors.New("decrypt: no KMS key ARNs configured")
	}
	for _, k := range cfg.KeyARNs {
		a, err := arn.Parse(k)
		if err != nil || a.Service != "kms" || !strings.HasPrefix(a.Resource, "key/") {
			return nil, fmt.Errorf("decrypt: %q is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID; aliases cannot match Cognito's data keys)", k)
		}
	}
	if len(cfg.AllowedPools) == 0 {
		return nil, errors.New("decrypt: no allowed user pools configured")
	}
	matProv, err := awscryptographymaterialproviderssmithygenerated.NewClient(mpltypes.MaterialProvidersConfig{})
	if err != nil {
		return nil, fmt.Errorf("decrypt: material providers: %w", err)
	}
	policy := mpltypes.ESDKCommitmentPolicyRequireEncryptAllowDecrypt
	maxKeys := int64(maxDataKeys)
	client, err := esdk.NewClient(esdktypes.AwsEncryptionSdkConfig{CommitmentPolicy: &policy, MaxEncryptedDataKeys: &maxKeys})
	if err != nil {
		return nil, fmt.Errorf("decrypt: encryption sdk: %w", err)
	}
	return &Decrypter{cfg: cfg, kms: kmsClient, esdk: client, mpl: matProv}, nil
}

// Decrypt returns the plaintext code in ciphertext, a base64 Encryption SDK
// message minted by Cognito for pool. Errors are failure.Errors; none
// carries plaintext.
func (d *Decrypter) Decrypt(ctx context.Context, ciphertext, pool string) (string, error) {
	if !slices.Contains(d.cfg.AllowedPools, pool) {
		return "", failure.Permanent(failure.ReasonPoolNotAllowed, fmt.Errorf("user pool %q is not in the allowed pools", pool))
	}
	if ciphertext == "" {
		return "", failure.Permanent(failure.ReasonCodeMissing, errors.New("the event carries no encrypted code"))
	}
	if len(ciphertext) > MaxCiphertext {
		return "", failure.Permanent(failure.ReasonCiphertextInvalid, fmt.Errorf("encrypted code is %d bytes, over the %d-byte limit", len(ciphertext), MaxCiphertext))
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(ciphertext))
	if err != nil {
		return "", failure.Permanent(failure.ReasonCiphertextInvalid, fmt.Errorf("encrypted code is not base64: %w", err))
	}

	// The material providers call KMS with context.Background(); the
	// keyring's client brings back this invocation's deadline and records
	// what KMS answered, so that a failure can be classified.
	bk, err := d.takeKeyring(ctx)
	if err != nil {
		return "", failure.Retryable(failure.ReasonDecryptSetup, err)
	}
	rec := &kmsRecorder{}
	bk.invocation, bk.rec = ctx, rec
	// The pool is checked on the encryption context the SDK returns, which
	// the message's header authentication (and, for Cognito's suite, its
	// signature) protects. Passing it as a reproduced context instead would
	// blur a wrong pool and a missing context into one opaque error.
	out, err := d.esdk.Decrypt(ctx, esdktypes.DecryptInput{Ciphertext: raw, Keyring: bk.keyring})
	bk.invocation, bk.rec = nil, nil
	d.keyrings.Put(bk)
	if err != nil {
		return "", rec.classify(ctx, err)
	}
	got, ok := out.EncryptionContext[PoolContextKey]
	switch {
	case ok && got != pool:
		return "", failure.Permanent(failure.ReasonPoolMismatch, fmt.Errorf("ciphertext was made for user pool %q, not the event's %q", got, pool))
	case !ok && d.cfg.RequirePoolContext:
		return "", failure.Permanent(failure.ReasonPoolContextMissing, errors.New("ciphertext has no userpool-id encryption context"))
	}
	return string(out.Plaintext), nil
}

// takeKeyring returns a keyring no other Decrypt holds, built when the
// pool has none.
func (d *Decrypter) takeKeyring(ctx context.Context) (*boundKeyring, error) {
	if bk, ok := d.keyrings.Get().(*boundKeyring); ok {
		return bk, nil
	}
	bk := &boundKeyring{}
	client := kms.New(d.kms.Options(), func(o *kms.Options) {
		o.APIOptions = append(o.APIOptions, bk.middleware)
	})
	kr, err := d.keyring(ctx, client)
	if err != nil {
		return nil, err
	}
	bk.keyring = kr
	return bk, nil
}

// keyring builds a multi-keyring of strict KMS keyrings, one per key ARN.
func (d *Decrypter) keyring(ctx context.Context, client *kms.Client) (mpltypes.IKeyring, error) {
	children := make([]mpltypes.IKeyring, 0, len(d.cfg.KeyARNs))
	for _, k := range d.cfg.KeyARNs {
		kr, err := d.mpl.CreateAwsKmsKeyring(ctx, mpltypes.CreateAwsKmsKeyringInput{KmsClient: client, KmsKeyId: k})
		if err != nil {
			return nil, fmt.Errorf("kms keyring for %s: %w", k, cleanSDKError(err))
		}
		children = append(children, kr)
	}
	if len(children) == 1 {
		return children[0], nil
	}
	return d.mpl.CreateMultiKeyring(ctx, mpltypes.CreateMultiKeyringInput{ChildKeyrings: children})
}

// kmsRecorder remembers the last error KMS (or the network) gave during one
// Decrypt.
type kmsRecorder struct {
	mu      sync.Mutex
	calls   int
	lastErr error
}

// middleware runs each KMS call of the keyring under the holder's
// invocation: its deadline and cancellation, its waiting time, its recorder.
func (b *boundKeyring) middleware(s *middleware.Stack) error {
	return s.Initialize.Add(middleware.InitializeMiddlewareFunc("phenomInvocationContext",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			invocation, r := b.invocation, b.rec
			if invocation == nil { // never: the SDK calls KMS only inside Decrypt
				invocation, r = ctx, &kmsRecorder{}
			}
			start := time.Now()
			out, md, err := next.HandleInitialize(linkedContext{Context: ctx, life: invocation}, in)
			timing.AddWait(invocation, time.Since(start))
			r.mu.Lock()
			r.calls++
			r.lastErr = err
			r.mu.Unlock()
			return out, md, err
		}), middleware.Before)
}

// KMS error codes a later attempt may get past: throttling, KMS's own
// faults, and key states an operator can fix.
var retryableKMSCodes = map[string]bool{
	"ThrottlingException":        true,
	"KMSInternalException":       true,
	"DependencyTimeoutException": true,
	"KeyUnavailableException":    true,
	"KMSInvalidStateException":   true,
	"DisabledException":          true,
	"AccessDeniedException":      true,
	"LimitExceededException":     true,
}

func (r *kmsRecorder) classify(ctx context.Context, sdkErr error) error {
	r.mu.Lock()
	calls, kmsErr := r.calls, r.lastErr
	r.mu.Unlock()
	cause := cleanSDKError(sdkErr)
	if kmsErr == nil {
		if ctx.Err() != nil {
			return failure.Retryable(failure.ReasonDeadline, fmt.Errorf("decrypt: %w", ctx.Err()))
		}
		if calls == 0 {
			// Refused before KMS was asked: malformed message, a data key
			// for a key we do not trust, or a context mismatch.
			return failure.Permanent(failure.ReasonCiphertextInvalid, fmt.Errorf("decrypt: %w", cause))
		}
		// KMS unwrapped a data key but the message did not verify.
		return failure.Permanent(failure.ReasonCiphertextInvalid, fmt.Errorf("decrypt: message failed authentication: %w", cause))
	}
	var apiErr smithy.APIError
	var netErr net.Error
	switch {
	case errors.As(kmsErr, &apiErr):
		if retryableKMSCodes[apiErr.ErrorCode()] {
			return failure.Retryable(failure.ReasonKMSUnavailable, fmt.Errorf("decrypt: kms: %s", apiErr.ErrorCode()))
		}
		var re interface{ HTTPStatusCode() int }
		if errors.As(kmsErr, &re) && re.HTTPStatusCode() >= 500 {
			return failure.Retryable(failure.ReasonKMSUnavailable, fmt.Errorf("decrypt: kms: %s (HTTP %d)", apiErr.ErrorCode(), re.HTTPStatusCode()))
		}
		return failure.Permanent(failure.ReasonCiphertextInvalid, fmt.Errorf("decrypt: kms refused the data key: %s", apiErr.ErrorCode()))
	case errors.Is(kmsErr, context.DeadlineExceeded), errors.Is(kmsErr, context.Canceled):
		return failure.Retryable(failure.ReasonDeadline, fmt.Errorf("decrypt: kms: %w", kmsErr))
	case errors.As(kmsErr, &netErr):
		return failure.Retryable(failure.ReasonKMSUnavailable, fmt.Errorf("decrypt: kms: %w", kmsErr))
	default:
		return failure.Retryable(failure.ReasonKMSUnavailable, fmt.Errorf("decrypt: kms: %w", kmsErr))
	}
}

// cleanSDKError strips the "%!s(*string=<nil>)" the generated SDK code
// prefixes to its messages.
func cleanSDKError(err error) error {
	msg := strings.TrimSpace(strings.ReplaceAll(err.Error(), "%!s(*string=<nil>)", ""))
	if msg == "" {
		msg = "encryption sdk error"
	}
	return errors.New(msg)
}

// linkedContext keeps the values of the SDK's own context but takes its
// deadline and cancellation from the invocation.
type linkedContext struct {
	context.Context
	life context.Context
}

func (c linkedContext) Deadline() (time.Time, bool) { return c.life.Deadline() }
func (c linkedContext) Done() <-chan struct{}       { return c.life.Done() }
func (c linkedContext) Err() error                  { return c.life.Err() }
