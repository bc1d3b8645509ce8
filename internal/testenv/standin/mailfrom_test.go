package standin

import (
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
)

// The emulated SES answers the doctor reads: Easy DKIM tokens and the
// custom MAIL FROM domain, through the AWS SDK as SES would answer them.
func TestMotoIdentityMailFromAndTokens(t *testing.T) {
	m := startMoto(t, MotoOptions{})
	ctx := t.Context()
	ses := m.SESClient()
	if err := m.CreateDKIMIdentity(ctx, "thephenom.app"); err != nil {
		t.Fatal(err)
	}
	get := func() *sesv2.GetEmailIdentityOutput {
		t.Helper()
		out, err := ses.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String("thephenom.app")})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	id := get()
	if toks := id.DkimAttributes.Tokens; len(toks) != 3 || !slices.Equal(toks, EasyDKIMTokens("thephenom.app")) || len(toks[0]) != 32 {
		t.Errorf("tokens %q", toks)
	}
	if id.MailFromAttributes != nil {
		t.Errorf("MailFromAttributes %+v before any was set", id.MailFromAttributes)
	}

	put := func(identity, domain string, b sestypes.BehaviorOnMxFailure) error {
		_, err := ses.PutEmailIdentityMailFromAttributes(ctx, &sesv2.PutEmailIdentityMailFromAttributesInput{
			EmailIdentity: aws.String(identity), MailFromDomain: aws.String(domain), BehaviorOnMxFailure: b})
		return err
	}
	if err := put("thephenom.app", "mail.thephenom.app", sestypes.BehaviorOnMxFailureRejectMessage); err != nil {
		t.Fatal(err)
	}
	mf := get().MailFromAttributes
	if mf == nil || aws.ToString(mf.MailFromDomain) != "mail.thephenom.app" || mf.MailFromDomainStatus != sestypes.MailFromDomainStatusPending ||
		mf.BehaviorOnMxFailure != sestypes.BehaviorOnMxFailureRejectMessage {
		t.Fatalf("MailFromAttributes %+v", mf)
	}
	if err := m.SetMailFromStatus("thephenom.app", "SUCCESS"); err != nil {
		t.Fatal(err)
	}
	if st := get().MailFromAttributes.MailFromDomainStatus; st != sestypes.MailFromDomainStatusSuccess {
		t.Errorf("status %s after SetMailFromStatus", st)
	}

	var nf *sestypes.NotFoundException
	if err := put("nowhere.example", "mail.nowhere.example", ""); !errors.As(err, &nf) {
		t.Errorf("unknown identity: %v, want NotFoundException", err)
	}
	var br *sestypes.BadRequestException
	if err := put("thephenom.app", "mail.example.com", ""); !errors.As(err, &br) {
		t.Errorf("a MAIL FROM domain outside the identity: %v, want BadRequestException", err)
	}
	var ae smithy.APIError
	if err := put("thephenom.app", "thephenom.app", ""); !errors.As(err, &ae) || ae.ErrorCode() != "BadRequestException" {
		t.Errorf("the identity itself as MAIL FROM: %v, want BadRequestException", err)
	}
	if err := put("thephenom.app", "", ""); err != nil {
		t.Fatal(err)
	}
	if mf := get().MailFromAttributes; mf != nil {
		t.Errorf("MailFromAttributes %+v after removing the domain", mf)
	}
	if err := put("thephenom.app", "bounce.thephenom.app", ""); err != nil {
		t.Fatal(err)
	}
	if err := m.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := m.CreateDKIMIdentity(ctx, "thephenom.app"); err != nil {
		t.Fatal(err)
	}
	if mf := get().MailFromAttributes; mf != nil {
		t.Errorf("Reset kept the MAIL FROM domain: %+v", mf)
	}
}
