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

// BenchmarkInvocation is one whole warm invocation of the real handler:
// decrypt through local-kms, render, build, DKIM-sign, and SendEmail to moto
// (SES v2), all on 127.0.0.1. Most of it is time spent waiting on the
// stand-ins (moto is a Python server).
func BenchmarkInvocation(b *testing.B) {
	benchInvocation(b, "")
}

// BenchmarkInvocationMaildir is the same with Maildir delivery: decrypt
// through local-kms plus the mailer's own work and a file write.
func BenchmarkInvocationMaildir(b *testing.B) {
	benchInvocation(b, "maildir:"+b.TempDir())
}

func benchInvocation(b *testing.B, delivery string) {
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
		"AWS_EC2_METADATA_DISABLED": "true",
		"AWS_ENDPOINT_URL_KMS":      kmsStandin.URL, "AWS_ENDPOINT_URL_SESV2": motoStandin.URL,
		"MAILER_DELIVERY": delivery, "MAILER_DKIM_SELECTOR": "mailer", "MAILER_DKIM_PRIVATE_KEY": dkimKeyPEM,
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
	h, err := newHandler(context.Background(), cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	ev, err := cognito.Decode(marshal(b, readEvent(b, "ForgotPassword")))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if res := h.Handle(context.Background(), ev); res.Outcome != cognito.OutcomeSent {
			b.Fatalf("%s/%s: %s", res.Outcome, res.Reason, res.Error)
		}
	}
}
