// Package reset holds the inbox reader's use cases, each a sequence of
// timed stages reported as they end. Run is a whole password reset as a
// user would do it: ForgotPassword, wait for the mail that arrived after
// the request, check and read it (package inbox), ConfirmForgotPassword
// with a fresh strong password, sign in with that password (USER_SRP_AUTH
// by default, or USER_PASSWORD_AUTH), and verify the ID token's email
// claim. Read is the middle alone: find one mail and check it.
//
// It must not know the command line, the environment or how its report is
// printed; the Cognito client and the inbox source are given to it. The new
// password lives only in the Report (never in JSON, never in an error);
// codes and passwords never reach an error message.
package reset

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/smithy-go"

	"github.com/Phenom-earth/phenom-mailer/internal/inbox"
	"github.com/Phenom-earth/phenom-mailer/internal/srp"
	"github.com/Phenom-earth/phenom-mailer/internal/timing"
)

// Cognito is the part of the Cognito user pools client a round trip calls.
type Cognito interface {
	ForgotPassword(ctx context.Context, in *cip.ForgotPasswordInput, opts ...func(*cip.Options)) (*cip.ForgotPasswordOutput, error)
	ConfirmForgotPassword(ctx context.Context, in *cip.ConfirmForgotPasswordInput, opts ...func(*cip.Options)) (*cip.ConfirmForgotPasswordOutput, error)
	InitiateAuth(ctx context.Context, in *cip.InitiateAuthInput, opts ...func(*cip.Options)) (*cip.InitiateAuthOutput, error)
	RespondToAuthChallenge(ctx context.Context, in *cip.RespondToAuthChallengeInput, opts ...func(*cip.Options)) (*cip.RespondToAuthChallengeOutput, error)
}

// Auth flows.
const (
	AuthSRP      = "srp"
	AuthPassword = "password"
)

// Stage names, in order.
const (
	StageForgot  = "forgot_password"
	StageMail    = "wait_for_mail"
	StageConfirm = "confirm_forgot_password"
	StageSignIn  = "sign_in"
	StageToken   = "check_id_token"
)

// Config is one round trip.
type Config struct {
	Cognito      Cognito
	PoolID       string // required for SRP
	ClientID     string
	ClientSecret string // "" when the app client has none
	Username     string
	// Email is the address the mail goes to and the ID token must carry.
	Email string
	Auth  string // AuthSRP (default) or AuthPassword

	Source inbox.Source
	// From is the expected sender (inbox.DefaultFrom when empty).
	From      string
	LookupTXT func(ctx context.Context, name string) ([]string, error)
	Skew      time.Duration
	Backoff   inbox.Backoff
	// Timeout bounds the wait for the mail (the whole run is bounded by ctx).
	Timeout time.Duration

	// Progress, when set, is told of each stage as it ends.
	Progress func(Stage)
	// Now and Rand are seams for tests (time.Now and crypto/rand when nil).
	Now  func() time.Time
	Rand io.Reader
}

// Report is what a round trip did.
type Report struct {
	Stages []Stage `json:"stages"`
	// Destination is the masked address Cognito said it sent the code to.
	Destination string         `json:"destination,omitempty"`
	Requested   time.Time      `json:"requested_at"`
	Mail        *inbox.Verdict `json:"mail,omitempty"`
	EmailClaim  string         `json:"email_claim,omitempty"`
	// LinkClient is how the reset link's cid compares with the client the
	// round trip requested the reset through: "match", "absent" (the link
	// names no client; the reset page falls back to its default) or
	// "mismatch" (the run fails). "" when no trusted mail arrived.
	LinkClient string  `json:"link_client,omitempty"`
	Auth       string  `json:"auth"`
	TotalMS    float64 `json:"total_ms"`
	// NewPassword is the password set; never marshalled.
	NewPassword string `json:"-"`
}

// CognitoError is a Cognito API error, named as the reset page names them
// (CodeMismatch, ExpiredCode, InvalidPassword, LimitExceeded,
// TooManyFailedAttempts, UserNotFound, ...).
type CognitoError struct {
	Op   string // the API operation
	Name string // the exception name without "Exception"
	// Message is Cognito's message (it never holds a code or a password).
	Message string
	Err     error
}

func (e *CognitoError) Error() string {
	msg := fmt.Sprintf("cognito %s: %s", e.Op, e.Name)
	if hint := hints[e.Name]; hint != "" {
		msg += ": " + hint
	} else if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

func (e *CognitoError) Unwrap() error { return e.Err }

var hints = map[string]string{
	"LimitExceeded":         "Cognito limits reset requests per user (about 5, then a wait of up to an hour); not retrying. Wait before the next run, or use another test user",
	"TooManyFailedAttempts": "too many wrong codes for this user; not retrying. Wait before the next run",
	"TooManyRequests":       "Cognito throttled the call; try again later",
	"CodeMismatch":          "Cognito rejected the code from the mail",
	"ExpiredCode":           "the code from the mail has expired (or a newer request replaced it)",
	"InvalidPassword":       "the generated password does not meet the pool's password policy",
	"UserNotFound":          "no such user in the pool",
}

func cognitoError(op string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		name := strings.TrimSuffix(ae.ErrorCode(), "Exception")
		return &CognitoError{Op: op, Name: name, Message: clip(ae.ErrorMessage()), Err: err}
	}
	return fmt.Errorf("cognito %s: %w", op, err)
}

// clip bounds s to 300 bytes and "…", never cutting a UTF-8 character in
// half.
func clip(s string) string {
	if len(s) > 300 {
		return strings.ToValidUTF8(s[:300], "") + "…"
	}
	return s
}

// ClientMismatchError: the mail's reset link names another app client
// (cid) than the one the reset was requested through, so the reset page
// would confirm the code against the wrong client, and so maybe the wrong
// pool.
type ClientMismatchError struct {
	Link, Want string
}

func (e *ClientMismatchError) Error() string {
	return fmt.Sprintf("the reset link names app client %q (cid), but the reset was requested through %q: the reset page would confirm against the wrong client", clip(e.Link), e.Want)
}

// Run performs the round trip. On failure the Report holds the stages done
// so far and the error says which failed: *CognitoError, an error wrapping
// inbox.ErrNoMatch (no mail in time) or inbox.ErrUntrusted, or
// *ClientMismatchError (the reset link names another client).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	if cfg.Auth == "" {
		cfg.Auth = AuthSRP
	}
	if cfg.Auth != AuthSRP && cfg.Auth != AuthPassword {
		return nil, fmt.Errorf("unknown auth %q (srp or password)", cfg.Auth)
	}
	if cfg.Auth == AuthSRP && cfg.PoolID == "" {
		return nil, errors.New("srp sign-in needs the user pool id")
	}
	if cfg.Email == "" {
		return nil, errors.New("the recipient address is unknown: give it, or use an address as the username")
	}
	rep := &Report{Auth: cfg.Auth, Stages: []Stage{}}
	start := now()
	defer func() { rep.TotalMS = timing.MS(now().Sub(start)) }()
	stage := stages{list: &rep.Stages, now: now, progress: cfg.Progress}.add

	// 1. ForgotPassword. Only mail received after this instant counts, and
	// none that the source already held before it.
	q := inbox.Query{To: cfg.Email, From: cfg.From, Since: now(), Skew: cfg.Skew}
	before, err := inbox.Snapshot(ctx, cfg.Source, q)
	if err != nil {
		stage(StageForgot, now(), err, "")
		return rep, err
	}
	q.Before = before
	rep.Requested = now()
	q.Since = rep.Requested
	t0 := rep.Requested
	fp, err := cfg.Cognito.ForgotPassword(ctx, &cip.ForgotPasswordInput{
		ClientId:   aws.String(cfg.ClientID),
		Username:   aws.String(cfg.Username),
		SecretHash: cfg.secretHash(cfg.Username),
	})
	if err != nil {
		err = cognitoError("ForgotPassword", err)
		stage(StageForgot, t0, err, "")
		return rep, err
	}
	if d := fp.CodeDeliveryDetails; d != nil {
		rep.Destination = aws.ToString(d.Destination)
		if d.DeliveryMedium != ciptypes.DeliveryMediumTypeEmail && d.DeliveryMedium != "" {
			err := fmt.Errorf("cognito sent the code by %s, not email", d.DeliveryMedium)
			stage(StageForgot, t0, err, "")
			return rep, err
		}
	}
	stage(StageForgot, t0, nil, "code sent to "+rep.Destination)

	// 2. The mail.
	t0 = now()
	wctx := ctx
	if cfg.Timeout > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
	}
	m, err := inbox.Wait(wctx, cfg.Source, q, cfg.Backoff)
	if err != nil {
		stage(StageMail, t0, err, "")
		return rep, err
	}
	v, err := inbox.Check(ctx, m, inbox.Policy{From: cfg.From, LookupTXT: cfg.LookupTXT})
	rep.Mail = v
	if err != nil {
		stage(StageMail, t0, err, "")
		return rep, err
	}
	detail := fmt.Sprintf("trusted mail %s, received %s", v.SourceID, m.Received.UTC().Format(time.RFC3339))
	switch {
	case v.ResetCID == inbox.CodeFound && v.ResetClientID == cfg.ClientID:
		rep.LinkClient = inbox.CodeMatch
		detail += "; the reset link names this client"
	case v.ResetCID == inbox.CodeFound:
		rep.LinkClient = inbox.CodeMismatch
		err := &ClientMismatchError{Link: v.ResetClientID, Want: cfg.ClientID}
		stage(StageMail, t0, err, "")
		return rep, err
	default:
		// Not a failure: the mailer leaves cid out when Cognito names no
		// client and the pool has no default, and the reset page then
		// confirms against its staging client (docs/operations.md).
		rep.LinkClient = inbox.CodeAbsent
		detail += "; the reset link names no client (cid absent: the reset page would use its default, staging)"
	}
	stage(StageMail, t0, nil, detail)

	// 3. ConfirmForgotPassword with a fresh password.
	t0 = now()
	pw, err := NewPassword(cfg.Rand)
	if err != nil {
		stage(StageConfirm, t0, err, "")
		return rep, err
	}
	_, err = cfg.Cognito.ConfirmForgotPassword(ctx, &cip.ConfirmForgotPasswordInput{
		ClientId:         aws.String(cfg.ClientID),
		Username:         aws.String(cfg.Username),
		ConfirmationCode: aws.String(v.Code),
		Password:         aws.String(pw),
		SecretHash:       cfg.secretHash(cfg.Username),
	})
	if err != nil {
		err = cognitoError("ConfirmForgotPassword", err)
		stage(StageConfirm, t0, err, "")
		return rep, err
	}
	rep.NewPassword = pw
	stage(StageConfirm, t0, nil, "new password set")

	// 4. Sign in with it.
	t0 = now()
	var idToken string
	if cfg.Auth == AuthSRP {
		idToken, err = cfg.signInSRP(ctx, pw, now)
	} else {
		idToken, err = cfg.signInPassword(ctx, pw)
	}
	if err != nil {
		stage(StageSignIn, t0, err, "")
		return rep, err
	}
	flow := "USER_SRP_AUTH"
	if cfg.Auth == AuthPassword {
		flow = "USER_PASSWORD_AUTH"
	}
	stage(StageSignIn, t0, nil, "signed in with "+flow)

	// 5. The ID token is for this client and carries the address.
	t0 = now()
	claim, err := checkIDToken(idToken, cfg.ClientID, cfg.Email, now())
	rep.EmailClaim = claim
	stage(StageToken, t0, err, "")
	if err != nil {
		return rep, err
	}
	return rep, nil
}

func (cfg Config) secretHash(username string) *string {
	if cfg.ClientSecret == "" {
		return nil
	}
	return aws.String(srp.SecretHash(username, cfg.ClientID, cfg.ClientSecret))
}

func (cfg Config) signInPassword(ctx context.Context, pw string) (string, error) {
	params := map[string]string{"USERNAME": cfg.Username, "PASSWORD": pw}
	if h := cfg.secretHash(cfg.Username); h != nil {
		params["SECRET_HASH"] = *h
	}
	out, err := cfg.Cognito.InitiateAuth(ctx, &cip.InitiateAuthInput{
		AuthFlow:       ciptypes.AuthFlowTypeUserPasswordAuth,
		ClientId:       aws.String(cfg.ClientID),
		AuthParameters: params,
	})
	if err != nil {
		return "", cognitoError("InitiateAuth", err)
	}
	return idTokenOf(out.AuthenticationResult, out.ChallengeName)
}

func (cfg Config) signInSRP(ctx context.Context, pw string, now func() time.Time) (string, error) {
	c, err := srp.NewClient(cfg.PoolID, cfg.Rand)
	if err != nil {
		return "", err
	}
	params := map[string]string{"USERNAME": cfg.Username, "SRP_A": c.A()}
	if h := cfg.secretHash(cfg.Username); h != nil {
		params["SECRET_HASH"] = *h
	}
	out, err := cfg.Cognito.InitiateAuth(ctx, &cip.InitiateAuthInput{
		AuthFlow:       ciptypes.AuthFlowTypeUserSrpAuth,
		ClientId:       aws.String(cfg.ClientID),
		AuthParameters: params,
	})
	if err != nil {
		return "", cognitoError("InitiateAuth", err)
	}
	if out.ChallengeName != ciptypes.ChallengeNameTypePasswordVerifier {
		return "", fmt.Errorf("cognito InitiateAuth: challenge %q, want PASSWORD_VERIFIER", out.ChallengeName)
	}
	p := out.ChallengeParameters
	claim, err := c.Respond(srp.Challenge{UserIDForSRP: p["USER_ID_FOR_SRP"], Salt: p["SALT"], B: p["SRP_B"], SecretBlock: p["SECRET_BLOCK"]}, pw, now())
	if err != nil {
		return "", err
	}
	// In the reply, USERNAME (and the SECRET_HASH over it) is the
	// USER_ID_FOR_SRP Cognito returned.
	user := p["USER_ID_FOR_SRP"]
	resp := map[string]string{
		"USERNAME":                    user,
		"PASSWORD_CLAIM_SECRET_BLOCK": claim.SecretBlock,
		"PASSWORD_CLAIM_SIGNATURE":    claim.Signature,
		"TIMESTAMP":                   claim.Timestamp,
	}
	if h := cfg.secretHash(user); h != nil {
		resp["SECRET_HASH"] = *h
	}
	rout, err := cfg.Cognito.RespondToAuthChallenge(ctx, &cip.RespondToAuthChallengeInput{
		ChallengeName:      ciptypes.ChallengeNameTypePasswordVerifier,
		ClientId:           aws.String(cfg.ClientID),
		ChallengeResponses: resp,
		Session:            out.Session,
	})
	if err != nil {
		return "", cognitoError("RespondToAuthChallenge", err)
	}
	return idTokenOf(rout.AuthenticationResult, rout.ChallengeName)
}

func idTokenOf(r *ciptypes.AuthenticationResultType, challenge ciptypes.ChallengeNameType) (string, error) {
	if r == nil || aws.ToString(r.IdToken) == "" {
		if challenge != "" {
			return "", fmt.Errorf("sign-in asks for another challenge (%s): the test user must have no MFA", challenge)
		}
		return "", errors.New("sign-in returned no ID token")
	}
	return aws.ToString(r.IdToken), nil
}

// checkIDToken reads the token's claims (it came straight from Cognito over
// the API's TLS, so its signature is not re-verified here) and checks
// token_use, the audience, expiry and the email.
func checkIDToken(tok, clientID, email string, now time.Time) (string, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", errors.New("the ID token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", errors.New("the ID token payload is not base64url")
	}
	var c struct {
		Email    string          `json:"email"`
		TokenUse string          `json:"token_use"`
		Aud      json.RawMessage `json:"aud"`
		Exp      float64         `json:"exp"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return "", errors.New("the ID token payload is not JSON")
	}
	var aud []string
	var one string
	if json.Unmarshal(c.Aud, &one) == nil {
		aud = []string{one}
	} else {
		_ = json.Unmarshal(c.Aud, &aud)
	}
	switch {
	case c.TokenUse != "id":
		return c.Email, fmt.Errorf("the token's token_use is %q, want id", c.TokenUse)
	case !contains(aud, clientID):
		return c.Email, errors.New("the ID token is for another client")
	case c.Exp != 0 && time.Unix(int64(c.Exp), 0).Before(now):
		return c.Email, errors.New("the ID token has expired")
	case !strings.EqualFold(c.Email, email):
		return c.Email, fmt.Errorf("the ID token's email claim is %q, want %q", c.Email, email)
	}
	return c.Email, nil
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// Password alphabet: letters, digits and symbols Cognito accepts in a
// password policy, without quotes, backslash and space so it can be pasted.
const (
	lower   = "abcdefghijkmnopqrstuvwxyz"
	upper   = "ABCDEFGHJKLMNPQRSTUVWXYZ"
	digits  = "23456789"
	symbols = "!#%*+-=?@^_~"
)

// NewPassword returns a random 24-character password with at least one
// lower-case letter, upper-case letter, digit and symbol (any Cognito
// password policy's classes), from r (crypto/rand when nil).
func NewPassword(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	const n = 24
	all := lower + upper + digits + symbols
	pick := func(set string) (byte, error) {
		i, err := rand.Int(r, big.NewInt(int64(len(set))))
		if err != nil {
			return 0, fmt.Errorf("password: %w", err)
		}
		return set[i.Int64()], nil
	}
	b := make([]byte, n)
	for i, set := range []string{lower, upper, digits, symbols} {
		c, err := pick(set)
		if err != nil {
			return "", err
		}
		b[i] = c
	}
	for i := 4; i < n; i++ {
		c, err := pick(all)
		if err != nil {
			return "", err
		}
		b[i] = c
	}
	// Shuffle so the classes are not in fixed places.
	for i := n - 1; i > 0; i-- {
		j, err := rand.Int(r, big.NewInt(int64(i+1)))
		if err != nil {
			return "", fmt.Errorf("password: %w", err)
		}
		b[i], b[j.Int64()] = b[j.Int64()], b[i]
	}
	return string(b), nil
}
