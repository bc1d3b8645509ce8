package main

import (
	"context"
	"testing"

	"github.com/Phenom-earth/phenom-mailer/internal/cognito"
	"github.com/Phenom-earth/phenom-mailer/internal/render"
	"github.com/Phenom-earth/phenom-mailer/internal/send"
	"github.com/Phenom-earth/phenom-mailer/templates"
)

// BenchmarkRenderAndMIME is the mailer's own work per mail after decrypt:
// render the ForgotPassword templates and build (unsigned) MIME.
func BenchmarkRenderAndMIME(b *testing.B) {
	r, err := render.New(templates.FS, render.Options{})
	if err != nil {
		b.Fatal(err)
	}
	from, _ := send.ParseFrom(send.DefaultFrom)
	s := &send.Sender{From: from}
	d := render.Data{Trigger: render.ForgotPassword, Locale: "en", Email: "qa+reset@thephenom.app", Username: "u", Code: "836251"}
	b.ReportAllocs()
	for b.Loop() {
		m, err := r.Render(d)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Build(send.Message{To: d.Email, Subject: m.Subject, HTML: m.HTML, Text: m.Text}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInvocation is one whole warm invocation of the real handler as
// production runs it: decrypt through local-kms, render, build, and
// SendEmail to moto (SES v2) after the cached DKIM check, all on 127.0.0.1,
// with no DKIM signing in the mailer (SES signs). Besides the time per
// invocation it reports the mean of each stage the outcome records, and the
// mailer's own work: the invocation less the time spent waiting on KMS, SES
// and the idempotency table.
func BenchmarkInvocation(b *testing.B) {
	benchInvocation(b, "", false)
}

// BenchmarkInvocationDKIM is the same invocation with the mailer signing
// each mail itself (RSA-2048), as it does when MAILER_DKIM_* is set for SMTP
// relays and local stacks; production leaves signing to SES.
func BenchmarkInvocationDKIM(b *testing.B) {
	benchInvocation(b, "", true)
}

// BenchmarkInvocationMaildir is the production invocation delivering into a
// Maildir instead of moto: decrypt through local-kms plus the mailer's own
// work and a file write.
func BenchmarkInvocationMaildir(b *testing.B) {
	benchInvocation(b, "maildir:"+b.TempDir(), false)
}

func benchInvocation(b *testing.B, delivery string, sign bool) {
	if stackErr != nil || kmsStandin == nil {
		b.Skipf("stand-ins not running: %v", stackErr)
	}
	if err := motoStandin.Reset(); err != nil {
		b.Fatal(err)
	}
	if err := motoStandin.CreateDKIMIdentity(context.Background(), "thephenom.app"); err != nil {
		b.Fatal(err)
	}
	env := map[string]string{
		"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
		// The stand-ins are plain http: a CA bundle from the caller's
		// environment would only add its parsing to the figures.
		"AWS_CA_BUNDLE":             "",
		"AWS_EC2_METADATA_DISABLED": "true",
		"AWS_ENDPOINT_URL_KMS":      kmsStandin.URL, "AWS_ENDPOINT_URL_SESV2": motoStandin.URL,
		"MAILER_DELIVERY":      delivery,
		"MAILER_KMS_KEY_ARNS":  "arn:aws:kms:us-east-1:111122223333:key/0d6f3c1e-6a39-4c5a-9d0e-2f1b7a3c5e01",
		"MAILER_ALLOWED_POOLS": "us-east-1_n8gO6SbP6",
	}
	if sign {
		env["MAILER_DKIM_SELECTOR"], env["MAILER_DKIM_PRIVATE_KEY"] = "mailer", dkimKeyPEM
	}
	for k, v := range env {
		b.Setenv(k, v)
	}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		b.Fatal(err)
	}
	h, err := newHandler(context.Background(), cfg, nil, false)
	if err != nil {
		b.Fatal(err)
	}
	ev, err := cognito.Decode(marshal(b, readEvent(b, "ForgotPassword")))
	if err != nil {
		b.Fatal(err)
	}
	// One invocation outside the loop: the process is warm (clients, the
	// DKIM check's cache) as a Lambda execution environment is after its
	// first event.
	if res := h.Handle(context.Background(), ev); res.Outcome != cognito.OutcomeSent {
		b.Fatalf("%s/%s: %s", res.Outcome, res.Reason, res.Error)
	}
	var sum cognito.Stages
	var total float64
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		res := h.Handle(context.Background(), ev)
		if res.Outcome != cognito.OutcomeSent {
			b.Fatalf("%s/%s: %s", res.Outcome, res.Reason, res.Error)
		}
		st := res.Stages
		sum.Claim += st.Claim
		sum.Decrypt += st.Decrypt
		sum.KMSWait += st.KMSWait
		sum.Render += st.Render
		sum.MIME += st.MIME
		sum.Send += st.Send
		total += res.DurationMS
		n++
	}
	if n == 0 {
		return
	}
	mean := func(v float64) float64 { return v / float64(n) }
	b.ReportMetric(mean(total), "total-ms/op")
	b.ReportMetric(mean(sum.Decrypt), "decrypt-ms/op")
	b.ReportMetric(mean(sum.KMSWait), "kms-wait-ms/op")
	b.ReportMetric(mean(sum.Render), "render-ms/op")
	b.ReportMetric(mean(sum.MIME), "mime-ms/op")
	b.ReportMetric(mean(sum.Send), "send-ms/op")
	b.ReportMetric(mean(sum.Claim), "claim-ms/op")
	b.ReportMetric(mean(total-sum.KMSWait-sum.Send-sum.Claim), "own-ms/op")
}

// BenchmarkNewHandler is the mailer's setup before its first event, as a
// cold start runs it once: AWS configuration from the environment, the KMS
// and SES clients, the Encryption SDK, the parsed templates.
func BenchmarkNewHandler(b *testing.B) {
	env := map[string]string{
		"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
		// The stand-ins are plain http: a CA bundle from the caller's
		// environment would only add its parsing to the figures.
		"AWS_CA_BUNDLE":             "",
		"AWS_EC2_METADATA_DISABLED": "true",
		"AWS_ENDPOINT_URL_KMS":      "http://127.0.0.1:9", "AWS_ENDPOINT_URL_SESV2": "http://127.0.0.1:9",
		"MAILER_KMS_KEY_ARNS":  "arn:aws:kms:us-east-1:111122223333:key/0d6f3c1e-6a39-4c5a-9d0e-2f1b7a3c5e01",
		"MAILER_ALLOWED_POOLS": "us-east-1_n8gO6SbP6",
	}
	for k, v := range env {
		b.Setenv(k, v)
	}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := newHandler(context.Background(), cfg, nil, false); err != nil {
			b.Fatal(err)
		}
	}
}
