package inbox_test

import (
	"context"
	"io"
	"net"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/Phenom-earth/phenom-mailer/internal/inbox"
	"github.com/Phenom-earth/phenom-mailer/internal/reset"
	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// The benchmarks run against the whole local chain (standin.Chain), started
// on first use and stopped after the run.
var (
	chainOnce sync.Once
	chain     *standin.Chain
	chainErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if chain != nil {
		chain.Close()
	}
	os.Exit(code)
}

func needChain(b *testing.B) *standin.Chain {
	b.Helper()
	chainOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		chain, chainErr = standin.StartChain(ctx)
	})
	if chainErr != nil {
		if standin.MissingTool(chainErr) {
			standin.SkipOrFail(b, chainErr)
		}
		b.Fatalf("chain: %v", chainErr)
	}
	return chain
}

// BenchmarkRoundTrip is one whole local password reset per op, read through the S3 source: ForgotPassword on cognito-local (which runs the real mailer bootstrap under aws-lambda-rie: decrypt through local-kms, render, DKIM-sign, SES v2 to moto), the receipt rule's copy into S3 (polled every 20 ms), the reader's wait (polling every 10 ms here; the CLI's first retry is at 250 ms), DKIM through the DNS server on 127.0.0.1, ConfirmForgotPassword, USER_PASSWORD_AUTH sign-in and the ID token check; each stage's mean in ms.
func BenchmarkRoundTrip(b *testing.B) { benchRoundTrip(b, false) }

// BenchmarkRoundTripIMAP is the same round trip read through dovecot over IMAP (the receipt rule delivers over LMTP).
func BenchmarkRoundTripIMAP(b *testing.B) { benchRoundTrip(b, true) }

func benchRoundTrip(b *testing.B, viaIMAP bool) {
	c := needChain(b)
	var src inbox.Source
	if viaIMAP {
		m := &inbox.IMAP{Addr: c.Dovecot.IMAPAddr, User: standin.ChainUser, Password: standin.ChainIMAPPassword, Mailbox: "INBOX"}
		defer m.Close()
		src = m
	} else {
		src = &inbox.S3{Client: c.Moto.S3Client(), Bucket: standin.ChainBucket, Prefix: standin.ChainPrefix}
	}
	lookup, err := inbox.Resolver(c.DNS.Addr)
	if err != nil {
		b.Fatal(err)
	}
	sums := map[string]float64{}
	for b.Loop() {
		rep, err := reset.Run(context.Background(), reset.Config{
			Cognito: c.Cognito.Client(), PoolID: c.Pool, ClientID: c.Client,
			Username: standin.ChainUser, Email: standin.ChainUser, Auth: reset.AuthPassword,
			Source: src, LookupTXT: lookup, Timeout: 30 * time.Second,
			Backoff: inbox.Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond, Factor: 1.5},
		})
		if err != nil {
			b.Fatalf("round trip: %v", err)
		}
		for _, s := range rep.Stages {
			sums[s.Name] += s.DurationMS
		}
	}
	n := float64(b.N)
	for name, unit := range map[string]string{
		reset.StageForgot: "forgot-ms", reset.StageMail: "mail-ms", reset.StageConfirm: "confirm-ms",
		reset.StageSignIn: "signin-ms", reset.StageToken: "token-ms",
	} {
		b.ReportMetric(round2(sums[name]/n), unit)
	}
}

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }

// corpus returns the inbound copies in the chain's bucket (the real mailer's
// output with the receipt rule's SES headers), making 16 when there are fewer.
func corpus(b *testing.B, c *standin.Chain) [][]byte {
	ctx := context.Background()
	s3c := c.Moto.S3Client()
	list := func() []string {
		out, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(standin.ChainBucket), Prefix: aws.String(standin.ChainPrefix)})
		if err != nil {
			b.Fatal(err)
		}
		var keys []string
		for _, o := range out.Contents {
			if k := aws.ToString(o.Key); k != standin.ChainPrefix+inbox.SESSetupNotification {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		return keys
	}
	for i := len(list()); i < 16; i++ {
		if _, err := c.Cognito.Client().ForgotPassword(ctx, &cip.ForgotPasswordInput{ClientId: aws.String(c.Client), Username: aws.String(standin.ChainUser)}); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(list()) < 16 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	var msgs [][]byte
	for _, k := range list() {
		out, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(standin.ChainBucket), Key: aws.String(k)})
		if err != nil {
			b.Fatal(err)
		}
		raw, _ := io.ReadAll(out.Body)
		out.Body.Close()
		msgs = append(msgs, raw)
	}
	if len(msgs) < 16 {
		b.Fatalf("only %d messages in the corpus", len(msgs))
	}
	return msgs
}

// BenchmarkParseVerify checks one message per op from a corpus of the real mailer's inbound copies: header matching, DKIM verification (RSA-2048, key from memory), enmime parsing and the code cross-check; pure CPU.
func BenchmarkParseVerify(b *testing.B) { benchParseVerify(b, false) }

// BenchmarkParseVerifyDNS is the same with every DKIM key lookup sent to the DNS server on 127.0.0.1 (what --resolver does).
func BenchmarkParseVerifyDNS(b *testing.B) { benchParseVerify(b, true) }

func benchParseVerify(b *testing.B, viaDNS bool) {
	c := needChain(b)
	msgs := corpus(b, c)
	lookup, err := inbox.Resolver(c.DNS.Addr)
	if err != nil {
		b.Fatal(err)
	}
	if !viaDNS {
		recs, err := lookup(context.Background(), standin.ChainDKIMSelector+"._domainkey.thephenom.app.")
		if err != nil {
			b.Fatal(err)
		}
		lookup = func(_ context.Context, name string) ([]string, error) {
			if name == standin.ChainDKIMSelector+"._domainkey.thephenom.app." {
				return recs, nil
			}
			return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
		}
	}
	total := 0
	for _, m := range msgs {
		total += len(m)
	}
	b.SetBytes(int64(total / len(msgs)))
	p := inbox.Policy{LookupTXT: lookup}
	q := inbox.Query{To: standin.ChainUser}
	b.ReportAllocs()
	i := 0
	start := time.Now()
	for b.Loop() {
		m := inbox.Message{ID: "m", Received: time.Now(), Raw: msgs[i%len(msgs)]}
		i++
		if ok, why := inbox.Match(m, q); !ok {
			b.Fatalf("corpus message does not match: %s", why)
		}
		if _, err := inbox.Check(context.Background(), m, p); err != nil {
			b.Fatalf("corpus message refused: %v", err)
		}
	}
	b.ReportMetric(float64(int64(float64(b.N)/time.Since(start).Seconds())), "msgs/s")
}
