package send

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
)

// SuppressionAPI is the part of the SES v2 client the suppression check uses.
type SuppressionAPI interface {
	GetSuppressedDestination(ctx context.Context, in *sesv2.GetSuppressedDestinationInput, optFns ...func(*sesv2.Options)) (*sesv2.GetSuppressedDestinationOutput, error)
}

// Suppression is an address's entry on SES's account-level suppression list:
// SES accepts a send to it and then drops it (a Bounce of subtype
// OnAccountSuppressionList).
type Suppression struct {
	Reason     string    `json:"reason"`      // BOUNCE or COMPLAINT
	LastUpdate time.Time `json:"last_update"` // when SES listed the address
}

// SuppressionList asks SES v2 GetSuppressedDestination whether an address is
// on the account's suppression list.
type SuppressionList struct {
	Client SuppressionAPI
}

// Suppressed returns addr's entry, or nil when it is not on the list (SES
// answers NotFoundException). An error means the list could not be read;
// its text never holds the address.
func (l *SuppressionList) Suppressed(ctx context.Context, addr string) (*Suppression, error) {
	out, err := l.Client.GetSuppressedDestination(ctx, &sesv2.GetSuppressedDestinationInput{EmailAddress: &addr})
	var nf *types.NotFoundException
	switch {
	case errors.As(err, &nf):
		return nil, nil
	case err != nil:
		return nil, suppressionError(err)
	}
	d := out.SuppressedDestination
	if d == nil {
		return nil, errors.New("ses: get suppressed destination: the answer has no SuppressedDestination")
	}
	switch d.Reason {
	case types.SuppressionListReasonBounce, types.SuppressionListReasonComplaint:
	default:
		// An answer the mailer does not understand must not withhold a mail.
		return nil, fmt.Errorf("ses: get suppressed destination: unknown reason %q", truncateASCII(string(d.Reason), 32))
	}
	s := &Suppression{Reason: string(d.Reason)}
	if d.LastUpdateTime != nil {
		s.LastUpdate = d.LastUpdateTime.UTC()
	}
	return s, nil
}

// suppressionError describes a failed look-up without the request URL,
// which holds the address.
func suppressionError(err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return fmt.Errorf("ses: get suppressed destination: %s: %s", apiErr.ErrorCode(), apiErr.ErrorMessage())
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("ses: get suppressed destination: %s: %w", ue.Op, ue.Err)
	}
	return fmt.Errorf("ses: get suppressed destination: %w", err)
}

func truncateASCII(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
