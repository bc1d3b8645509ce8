package send

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
)

// SuppressionAPI is the part of the SES v2 client the suppression check uses.
type SuppressionAPI interface {
	GetSuppressedDestination(ctx context.Context, in *sesv2.GetSuppressedDestinationInput, optFns ...func(*sesv2.Options)) (*sesv2.GetSuppressedDestinationOutput, error)
	GetAccount(ctx context.Context, in *sesv2.GetAccountInput, optFns ...func(*sesv2.Options)) (*sesv2.GetAccountOutput, error)
}

// DefaultAccountCache is how long the account's suppression settings are
// trusted.
const DefaultAccountCache = 5 * time.Minute

// Suppression is an address's entry on SES's account-level suppression list:
// SES accepts a send to it and then drops it (a Bounce of subtype
// OnAccountSuppressionList).
type Suppression struct {
	Reason     string    `json:"reason"`      // BOUNCE or COMPLAINT
	LastUpdate time.Time `json:"last_update"` // when SES listed the address
}

// SuppressionList asks SES v2 whether SES would drop a mail to an address
// because of the account-level suppression list.
//
// Two facts from the SES developer guide
// (https://docs.aws.amazon.com/ses/latest/dg/sending-email-suppression-list.html
// and its tenant-level page) shape it: the API matches addresses with their
// case while sending ignores case, so an address with capitals that is not
// listed is asked again lower-cased; and SES drops a mail only when the
// entry's reason is one of the account's SuppressedReasons (GetAccount, asked
// only for a listed address, cached for CacheFor).
type SuppressionList struct {
	Client   SuppressionAPI
	CacheFor time.Duration
	Now      func() time.Time

	mu        sync.Mutex
	reasons   []types.SuppressionListReason
	checkedAt time.Time
}

// Suppressed returns addr's entry when SES would drop a mail to it, or nil
// (not listed: SES answers NotFoundException; or listed for a reason the
// account does not suppress). An error means the list or the account's
// settings could not be read; its text never holds the address.
func (l *SuppressionList) Suppressed(ctx context.Context, addr string) (*Suppression, error) {
	d, err := l.entry(ctx, addr)
	if err == nil && d == nil {
		if lower := strings.ToLower(addr); lower != addr {
			d, err = l.entry(ctx, lower)
		}
	}
	if err != nil || d == nil {
		return nil, err
	}
	switch d.Reason {
	case types.SuppressionListReasonBounce, types.SuppressionListReasonComplaint:
	default:
		// An answer the mailer does not understand must not withhold a mail.
		return nil, fmt.Errorf("ses: get suppressed destination: unknown reason %q", truncate(string(d.Reason), 32))
	}
	reasons, err := l.accountReasons(ctx)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(reasons, d.Reason) {
		return nil, nil // the account does not suppress this reason: SES sends
	}
	s := &Suppression{Reason: string(d.Reason)}
	if d.LastUpdateTime != nil {
		s.LastUpdate = d.LastUpdateTime.UTC()
	}
	return s, nil
}

func (l *SuppressionList) entry(ctx context.Context, addr string) (*types.SuppressedDestination, error) {
	out, err := l.Client.GetSuppressedDestination(ctx, &sesv2.GetSuppressedDestinationInput{EmailAddress: &addr})
	var nf *types.NotFoundException
	switch {
	case errors.As(err, &nf):
		return nil, nil
	case err != nil:
		return nil, suppressionError("get suppressed destination", err)
	}
	if out.SuppressedDestination == nil {
		return nil, errors.New("ses: get suppressed destination: the answer has no SuppressedDestination")
	}
	return out.SuppressedDestination, nil
}

// accountReasons returns the account's SuppressedReasons, cached.
func (l *SuppressionList) accountReasons(ctx context.Context) ([]types.SuppressionListReason, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	ttl := l.CacheFor
	if ttl <= 0 {
		ttl = DefaultAccountCache
	}
	if !l.checkedAt.IsZero() && now.Sub(l.checkedAt) < ttl {
		return l.reasons, nil
	}
	out, err := l.Client.GetAccount(ctx, &sesv2.GetAccountInput{})
	if err != nil {
		return nil, suppressionError("get account", err)
	}
	l.reasons = nil
	if out.SuppressionAttributes != nil {
		l.reasons = out.SuppressionAttributes.SuppressedReasons
	}
	l.checkedAt = now
	return l.reasons, nil
}

// suppressionError describes a failed call without the request URL, which
// holds the address.
func suppressionError(op string, err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return fmt.Errorf("ses: %s: %s: %s", op, apiErr.ErrorCode(), apiErr.ErrorMessage())
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("ses: %s: %s: %w", op, ue.Op, ue.Err)
	}
	return fmt.Errorf("ses: %s: %w", op, err)
}

// truncate bounds s to n bytes, never cutting a UTF-8 character in half.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
