package send

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"

	"github.com/Phenom-earth/phenom-mailer/internal/failure"
)

// SESAPI is the part of the SES v2 client the mailer uses.
type SESAPI interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
	GetEmailIdentity(ctx context.Context, in *sesv2.GetEmailIdentityInput, optFns ...func(*sesv2.Options)) (*sesv2.GetEmailIdentityOutput, error)
}

// DefaultIdentityCache is how long a good DKIM answer is trusted.
const DefaultIdentityCache = 5 * time.Minute

// failedIdentityCache is how long a bad answer is kept, so that a burst of
// invocations does not ask SES once each.
const failedIdentityCache = 15 * time.Second

// SES delivers raw MIME with SES v2 SendEmail. Before the first send (and
// again when the cached answer is older than CacheFor) it checks that the
// From domain's DKIM status is SUCCESS with signing enabled.
type SES struct {
	Client           SESAPI
	ConfigurationSet string
	// RequireDKIM refuses to send unless SES reports the From domain's DKIM
	// as SUCCESS and signing enabled. Only stand-ins that cannot report it
	// turn it off.
	RequireDKIM bool
	CacheFor    time.Duration
	Now         func() time.Time

	// lock (a one-slot semaphore, made on first use) lets one identity
	// check run at a time: a caller that arrives while one is in flight
	// (the check started during setup, say) waits for its answer, or for
	// its own context to end, instead of asking SES again.
	lockOnce  sync.Once
	lock      chan struct{}
	domain    string
	checkedAt time.Time
	checkErr  error
}

// Deliver implements Transport.
func (s *SES) Deliver(ctx context.Context, raw []byte, env Envelope) (string, error) {
	if s.RequireDKIM {
		if err := s.CheckIdentity(ctx, Domain(env.From.Address)); err != nil {
			return "", err
		}
	}
	in := &sesv2.SendEmailInput{
		FromEmailAddress: strPtr(env.From.String()),
		Destination:      &types.Destination{ToAddresses: []string{env.To}},
		Content:          &types.EmailContent{Raw: &types.RawMessage{Data: raw}},
		EmailTags:        sesTags(env.Tags),
	}
	if s.ConfigurationSet != "" {
		in.ConfigurationSetName = strPtr(s.ConfigurationSet)
	}
	out, err := s.Client.SendEmail(ctx, in)
	if err != nil {
		return "", classifySES("send", err)
	}
	if out.MessageId == nil || *out.MessageId == "" {
		return "", failure.Retryable(failure.ReasonSESUnavailable, errors.New("ses: SendEmail returned no message id"))
	}
	return *out.MessageId, nil
}

// Ready checks, ahead of Deliver, that SES may send from from: with
// RequireDKIM, the From domain's DKIM (CheckIdentity, cached). The handler
// calls it concurrently with the decrypt, so that a cold invocation does not
// wait for it after the decrypt; Deliver checks again, from the cache.
func (s *SES) Ready(ctx context.Context, from mail.Address) error {
	if !s.RequireDKIM {
		return nil
	}
	return s.CheckIdentity(ctx, Domain(from.Address))
}

// CheckIdentity asks SES whether domain can sign: the identity must exist,
// with DKIM status SUCCESS and signing enabled. Answers are cached, and
// concurrent callers share one request: while a check is in flight the
// others wait for it (or for their context to end) and read its answer.
func (s *SES) CheckIdentity(ctx context.Context, domain string) error {
	s.lockOnce.Do(func() { s.lock = make(chan struct{}, 1) })
	select {
	case s.lock <- struct{}{}:
	case <-ctx.Done():
		return classifySES("get identity", ctx.Err())
	}
	defer func() { <-s.lock }()
	now := s.now()
	if s.domain == domain && !s.checkedAt.IsZero() {
		ttl := s.CacheFor
		if ttl <= 0 {
			ttl = DefaultIdentityCache
		}
		if s.checkErr != nil {
			ttl = failedIdentityCache
		}
		if now.Sub(s.checkedAt) < ttl {
			return s.checkErr
		}
	}
	err := s.checkIdentity(ctx, domain)
	var fe *failure.Error
	if err != nil && errors.As(err, &fe) && fe.Reason != failure.ReasonDKIMNotReady {
		// A network or throttling failure says nothing about the domain:
		// do not cache it.
		return err
	}
	s.domain, s.checkedAt, s.checkErr = domain, now, err
	return err
}

func (s *SES) checkIdentity(ctx context.Context, domain string) error {
	out, err := s.Client.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: &domain})
	if err != nil {
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode() == "NotFoundException" {
			return failure.Retryable(failure.ReasonDKIMNotReady, fmt.Errorf("ses: the From domain %s is not an SES identity", domain))
		}
		return classifySES("get identity", err)
	}
	d := out.DkimAttributes
	switch {
	case d == nil:
		return failure.Retryable(failure.ReasonDKIMNotReady, fmt.Errorf("ses: %s has no DKIM attributes", domain))
	case d.Status != types.DkimStatusSuccess:
		return failure.Retryable(failure.ReasonDKIMNotReady, fmt.Errorf("ses: DKIM status of %s is %s, not SUCCESS (check the DKIM DNS records)", domain, d.Status))
	case !d.SigningEnabled:
		return failure.Retryable(failure.ReasonDKIMNotReady, fmt.Errorf("ses: DKIM signing is disabled for %s", domain))
	}
	return nil
}

func (s *SES) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// sesTags turns tags into SES email tags: names and values keep only ASCII
// letters, digits, '_' and '-', at most 256 characters; empty values are dropped.
func sesTags(tags map[string]string) []types.MessageTag {
	names := make([]string, 0, len(tags))
	for k := range tags {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]types.MessageTag, 0, len(tags))
	for _, k := range names {
		name, value := tagSafe(k), tagSafe(tags[k])
		if name == "" || value == "" {
			continue
		}
		out = append(out, types.MessageTag{Name: strPtr(name), Value: strPtr(value)})
	}
	return out
}

func tagSafe(s string) string {
	if len(s) > 256 {
		s = s[:256]
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			return r
		}
		return '_'
	}, s)
}

// SES error codes after which the mail can never go out as it is.
var permanentSES = map[string]bool{
	"MessageRejected":     true,
	"BadRequestException": true,
}

// SES error codes an operator or time can fix before Lambda's retries end.
var notReadySES = map[string]bool{
	"SendingPausedException":             true,
	"AccountSuspendedException":          true,
	"MailFromDomainNotVerifiedException": true,
	"NotFoundException":                  true,
}

func classifySES(op string, err error) error {
	var apiErr smithy.APIError
	var netErr net.Error
	switch {
	case errors.As(err, &apiErr):
		code := apiErr.ErrorCode()
		msg := fmt.Errorf("ses: %s: %s: %s", op, code, apiErr.ErrorMessage())
		switch {
		case permanentSES[code]:
			return failure.Permanent(failure.ReasonSESRejected, msg)
		case notReadySES[code]:
			return failure.Retryable(failure.ReasonSESNotReady, msg)
		case code == "TooManyRequestsException" || code == "LimitExceededException" || code == "ThrottlingException":
			return failure.Retryable(failure.ReasonSESThrottled, msg)
		}
		return failure.Retryable(failure.ReasonSESUnavailable, msg)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return failure.Retryable(failure.ReasonDeadline, fmt.Errorf("ses: %s: %w", op, err))
	case errors.As(err, &netErr):
		return failure.Retryable(failure.ReasonSESUnavailable, fmt.Errorf("ses: %s: %w", op, err))
	}
	return failure.Retryable(failure.ReasonSESUnavailable, fmt.Errorf("ses: %s: %w", op, err))
}

func strPtr(s string) *string { return &s }
