package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
)

// Unit tests with in-process fakes; cmd/mailer's doctor tests run the same
// checks against the SES, KMS and DynamoDB stand-ins.

type fakeSES struct{ sandbox bool }

func (f fakeSES) GetAccount(context.Context, *sesv2.GetAccountInput, ...func(*sesv2.Options)) (*sesv2.GetAccountOutput, error) {
	return &sesv2.GetAccountOutput{SendingEnabled: true, ProductionAccessEnabled: !f.sandbox,
		SendQuota: &sestypes.SendQuota{Max24HourSend: 100, MaxSendRate: 1, SentLast24Hours: 90}}, nil
}

func (f fakeSES) GetEmailIdentity(context.Context, *sesv2.GetEmailIdentityInput, ...func(*sesv2.Options)) (*sesv2.GetEmailIdentityOutput, error) {
	return &sesv2.GetEmailIdentityOutput{VerifiedForSendingStatus: true,
		DkimAttributes: &sestypes.DkimAttributes{Status: sestypes.DkimStatusPending, SigningEnabled: true}}, nil
}

func (f fakeSES) GetConfigurationSet(context.Context, *sesv2.GetConfigurationSetInput, ...func(*sesv2.Options)) (*sesv2.GetConfigurationSetOutput, error) {
	return &sesv2.GetConfigurationSetOutput{}, nil
}

type deniedKMS struct{}

func (deniedKMS) DescribeKey(context.Context, *kms.DescribeKeyInput, ...func(*kms.Options)) (*kms.DescribeKeyOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "no"}
}

func (deniedKMS) Decrypt(context.Context, *kms.DecryptInput, ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "no"}
}

func TestRunReportsEveryProblem(t *testing.T) {
	r := Run(context.Background(), Config{
		FromDomain: "thephenom.app",
		KeyARNs:    []string{"arn:aws:kms:us-east-1:111122223333:key/abc"},
		SES:        fakeSES{sandbox: true},
		KMS:        deniedKMS{},
	})
	if r.OK {
		t.Fatal("report OK with failures")
	}
	want := map[string]string{
		"ses production access": Fail, // sandbox
		"ses quota":             Warn, // 90 of 100
		"from dkim":             Fail, // PENDING
		"kms key abc":           Fail, // decrypt denied
		"configuration set":     Warn, // not configured
		"idempotency table":     Warn, // not configured
	}
	got := map[string]string{}
	for _, c := range r.Checks {
		got[c.Name] = c.Status
		if c.Status == Fail && c.Fix == "" {
			t.Errorf("%s fails without a fix", c.Name)
		}
	}
	for name, st := range want {
		if got[name] != st {
			t.Errorf("%s = %q, want %q", name, got[name], st)
		}
	}
	var table, js bytes.Buffer
	if err := r.WriteTable(&table); err != nil || !strings.Contains(table.String(), "cannot send") || !strings.Contains(table.String(), "→ ") {
		t.Errorf("table:\n%s", table.String())
	}
	if err := r.WriteJSON(&js); err != nil || !json.Valid(js.Bytes()) {
		t.Errorf("json: %v", err)
	}
}
