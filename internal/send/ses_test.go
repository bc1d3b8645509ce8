package send

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"

	"github.com/Phenom-earth/phenom-mailer/internal/failure"
)

// fakeSES is an in-process SESAPI for unit tests; the integration tests in
// internal/integration run the same code against a real SES stand-in.
type fakeSES struct {
	dkim        *types.DkimAttributes
	identityErr error
	sendErr     error
	identities  int
	sent        []*sesv2.SendEmailInput
}

func (f *fakeSES) GetEmailIdentity(_ context.Context, in *sesv2.GetEmailIdentityInput, _ ...func(*sesv2.Options)) (*sesv2.GetEmailIdentityOutput, error) {
	f.identities++
	if f.identityErr != nil {
		return nil, f.identityErr
	}
	return &sesv2.GetEmailIdentityOutput{DkimAttributes: f.dkim}, nil
}

func (f *fakeSES) SendEmail(_ context.Context, in *sesv2.SendEmailInput, _ ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	if f.sendErr != nil {
		return nil, f.sendErr
	}
	f.sent = append(f.sent, in)
	return &sesv2.SendEmailOutput{MessageId: strPtr("0100-test")}, nil
}

func goodDKIM() *types.DkimAttributes {
	return &types.DkimAttributes{Status: types.DkimStatusSuccess, SigningEnabled: true}
}

func env() Envelope {
	from, _ := ParseFrom(DefaultFrom)
	return Envelope{From: from, To: "qa@thephenom.app", Tags: map[string]string{"pool": "us-east-1_n8gO6SbP6", "trigger": "ForgotPassword", "environment": "staging prod", "empty": ""}}
}

func TestSESDeliver(t *testing.T) {
	f := &fakeSES{dkim: goodDKIM()}
	s := &SES{Client: f, ConfigurationSet: "phenom-mail", RequireDKIM: true}
	id, err := s.Deliver(context.Background(), []byte("raw"), env())
	if err != nil || id != "0100-test" {
		t.Fatalf("Deliver = %q, %v", id, err)
	}
	in := f.sent[0]
	if string(in.Content.Raw.Data) != "raw" || in.Content.Simple != nil {
		t.Error("not a Raw send of the built bytes")
	}
	if *in.FromEmailAddress != `"Phenom" <noreply@thephenom.app>` || in.Destination.ToAddresses[0] != "qa@thephenom.app" {
		t.Errorf("from/to = %q %v", *in.FromEmailAddress, in.Destination.ToAddresses)
	}
	if in.ConfigurationSetName == nil || *in.ConfigurationSetName != "phenom-mail" {
		t.Error("configuration set not passed")
	}
	tags := map[string]string{}
	for _, tg := range in.EmailTags {
		tags[*tg.Name] = *tg.Value
	}
	want := map[string]string{"environment": "staging_prod", "pool": "us-east-1_n8gO6SbP6", "trigger": "ForgotPassword"}
	if len(tags) != len(want) {
		t.Errorf("tags = %v, want %v", tags, want)
	}
	for k, v := range want {
		if tags[k] != v {
			t.Errorf("tag %s = %q, want %q", k, tags[k], v)
		}
	}
}

func TestSESIdentityCheck(t *testing.T) {
	tests := []struct {
		name string
		dkim *types.DkimAttributes
	}{
		{"pending", &types.DkimAttributes{Status: types.DkimStatusPending, SigningEnabled: true}},
		{"failed", &types.DkimAttributes{Status: types.DkimStatusFailed, SigningEnabled: true}},
		{"signing disabled", &types.DkimAttributes{Status: types.DkimStatusSuccess}},
		{"no dkim", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeSES{dkim: tt.dkim}
			s := &SES{Client: f, RequireDKIM: true}
			_, err := s.Deliver(context.Background(), []byte("raw"), env())
			reason, permanent := failure.Classify(err)
			if reason != "dkim_not_ready" || permanent {
				t.Fatalf("got %v; want retryable dkim_not_ready", err)
			}
			if len(f.sent) != 0 {
				t.Fatal("sent although DKIM is not ready")
			}
		})
	}
	t.Run("not an identity", func(t *testing.T) {
		f := &fakeSES{identityErr: &smithy.GenericAPIError{Code: "NotFoundException", Message: "identity not found"}}
		_, err := (&SES{Client: f, RequireDKIM: true}).Deliver(context.Background(), []byte("raw"), env())
		if reason, _ := failure.Classify(err); reason != "dkim_not_ready" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("off", func(t *testing.T) {
		f := &fakeSES{}
		if _, err := (&SES{Client: f}).Deliver(context.Background(), []byte("raw"), env()); err != nil || f.identities != 0 {
			t.Fatalf("RequireDKIM=false still checked: %v, %d lookups", err, f.identities)
		}
	})
}

func TestSESIdentityCache(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	f := &fakeSES{dkim: goodDKIM()}
	s := &SES{Client: f, RequireDKIM: true, Now: func() time.Time { return now }}
	for i := 0; i < 3; i++ {
		if _, err := s.Deliver(context.Background(), []byte("raw"), env()); err != nil {
			t.Fatal(err)
		}
	}
	if f.identities != 1 {
		t.Fatalf("%d identity lookups for 3 sends within the cache time, want 1", f.identities)
	}
	now = now.Add(DefaultIdentityCache + time.Second)
	f.dkim = &types.DkimAttributes{Status: types.DkimStatusTemporaryFailure, SigningEnabled: true}
	if _, err := s.Deliver(context.Background(), []byte("raw"), env()); err == nil {
		t.Fatal("an expired good answer was reused after DKIM broke")
	}
	if f.identities != 2 {
		t.Fatalf("identity lookups = %d, want 2", f.identities)
	}
	// A transient lookup failure is not cached.
	f.identityErr = errors.New("connection reset")
	now = now.Add(time.Hour)
	if _, err := s.Deliver(context.Background(), []byte("raw"), env()); err == nil {
		t.Fatal("send went out without a DKIM answer")
	}
	f.identityErr, f.dkim = nil, goodDKIM()
	if _, err := s.Deliver(context.Background(), []byte("raw"), env()); err != nil {
		t.Fatalf("a transient failure was cached: %v", err)
	}
}

func TestSESErrorClasses(t *testing.T) {
	tests := []struct {
		code      string
		reason    string
		permanent bool
	}{
		{"MessageRejected", "ses_rejected", true},
		{"BadRequestException", "ses_rejected", true},
		{"TooManyRequestsException", "ses_throttled", false},
		{"LimitExceededException", "ses_throttled", false},
		{"SendingPausedException", "ses_not_ready", false},
		{"AccountSuspendedException", "ses_not_ready", false},
		{"MailFromDomainNotVerifiedException", "ses_not_ready", false},
		{"InternalFailure", "ses_unavailable", false},
	}
	for _, tt := range tests {
		f := &fakeSES{sendErr: &smithy.GenericAPIError{Code: tt.code, Message: "m"}}
		_, err := (&SES{Client: f}).Deliver(context.Background(), []byte("raw"), env())
		reason, permanent := failure.Classify(err)
		if reason != tt.reason || permanent != tt.permanent {
			t.Errorf("%s: got %s permanent=%v, want %s permanent=%v", tt.code, reason, permanent, tt.reason, tt.permanent)
		}
	}
}

// slowSES answers GetEmailIdentity only when release is closed, so that a
// check can be held in flight.
type slowSES struct {
	fakeSES
	started chan struct{}
	release chan struct{}
	calls   atomic.Int32
}

func (f *slowSES) GetEmailIdentity(ctx context.Context, in *sesv2.GetEmailIdentityInput, o ...func(*sesv2.Options)) (*sesv2.GetEmailIdentityOutput, error) {
	if f.calls.Add(1) == 1 {
		close(f.started)
	}
	<-f.release
	return &sesv2.GetEmailIdentityOutput{DkimAttributes: f.dkim}, nil
}

// A check started ahead of the first mail (cognito.Handler.Warm) is shared:
// a Deliver that arrives while it is in flight waits for its answer instead
// of asking again, still refuses to send when the answer is not SUCCESS,
// and a caller whose context ends while waiting gets a deadline failure.
func TestSESIdentityCheckInFlightIsShared(t *testing.T) {
	for _, tt := range []struct {
		name   string
		dkim   *types.DkimAttributes
		reason string
	}{
		{"success", goodDKIM(), ""},
		{"pending", &types.DkimAttributes{Status: types.DkimStatusPending, SigningEnabled: true}, "dkim_not_ready"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &slowSES{fakeSES: fakeSES{dkim: tt.dkim}, started: make(chan struct{}), release: make(chan struct{})}
			s := &SES{Client: f, RequireDKIM: true}
			from, _ := ParseFrom(DefaultFrom)
			warm := make(chan error, 1)
			go func() { warm <- s.Ready(context.Background(), from) }()
			<-f.started

			short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			_, err := s.Deliver(short, []byte("raw"), env())
			if reason, _ := failure.Classify(err); reason != "deadline" {
				t.Fatalf("Deliver while the check is held, its context ending: %v, want deadline", err)
			}

			done := make(chan error, 1)
			go func() {
				_, err := s.Deliver(context.Background(), []byte("raw"), env())
				done <- err
			}()
			select {
			case err := <-done:
				t.Fatalf("Deliver returned (%v) before the check in flight answered", err)
			case <-time.After(20 * time.Millisecond):
			}
			close(f.release)
			if err := <-warm; err != nil && tt.reason == "" {
				t.Fatalf("warm check: %v", err)
			}
			err = <-done
			if reason, _ := failure.Classify(err); (err == nil) != (tt.reason == "") || (err != nil && string(reason) != tt.reason) {
				t.Fatalf("Deliver: %v, want reason %q", err, tt.reason)
			}
			if got := f.calls.Load(); got != 1 {
				t.Errorf("GetEmailIdentity called %d times, want 1 (the check in flight shared)", got)
			}
			if want := map[bool]int{true: 1, false: 0}[tt.reason == ""]; len(f.sent) != want {
				t.Errorf("%d mails sent, want %d", len(f.sent), want)
			}
		})
	}
}
