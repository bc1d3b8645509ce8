package standin

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// LambdaBuildTags are the build tags of `make lambda`: lambda.norpc (the
// Lambda library without its RPC mode) and lambda (cmd/mailer without the
// commands only a person runs). Everything that builds the bootstrap for a
// test or a benchmark uses them; deploy/lambda_test.go holds the Makefile's
// build to the same.
const LambdaBuildTags = "lambda,lambda.norpc"

// ErrRIEMissing means aws-lambda-rie is neither on PATH nor in bin/ (make
// deps installs it there).
var ErrRIEMissing = errors.New("standin: aws-lambda-rie not found (make deps installs it into bin/)")

// The chain's test account and inbound bucket.
const (
	ChainUser         = "test-staging@thephenom.app"
	ChainIMAPPassword = "imap-pw-for-tests-only"
	ChainBucket       = "phenom-inbound"
	ChainPrefix       = "inbound/"
	// ChainDKIMSelector signs d=thephenom.app; ChainDNS serves its key.
	ChainDKIMSelector = "mailer"
	// ChainDeliveryTable is the mailer's delivery record in the chain.
	ChainDeliveryTable = "phenom-mailer-chain-deliveries"
)

// Chain is the whole password-reset chain on 127.0.0.1:
//
//	cognito-local ForgotPassword → the real mailer bootstrap under
//	aws-lambda-rie → ESDK decrypt through local-kms → DKIM-signed Raw
//	SendEmail to moto's SES v2 → the ReceiptRule's copy into a moto S3
//	bucket and, over LMTP, into dovecot; the DKIM key on a DNS server.
//
// A reader then reads S3 (AWS_ENDPOINT_URL_S3 = Moto.URL) or IMAP
// (Dovecot.IMAPAddr) and signs in against Cognito.URL.
type Chain struct {
	KMS     *KMS
	Moto    *Moto
	DNS     *DNS
	Dovecot *Dovecot
	Cognito *CognitoLocal
	Rule    *ReceiptRule
	// Pool and Client are cognito-local's user pool and app client; the
	// user ChainUser exists with a verified email.
	Pool, Client string
	// DKIMKeyPEM is the mailer's signing key (the DNS server has its public half).
	DKIMKeyPEM []byte
	rieLogs    *LockedBuffer

	rie       *exec.Cmd
	bootstrap string
	closers   []func()
}

// RIELog returns the emulator's and the mailer's output (the mailer never
// logs a code; cognito-local's output is not included).
func (c *Chain) RIELog() string { return c.rieLogs.String() }

// StartChain builds the bootstrap and starts every server. Errors wrapping
// ErrMotoMissing, ErrDovecotMissing, ErrCognitoLocalMissing or ErrRIEMissing
// mean a tool is not installed.
func StartChain(ctx context.Context) (c *Chain, err error) {
	c = &Chain{rieLogs: &LockedBuffer{}}
	started := c // the error returns set c to nil; close what did start
	defer func() {
		if err != nil {
			started.Close()
		}
	}()
	rie, err := FindRIE()
	if err != nil {
		return nil, err
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}

	// The bootstrap builds while the servers start.
	dir, err := os.MkdirTemp("", "standin-chain-")
	if err != nil {
		return nil, err
	}
	c.closers = append(c.closers, func() { os.RemoveAll(dir) })
	c.bootstrap = filepath.Join(dir, "bootstrap")
	buildDone := make(chan error, 1)
	go func() {
		build := exec.CommandContext(ctx, "go", "build", "-tags", LambdaBuildTags, "-o", c.bootstrap, "./cmd/mailer")
		build.Dir = root
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			buildDone <- fmt.Errorf("standin: build bootstrap: %v\n%s", err, out)
			return
		}
		buildDone <- nil
	}()
	waitBuild := func() error {
		select {
		case err := <-buildDone:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}

	seed, err := LoadSeed()
	if err != nil {
		waitBuild()
		return nil, err
	}
	if c.KMS, err = StartKMS(seed, ""); err != nil {
		waitBuild()
		return nil, err
	}
	c.closers = append(c.closers, func() { c.KMS.Close() })
	if c.Moto, err = StartMoto(ctx, MotoOptions{}); err != nil {
		waitBuild()
		return nil, err
	}
	c.closers = append(c.closers, func() { c.Moto.Close() })
	if err := c.Moto.CreateDKIMIdentity(ctx, "thephenom.app"); err != nil {
		waitBuild()
		return nil, err
	}
	if err := c.Moto.CreateBucket(ctx, ChainBucket); err != nil {
		waitBuild()
		return nil, err
	}
	// SES writes this object when a rule is set up; readers must skip it.
	if err := c.Moto.PutObject(ctx, ChainBucket, ChainPrefix+"AMAZON_SES_SETUP_NOTIFICATION", []byte("Amazon SES setup notification")); err != nil {
		waitBuild()
		return nil, err
	}

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		waitBuild()
		return nil, err
	}
	c.DKIMKeyPEM = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if c.DNS, err = StartDNS(map[string]string{
		ChainDKIMSelector + "._domainkey.thephenom.app": "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(pub),
	}); err != nil {
		waitBuild()
		return nil, err
	}
	c.closers = append(c.closers, func() { c.DNS.Close() })

	if c.Dovecot, err = StartDovecot(ctx, map[string]string{ChainUser: ChainIMAPPassword}); err != nil {
		waitBuild()
		return nil, err
	}
	c.closers = append(c.closers, func() { c.Dovecot.Close() })

	invokePort, err := freePort()
	if err != nil {
		waitBuild()
		return nil, err
	}
	apiPort, err := freePort()
	if err != nil {
		waitBuild()
		return nil, err
	}
	invokeAddr, apiAddr := fmt.Sprintf("127.0.0.1:%d", invokePort), fmt.Sprintf("127.0.0.1:%d", apiPort)
	if c.Cognito, err = StartCognitoLocal(ctx, CognitoLocalOptions{
		KMSURL:      c.KMS.URL,
		KMSKeyARN:   KeyARN(StagingKeyID),
		KMSKeyAlias: "alias/phenom-staging-cognito",
		LambdaURL:   "http://" + invokeAddr,
	}); err != nil {
		waitBuild()
		return nil, err
	}
	c.closers = append(c.closers, func() { c.Cognito.Close() })
	if c.Pool, c.Client, err = c.Cognito.CreatePool(ctx, "phenom-local", ChainUser, "Initial-Passw0rd!"); err != nil {
		waitBuild()
		return nil, err
	}

	if err := waitBuild(); err != nil {
		return nil, err
	}
	if err := c.Moto.CreateDeliveryTable(ctx, ChainDeliveryTable); err != nil {
		return nil, err
	}
	c.rie = exec.Command(rie, "--runtime-interface-emulator-address", invokeAddr, "--runtime-api-address", apiAddr, c.bootstrap)
	c.rie.Env = append(os.Environ(),
		"AWS_REGION="+Region,
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_SESSION_TOKEN=",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL_KMS="+c.KMS.URL,
		"AWS_ENDPOINT_URL_SESV2="+c.Moto.URL,
		"MAILER_KMS_KEY_ARNS="+KeyARN(StagingKeyID),
		"MAILER_ALLOWED_POOLS="+c.Pool,
		// cognito-local's ciphertexts carry no encryption context.
		"MAILER_REQUIRE_POOL_CONTEXT=false",
		"MAILER_ENVIRONMENT=local-chain",
		"MAILER_DKIM_SELECTOR="+ChainDKIMSelector,
		"MAILER_DKIM_PRIVATE_KEY="+string(c.DKIMKeyPEM),
		"AWS_ENDPOINT_URL_DYNAMODB="+c.Moto.URL,
		"MAILER_DELIVERY_TABLE="+ChainDeliveryTable,
	)
	c.rie.Stdout, c.rie.Stderr = c.rieLogs, c.rieLogs
	c.rie.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := c.rie.Start(); err != nil {
		return nil, err
	}
	rieCmd := c.rie
	c.closers = append(c.closers, func() {
		_ = syscall.Kill(-rieCmd.Process.Pid, syscall.SIGKILL)
		_ = rieCmd.Wait()
	})
	for !ready(invokeAddr) {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("standin: aws-lambda-rie did not listen: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}

	// The receipt rule: copies of what SES accepted go to S3 and dovecot.
	res := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, c.DNS.Addr)
	}}
	c.Rule = &ReceiptRule{Moto: c.Moto, Bucket: ChainBucket, Prefix: ChainPrefix, LMTPAddr: c.Dovecot.LMTPAddr, Interval: 20 * time.Millisecond,
		LookupTXT: func(name string) ([]string, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return res.LookupTXT(ctx, name+".")
		}}
	c.Rule.Start()
	rule := c.Rule
	c.closers = append(c.closers, func() { rule.Stop() })
	return c, nil
}

// Close stops everything, last started first.
func (c *Chain) Close() {
	for i := len(c.closers) - 1; i >= 0; i-- {
		c.closers[i]()
	}
	c.closers = nil
}

// Env is the environment that points a reader's AWS clients at the chain.
func (c *Chain) Env() map[string]string {
	return map[string]string{
		"AWS_REGION":                                 Region,
		"AWS_ACCESS_KEY_ID":                          "test",
		"AWS_SECRET_ACCESS_KEY":                      "test",
		"AWS_SESSION_TOKEN":                          "",
		"AWS_PROFILE":                                "",
		"AWS_EC2_METADATA_DISABLED":                  "true",
		"AWS_ENDPOINT_URL":                           "",
		"AWS_ENDPOINT_URL_S3":                        c.Moto.URL,
		"AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER": c.Cognito.URL,
		"AWS_ENDPOINT_URL_DYNAMODB":                  c.Moto.URL,
	}
}

// S3Source and IMAPSource are the chain's inbox as reader sources.
func (c *Chain) S3Source() string { return "s3://" + ChainBucket + "/" + ChainPrefix }

// IMAPSource is the dovecot mailbox of ChainUser (password ChainIMAPPassword).
func (c *Chain) IMAPSource() string {
	return "imap://" + ChainUser + "@" + c.Dovecot.IMAPAddr + "/INBOX"
}

// FindRIE finds aws-lambda-rie: on PATH, else in the repository's bin/
// (where make deps installs it); ErrRIEMissing when it is in neither.
func FindRIE() (string, error) {
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p, nil
	}
	if root, err := RepoRoot(); err == nil {
		p := filepath.Join(root, "bin", "aws-lambda-rie")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", ErrRIEMissing
}

// MissingTool reports whether err means a chain tool is not installed.
func MissingTool(err error) bool {
	return errors.Is(err, ErrMotoMissing) || errors.Is(err, ErrDovecotMissing) ||
		errors.Is(err, ErrCognitoLocalMissing) || errors.Is(err, ErrRIEMissing)
}
