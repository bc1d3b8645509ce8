package send

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
)

// Unit tests with a fake client; cmd/mailer tests the look-up against the
// SES stand-in's emulated suppression list.

type fakeSuppressionAPI struct {
	list       map[string]types.SuppressionListReason // exact-case entries
	reasons    []types.SuppressionListReason
	getErr     error
	accountErr error
	asked      []string
	accounts   int
}

func (f *fakeSuppressionAPI) GetSuppressedDestination(_ context.Context, in *sesv2.GetSuppressedDestinationInput, _ ...func(*sesv2.Options)) (*sesv2.GetSuppressedDestinationOutput, error) {
	f.asked = append(f.asked, *in.EmailAddress)
	if f.getErr != nil {
		return nil, f.getErr
	}
	r, ok := f.list[*in.EmailAddress]
	if !ok {
		return nil, &types.NotFoundException{Message: strPtr("not on the list")}
	}
	at := time.Date(2026, 10, 3, 8, 15, 0, 0, time.UTC)
	return &sesv2.GetSuppressedDestinationOutput{SuppressedDestination: &types.SuppressedDestination{
		EmailAddress: in.EmailAddress, Reason: r, LastUpdateTime: &at}}, nil
}

func (f *fakeSuppressionAPI) GetAccount(context.Context, *sesv2.GetAccountInput, ...func(*sesv2.Options)) (*sesv2.GetAccountOutput, error) {
	f.accounts++
	if f.accountErr != nil {
		return nil, f.accountErr
	}
	return &sesv2.GetAccountOutput{SuppressionAttributes: &types.SuppressionAttributes{SuppressedReasons: f.reasons}}, nil
}

var both = []types.SuppressionListReason{types.SuppressionListReasonBounce, types.SuppressionListReasonComplaint}

func TestSuppressed(t *testing.T) {
	ctx := context.Background()
	api := &fakeSuppressionAPI{list: map[string]types.SuppressionListReason{"bounced@example.com": "BOUNCE", "Mixed@Example.com": "COMPLAINT"}, reasons: both}
	l := &SuppressionList{Client: api}

	s, err := l.Suppressed(ctx, "bounced@example.com")
	if err != nil || s == nil || s.Reason != "BOUNCE" || !s.LastUpdate.Equal(time.Date(2026, 10, 3, 8, 15, 0, 0, time.UTC)) {
		t.Fatalf("listed: %+v, %v", s, err)
	}
	if s, err := l.Suppressed(ctx, "fine@example.com"); s != nil || err != nil {
		t.Errorf("not listed: %+v, %v", s, err)
	}
	// Listed as sent (case kept).
	if s, _ := l.Suppressed(ctx, "Mixed@Example.com"); s == nil || s.Reason != "COMPLAINT" {
		t.Errorf("exact case: %+v", s)
	}
	// Listed lower-cased, sent with capitals: SES's sending ignores case.
	api.asked = nil
	if s, _ := l.Suppressed(ctx, "Bounced@Example.COM"); s == nil {
		t.Error("an address listed lower-cased was not found for its capitalised form")
	}
	if len(api.asked) != 2 || api.asked[1] != "bounced@example.com" {
		t.Errorf("asked %v", api.asked)
	}
	if api.accounts != 1 {
		t.Errorf("GetAccount asked %d times, want once (cached)", api.accounts)
	}
}

func TestSuppressedOnlyForTheAccountsReasons(t *testing.T) {
	api := &fakeSuppressionAPI{list: map[string]types.SuppressionListReason{"c@example.com": "COMPLAINT", "b@example.com": "BOUNCE"},
		reasons: []types.SuppressionListReason{types.SuppressionListReasonBounce}}
	l := &SuppressionList{Client: api}
	if s, err := l.Suppressed(context.Background(), "c@example.com"); s != nil || err != nil {
		t.Errorf("a COMPLAINT entry on a BOUNCE-only account: %+v, %v (SES sends to it)", s, err)
	}
	if s, _ := l.Suppressed(context.Background(), "b@example.com"); s == nil {
		t.Error("a BOUNCE entry on a BOUNCE-only account is not suppressed")
	}
}

func TestSuppressedErrorsNeverQuoteTheAddress(t *testing.T) {
	ctx := context.Background()
	urlErr := &url.Error{Op: "Get", URL: "http://127.0.0.1:9/v2/email/suppression/addresses/qa%2Breset%40thephenom.app", Err: errors.New("connection refused")}
	for name, api := range map[string]*fakeSuppressionAPI{
		"unreachable": {getErr: urlErr},
		"denied":      {getErr: &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized to perform ses:GetSuppressedDestination"}},
		"account denied": {list: map[string]types.SuppressionListReason{"qa+reset@thephenom.app": "BOUNCE"},
			accountErr: &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized to perform ses:GetAccount"}},
	} {
		l := &SuppressionList{Client: api}
		s, err := l.Suppressed(ctx, "qa+reset@thephenom.app")
		if err == nil || s != nil {
			t.Errorf("%s: %+v, %v; want an error", name, s, err)
			continue
		}
		if strings.Contains(err.Error(), "qa") || strings.Contains(err.Error(), "%40") {
			t.Errorf("%s: the error quotes the address: %v", name, err)
		}
	}
}
