package standin

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
)

func TestMotoSESThroughProxy(t *testing.T) {
	m := startMoto(t, MotoOptions{})
	for _, u := range []string{m.URL, m.BackendURL} {
		if !strings.HasPrefix(u, "http://127.0.0.1:") {
			t.Fatalf("%q is not on 127.0.0.1", u)
		}
	}
	ctx := t.Context()
	ses := m.SESClient()

	if err := m.CreateDKIMIdentity(ctx, "thephenom.app"); err != nil {
		t.Fatal(err)
	}
	id, err := ses.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String("thephenom.app")})
	if err != nil {
		t.Fatalf("GetEmailIdentity through the proxy: %v", err)
	}
	if id.DkimAttributes == nil {
		t.Fatal("no DkimAttributes")
	}
	if id.DkimAttributes.Status != sestypes.DkimStatusSuccess || !id.DkimAttributes.SigningEnabled {
		t.Errorf("DKIM = %+v, want SUCCESS and signing", *id.DkimAttributes)
	}
	if !id.VerifiedForSendingStatus {
		t.Error("VerifiedForSendingStatus false")
	}
	if ts := id.DkimAttributes.LastKeyGenerationTimestamp; ts == nil || ts.IsZero() {
		t.Errorf("LastKeyGenerationTimestamp = %v", ts)
	}

	// Unfixed, moto's answer is what the Go SDK rejects (if this starts
	// passing, moto was fixed and the proxy correction can go).
	direct := sesv2.New(sesv2.Options{Region: Region, BaseEndpoint: aws.String(m.BackendURL), Credentials: ses.Options().Credentials})
	if _, err := direct.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String("thephenom.app")}); err == nil {
		t.Log("note: moto's own GetEmailIdentity now parses in the Go SDK")
	}

	// A missing identity is still NotFound.
	_, err = ses.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String("nowhere.example")})
	var nf *sestypes.NotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("GetEmailIdentity(unknown) = %v, want NotFoundException", err)
	}

	acct, err := ses.GetAccount(ctx, &sesv2.GetAccountInput{})
	if err != nil {
		t.Fatalf("GetAccount: %v", err)
	}
	if !acct.ProductionAccessEnabled || !acct.SendingEnabled || acct.SendQuota == nil || acct.SendQuota.MaxSendRate <= 1 {
		t.Errorf("GetAccount = %+v", acct)
	}

	raw := []byte("From: Phenom <noreply@thephenom.app>\r\n" +
		"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n" +
		"To: test-staging@thephenom.app\r\n" +
		"Subject: =?UTF-8?Q?Your_code_=E2=80=94_123456?=\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=UTF-8\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n" +
		"\r\n" +
		"Your code is 123456.=0D=0A\r\n" +
		"trailing space kept \r\n")
	out, err := ses.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String("noreply@thephenom.app"),
		Destination:      &sestypes.Destination{ToAddresses: []string{"test-staging@thephenom.app"}, BccAddresses: []string{"audit@thephenom.app"}},
		Content:          &sestypes.EmailContent{Raw: &sestypes.RawMessage{Data: raw}},
	})
	if err != nil {
		t.Fatal(err)
	}
	sent, err := m.SentEmails()
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != 1 {
		t.Fatalf("SentEmails = %d messages, want 1", len(sent))
	}
	s := sent[0]
	if !bytes.Equal(s.Raw, raw) {
		t.Errorf("raw message changed:\n got %q\nwant %q", s.Raw, raw)
	}
	if s.MessageID != aws.ToString(out.MessageId) || s.Source != "noreply@thephenom.app" ||
		strings.Join(s.Destinations, ",") != "test-staging@thephenom.app,audit@thephenom.app" {
		t.Errorf("SentEmail = %+v (MessageId %s)", s, aws.ToString(out.MessageId))
	}

	// An unverified From is refused, as SES does.
	_, err = ses.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String("noreply@unverified.example"),
		Destination:      &sestypes.Destination{ToAddresses: []string{"a@thephenom.app"}},
		Content:          &sestypes.EmailContent{Raw: &sestypes.RawMessage{Data: raw}},
	})
	var rej *sestypes.MessageRejected
	if !errors.As(err, &rej) {
		t.Errorf("unverified From: %v, want MessageRejected", err)
	}

	// Simple sends are listed too.
	if _, err := ses.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String("noreply@thephenom.app"),
		Destination:      &sestypes.Destination{ToAddresses: []string{"a@thephenom.app"}, CcAddresses: []string{"b@thephenom.app"}},
		Content: &sestypes.EmailContent{Simple: &sestypes.Message{
			Subject: &sestypes.Content{Data: aws.String("hello")},
			Body:    &sestypes.Body{Text: &sestypes.Content{Data: aws.String("text")}},
		}},
	}); err != nil {
		t.Fatal(err)
	}
	sent, err = m.SentEmails()
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != 2 || sent[1].Raw != nil || sent[1].Subject != "hello" || sent[1].Body != "text" ||
		strings.Join(sent[1].Destinations, ",") != "a@thephenom.app,b@thephenom.app" {
		t.Errorf("after a Simple send: %+v", sent)
	}

	if err := m.Reset(); err != nil {
		t.Fatal(err)
	}
	sent, err = m.SentEmails()
	if err != nil || len(sent) != 0 {
		t.Errorf("after Reset: %v, %v", sent, err)
	}
	if _, err := ses.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String("thephenom.app")}); !errors.As(err, &nf) {
		t.Errorf("identity after Reset: %v", err)
	}
}

func TestMotoFault(t *testing.T) {
	m := startMoto(t, MotoOptions{Fault: func(r *http.Request) (int, string, bool) {
		if r.Method == http.MethodPost && r.URL.Path == "/v2/email/outbound-emails" {
			return http.StatusTooManyRequests, `{"__type":"TooManyRequestsException","message":"Maximum sending rate exceeded."}`, true
		}
		return 0, "", false
	}})
	ctx := t.Context()
	if err := m.CreateDKIMIdentity(ctx, "thephenom.app"); err != nil {
		t.Fatal(err)
	}
	_, err := m.SESClient().SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String("noreply@thephenom.app"),
		Destination:      &sestypes.Destination{ToAddresses: []string{"a@thephenom.app"}},
		Content:          &sestypes.EmailContent{Raw: &sestypes.RawMessage{Data: []byte("From: noreply@thephenom.app\r\n\r\nx\r\n")}},
	}, func(o *sesv2.Options) { o.RetryMaxAttempts = 1 })
	var tm *sestypes.TooManyRequestsException
	if !errors.As(err, &tm) {
		var ae smithy.APIError
		errors.As(err, &ae)
		t.Fatalf("SendEmail with fault = %v (%T), want TooManyRequestsException", err, ae)
	}
	if sent, err := m.SentEmails(); err != nil || len(sent) != 0 {
		t.Errorf("faulted send reached moto: %v, %v", sent, err)
	}
}
