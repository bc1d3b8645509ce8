package standin

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
)

// TestSuppressionListThroughTheSDK drives the emulated suppression list with
// the real AWS SDK for Go v2 client, errors included: the SDK must decode
// every answer (LastUpdateTime as a time, the errors as their typed
// exceptions) exactly as it decodes SES's.
func TestSuppressionListThroughTheSDK(t *testing.T) {
	m := startMoto(t, MotoOptions{})
	ctx := t.Context()
	ses := m.SESClient()

	before := time.Now().Add(-time.Second)
	_, err := ses.GetSuppressedDestination(ctx, &sesv2.GetSuppressedDestinationInput{EmailAddress: aws.String("bounced@example.com")})
	var nf *sestypes.NotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("Get of an address not on the list = %v, want NotFoundException", err)
	}
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusNotFound {
		t.Errorf("NotFoundException status: %v", err)
	}

	put := func(addr string, reason sestypes.SuppressionListReason) error {
		_, err := ses.PutSuppressedDestination(ctx, &sesv2.PutSuppressedDestinationInput{EmailAddress: aws.String(addr), Reason: reason})
		return err
	}
	if err := put("Bounced@Example.com", sestypes.SuppressionListReasonBounce); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if err := put("complained@example.com", sestypes.SuppressionListReasonComplaint); err != nil {
		t.Fatalf("Put: %v", err)
	}
	after := time.Now().Add(time.Second)

	// The API matches addresses exactly, case included; a + and an @
	// travel path-escaped.
	if _, err := ses.GetSuppressedDestination(ctx, &sesv2.GetSuppressedDestinationInput{EmailAddress: aws.String("bounced@example.com")}); !errors.As(err, &nf) {
		t.Errorf("Get in another case = %v, want NotFoundException", err)
	}
	got, err := ses.GetSuppressedDestination(ctx, &sesv2.GetSuppressedDestinationInput{EmailAddress: aws.String("Bounced@Example.com")})
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	d := got.SuppressedDestination
	if d == nil || aws.ToString(d.EmailAddress) != "Bounced@Example.com" || d.Reason != sestypes.SuppressionListReasonBounce {
		t.Fatalf("Get = %+v", d)
	}
	if d.LastUpdateTime == nil || d.LastUpdateTime.Before(before) || d.LastUpdateTime.After(after) {
		t.Errorf("LastUpdateTime = %v, want between %v and %v", d.LastUpdateTime, before, after)
	}
	if err := put("qa+reset@thephenom.app", sestypes.SuppressionListReasonBounce); err != nil {
		t.Fatal(err)
	}
	if _, err := ses.GetSuppressedDestination(ctx, &sesv2.GetSuppressedDestinationInput{EmailAddress: aws.String("qa+reset@thephenom.app")}); err != nil {
		t.Errorf("Get of an address with a +: %v", err)
	}

	// Bad input: SES's BadRequestException.
	var br *sestypes.BadRequestException
	if err := put("someone@example.com", "SPAM"); !errors.As(err, &br) {
		t.Errorf("Put with reason SPAM = %v, want BadRequestException", err)
	}
	if err := put("not an address", sestypes.SuppressionListReasonBounce); !errors.As(err, &br) {
		t.Errorf("Put of a malformed address = %v, want BadRequestException", err)
	}

	// List, filtered by reason and by date, and paged.
	list := func(in *sesv2.ListSuppressedDestinationsInput) []string {
		t.Helper()
		var out []string
		p := sesv2.NewListSuppressedDestinationsPaginator(ses, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("List(%+v): %v", in, err)
			}
			for _, s := range page.SuppressedDestinationSummaries {
				if s.LastUpdateTime == nil || s.LastUpdateTime.IsZero() {
					t.Errorf("summary without LastUpdateTime")
				}
				out = append(out, fmt.Sprintf("%s:%s", aws.ToString(s.EmailAddress), s.Reason))
			}
		}
		return out
	}
	all := list(&sesv2.ListSuppressedDestinationsInput{PageSize: aws.Int32(1)})
	want := []string{"Bounced@Example.com:BOUNCE", "complained@example.com:COMPLAINT", "qa+reset@thephenom.app:BOUNCE"}
	if !slices.Equal(all, want) {
		t.Errorf("List paged by 1 = %v, want %v", all, want)
	}
	if got := list(&sesv2.ListSuppressedDestinationsInput{Reasons: []sestypes.SuppressionListReason{sestypes.SuppressionListReasonComplaint}}); !slices.Equal(got, want[1:2]) {
		t.Errorf("List COMPLAINT = %v", got)
	}
	if got := list(&sesv2.ListSuppressedDestinationsInput{StartDate: aws.Time(after.Add(time.Hour))}); len(got) != 0 {
		t.Errorf("List after the future = %v, want none", got)
	}
	if got := list(&sesv2.ListSuppressedDestinationsInput{StartDate: aws.Time(before), EndDate: aws.Time(after.Add(time.Minute))}); len(got) != 3 {
		t.Errorf("List in the window = %v, want all three", got)
	}
	if got := list(&sesv2.ListSuppressedDestinationsInput{EndDate: aws.Time(before.Add(-time.Hour))}); len(got) != 0 {
		t.Errorf("List before the past = %v, want none", got)
	}
	var bad *sestypes.InvalidNextTokenException
	if _, err := ses.ListSuppressedDestinations(ctx, &sesv2.ListSuppressedDestinationsInput{NextToken: aws.String("forged")}); !errors.As(err, &bad) {
		t.Errorf("List with a forged token = %v, want InvalidNextTokenException", err)
	}
	if _, err := ses.ListSuppressedDestinations(ctx, &sesv2.ListSuppressedDestinationsInput{PageSize: aws.Int32(5000)}); !errors.As(err, &br) {
		t.Errorf("List with PageSize 5000 = %v, want BadRequestException", err)
	}

	// Delete removes it; deleting again is NotFound.
	if _, err := ses.DeleteSuppressedDestination(ctx, &sesv2.DeleteSuppressedDestinationInput{EmailAddress: aws.String("bounced@example.com")}); !errors.As(err, &nf) {
		t.Errorf("Delete in another case = %v, want NotFoundException", err)
	}
	if _, err := ses.DeleteSuppressedDestination(ctx, &sesv2.DeleteSuppressedDestinationInput{EmailAddress: aws.String("Bounced@Example.com")}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := ses.GetSuppressedDestination(ctx, &sesv2.GetSuppressedDestinationInput{EmailAddress: aws.String("Bounced@Example.com")}); !errors.As(err, &nf) {
		t.Errorf("Get after Delete = %v, want NotFoundException", err)
	}
	if _, err := ses.DeleteSuppressedDestination(ctx, &sesv2.DeleteSuppressedDestinationInput{EmailAddress: aws.String("Bounced@Example.com")}); !errors.As(err, &nf) {
		t.Errorf("second Delete = %v, want NotFoundException", err)
	}

	// Reset empties the list.
	if err := m.Reset(); err != nil {
		t.Fatal(err)
	}
	if got := list(&sesv2.ListSuppressedDestinationsInput{}); len(got) != 0 {
		t.Errorf("after Reset: %v", got)
	}
}

func TestAccountSuppressionAttributes(t *testing.T) {
	m := startMoto(t, MotoOptions{})
	ctx := t.Context()
	ses := m.SESClient()
	reasons := func() []sestypes.SuppressionListReason {
		t.Helper()
		acct, err := ses.GetAccount(ctx, &sesv2.GetAccountInput{})
		if err != nil {
			t.Fatalf("GetAccount: %v", err)
		}
		if acct.SuppressionAttributes == nil {
			t.Fatal("GetAccount has no SuppressionAttributes")
		}
		return acct.SuppressionAttributes.SuppressedReasons
	}
	if got := reasons(); !slices.Equal(got, []sestypes.SuppressionListReason{"BOUNCE", "COMPLAINT"}) {
		t.Errorf("default SuppressedReasons = %v", got)
	}
	if _, err := ses.PutAccountSuppressionAttributes(ctx, &sesv2.PutAccountSuppressionAttributesInput{
		SuppressedReasons: []sestypes.SuppressionListReason{sestypes.SuppressionListReasonBounce},
	}); err != nil {
		t.Fatalf("PutAccountSuppressionAttributes: %v", err)
	}
	if got := reasons(); !slices.Equal(got, []sestypes.SuppressionListReason{"BOUNCE"}) {
		t.Errorf("SuppressedReasons after Put = %v", got)
	}
	_, err := ses.PutAccountSuppressionAttributes(ctx, &sesv2.PutAccountSuppressionAttributesInput{
		SuppressedReasons: []sestypes.SuppressionListReason{"BOUNCE", "SPAM"},
	})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "BadRequestException" {
		t.Errorf("Put with SPAM = %v, want BadRequestException", err)
	}
	if got := reasons(); !slices.Equal(got, []sestypes.SuppressionListReason{"BOUNCE"}) {
		t.Errorf("a refused Put changed the settings: %v", got)
	}
	if _, err := ses.PutAccountSuppressionAttributes(ctx, &sesv2.PutAccountSuppressionAttributesInput{}); err != nil {
		t.Fatal(err)
	}
	if got := reasons(); len(got) != 0 {
		t.Errorf("SuppressedReasons after an empty Put = %v", got)
	}
	if err := m.Reset(); err != nil {
		t.Fatal(err)
	}
	if got := reasons(); len(got) != 2 {
		t.Errorf("after Reset = %v, want both reasons again", got)
	}
}
