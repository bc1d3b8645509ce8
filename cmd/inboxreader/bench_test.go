package main

import (
	"context"
	"io"
	"net"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/Phenom-earth/phenom-mailer/internal/inbox"
	"github.com/Phenom-earth/phenom-mailer/internal/reset"
)

// BenchmarkRoundTrip is one whole local round trip per op through the S3
// source (BenchmarkRoundTripIMAP: dovecot): ForgotPassword on cognito-local
// (which invokes the real bootstrap under aws-lambda-rie: decrypt through
// local-kms, render, DKIM-sign, SES v2 to moto), the receipt rule's copy
// into S3 and dovecot (polled every 20 ms), the reader's wait (polling
// every 10 ms here; the CLI's first retry is at 250 ms), DKIM through the
// DNS server on 127.0.0.1, ConfirmForgotPassword, USER_PASSWORD_AUTH
// sign-in and the ID token check. It reports each stage's mean in ms.
func BenchmarkRoundTrip(b *testing.B) { benchRoundTrip(b, false) }

// BenchmarkRoundTripIMAP is BenchmarkRoundTrip reading through dovecot's IMAP.
func BenchmarkRoundTripIMAP(b *testing.B) { benchRoundTrip(b, true) }

func benchRoundTrip(b *testing.B, imap bool) {
	c := needChain(b)
	c.env(b)
	var src inbox.Source
	if imap {
		m := &inbox.IMAP{Addr: c.dovecot.IMAPAddr, User: user, Password: imapPassword, Mailbox: "INBOX"}
		defer m.Close()
		src = m
	} else {
		s, _, closer, err := (&common{source: c.s3Source(), from: inbox.DefaultFrom}).wiring(context.Background(), func(string) string { return "" })
		if err != nil {
			b.Fatal(err)
		}
		defer closer()
		src = s
	}
	lookup, err := inbox.Resolver(c.dns.Addr)
	if err != nil {
		b.Fatal(err)
	}
	sums := map[string]float64{}
	b.ResetTimer()
	for b.Loop() {
		rep, err := reset.Run(context.Background(), reset.Config{
			Cognito: c.cognito.Client(), PoolID: c.pool, ClientID: c.client,
			Username: user, Email: user, Auth: reset.AuthPassword,
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
		b.ReportMetric(round1(sums[name]/n), unit)
	}
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }

// corpus returns the inbound copies in the S3 bucket (the real mailer's
// output plus the receipt rule's SES headers), making 16 when there are
// fewer.
func corpus(b *testing.B, c *chain) [][]byte {
	ctx := context.Background()
	s3c := c.moto.S3Client()
	list := func() []string {
		out, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
		if err != nil {
			b.Fatal(err)
		}
		var keys []string
		for _, o := range out.Contents {
			if k := aws.ToString(o.Key); k != prefix+inbox.SESSetupNotification {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		return keys
	}
	for i := len(list()); i < 16; i++ {
		if _, err := c.cognito.Client().ForgotPassword(ctx, &cip.ForgotPasswordInput{ClientId: aws.String(c.client), Username: aws.String(user)}); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(list()) < 16 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	var msgs [][]byte
	for _, k := range list() {
		out, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
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

// BenchmarkParseVerify checks one message of a corpus of the real mailer's
// inbound copies per op: header matching, DKIM verification (RSA-2048,
// the key from memory), enmime parsing and the code cross-check. Pure CPU.
func BenchmarkParseVerify(b *testing.B) { benchParseVerify(b, false) }

// BenchmarkParseVerifyDNS is the same with every DKIM key lookup sent to
// the DNS server on 127.0.0.1 (what --resolver does).
func BenchmarkParseVerifyDNS(b *testing.B) { benchParseVerify(b, true) }

func benchParseVerify(b *testing.B, viaDNS bool) {
	c := needChain(b)
	c.env(b)
	msgs := corpus(b, c)
	lookup, err := inbox.Resolver(c.dns.Addr)
	if err != nil {
		b.Fatal(err)
	}
	if !viaDNS {
		recs, err := lookup(context.Background(), "mailer._domainkey.thephenom.app.")
		if err != nil {
			b.Fatal(err)
		}
		lookup = func(_ context.Context, name string) ([]string, error) {
			if name == "mailer._domainkey.thephenom.app." {
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
	q := inbox.Query{To: user}
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
	b.ReportMetric(round1(float64(b.N)/time.Since(start).Seconds()), "msgs/s")
}
