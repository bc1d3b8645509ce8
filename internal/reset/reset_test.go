package reset

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/smithy-go"
	"github.com/emersion/go-msgauth/dkim"
	"golang.org/x/crypto/hkdf"

	"github.com/Phenom-earth/phenom-mailer/internal/inbox"
	"github.com/Phenom-earth/phenom-mailer/internal/render"
	"github.com/Phenom-earth/phenom-mailer/internal/send"
	"github.com/Phenom-earth/phenom-mailer/internal/srp"
)

// fakeCognito is an in-process user pool of one user that mails the code
// into a Maildir (DKIM-signed by the mailer's signer) and verifies SRP the
// way a server does: S = (A·v^u)^b, a derivation independent of the
// client's (B − k·g^x)^(a+u·x).
type fakeCognito struct {
	t        testing.TB
	dir      string
	signed   bool
	poolName string
	clientID string
	// linkCID, when set, adds a reset link to the mail whose cid is
	// *linkCID (none when "").
	linkCID *string

	mu           sync.Mutex
	password     string
	code         string
	forgotCalls  int
	confirmCalls int
	limit        bool
	srpB         *big.Int
	srpSmallB    *big.Int
	srpA         *big.Int
	secret       []byte
}

const (
	email    = "test-staging@thephenom.app"
	sub      = "3c9a5e1e-8b1d-4c1f-9f0e-2d3b4a5c6d7e"
	poolID   = "us-east-1_n8gO6SbP6"
	clientID = "6sjjnkaeagnqgkmbl1mr5rtfsr"
	saltHex  = "c2fe4a1b9d0e77a3"
)

func apiErr(code, msg string) error { return &smithy.GenericAPIError{Code: code, Message: msg} }

var (
	keyOnce sync.Once
	keyPEM  []byte
	record  string
)

func dkimKey() {
	keyOnce.Do(func() {
		k, _ := rsa.GenerateKey(rand.Reader, 2048)
		keyPEM = pemKey(k)
		pub, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
		record = "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(pub)
	})
}

func lookup(_ context.Context, name string) ([]string, error) {
	if name == "mailer._domainkey.thephenom.app." {
		return []string{record}, nil
	}
	return nil, fmt.Errorf("no TXT for %s", name)
}

func (f *fakeCognito) ForgotPassword(ctx context.Context, in *cip.ForgotPasswordInput, _ ...func(*cip.Options)) (*cip.ForgotPasswordOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.forgotCalls++
	if f.limit {
		return nil, apiErr("LimitExceededException", "Attempt limit exceeded, please try after some time.")
	}
	if aws.ToString(in.Username) != email {
		return nil, apiErr("UserNotFoundException", "Username/client id combination not found.")
	}
	n, _ := rand.Int(rand.Reader, big.NewInt(1000000))
	f.code = fmt.Sprintf("%06d", n.Int64())
	from, _ := mail.ParseAddress(send.DefaultFrom)
	s := &send.Sender{From: *from}
	text, html := "Your code: "+f.code+"\n", "<p>"+f.code+"</p>"
	if f.linkCID != nil {
		link := render.ResetLink(render.DefaultResetURL, f.code, email, *f.linkCID)
		text += "\n" + link + "\n"
		html += `<a href="` + strings.ReplaceAll(link, "&", "&amp;") + `">Reset</a>`
	}
	raw, err := s.Build(send.Message{To: email, Subject: "Reset your Phenom password", Text: text, HTML: html})
	if err != nil {
		f.t.Error(err)
	}
	if f.signed {
		dkimKey()
		opts, _ := send.NewDKIM("thephenom.app", "mailer", keyPEM)
		var out bytes.Buffer
		dkim.Sign(&out, bytes.NewReader(raw), opts)
		raw = out.Bytes()
	}
	os.WriteFile(filepath.Join(f.dir, fmt.Sprintf("%d.eml", time.Now().UnixNano())), raw, 0o600)
	return &cip.ForgotPasswordOutput{CodeDeliveryDetails: &ciptypes.CodeDeliveryDetailsType{
		Destination: aws.String("t***@t***"), DeliveryMedium: ciptypes.DeliveryMediumTypeEmail, AttributeName: aws.String("email")}}, nil
}

func (f *fakeCognito) ConfirmForgotPassword(ctx context.Context, in *cip.ConfirmForgotPasswordInput, _ ...func(*cip.Options)) (*cip.ConfirmForgotPasswordOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.confirmCalls++
	if aws.ToString(in.ConfirmationCode) != f.code || f.code == "" {
		return nil, apiErr("CodeMismatchException", "Invalid verification code provided, please try again.")
	}
	f.code = ""
	f.password = aws.ToString(in.Password)
	return &cip.ConfirmForgotPasswordOutput{}, nil
}

func (f *fakeCognito) token() *ciptypes.AuthenticationResultType {
	claims, _ := json.Marshal(map[string]any{"email": email, "token_use": "id", "aud": f.clientID, "exp": time.Now().Add(time.Hour).Unix(), "sub": sub})
	tok := "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(claims) + ".c2ln"
	return &ciptypes.AuthenticationResultType{IdToken: aws.String(tok), AccessToken: aws.String("a")}
}

// SRP server side, from the published math (aws-contract.md section 5).
var (
	nBig, _ = new(big.Int).SetString("FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"+
		"EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"+
		"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"+
		"83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"+
		"E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"+
		"15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"+
		"ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C"+
		"BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF", 16)
	gBig = big.NewInt(2)
)

func pad(n *big.Int) string {
	h := n.Text(16)
	if len(h)%2 == 1 {
		h = "0" + h
	} else if strings.IndexByte("89abcdef", h[0]) >= 0 {
		h = "00" + h
	}
	return h
}

func hh(hexs ...string) *big.Int {
	b, _ := hex.DecodeString(strings.Join(hexs, ""))
	s := sha256.Sum256(b)
	return new(big.Int).SetBytes(s[:])
}

func (f *fakeCognito) x() *big.Int {
	inner := sha256.Sum256([]byte(f.poolName + sub + ":" + f.password))
	salt, _ := new(big.Int).SetString(saltHex, 16)
	return hh(pad(salt), hex.EncodeToString(inner[:]))
}

func (f *fakeCognito) InitiateAuth(ctx context.Context, in *cip.InitiateAuthInput, _ ...func(*cip.Options)) (*cip.InitiateAuthOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := in.AuthParameters
	if p["USERNAME"] != email {
		return nil, apiErr("UserNotFoundException", "User does not exist.")
	}
	switch in.AuthFlow {
	case ciptypes.AuthFlowTypeUserPasswordAuth:
		if p["PASSWORD"] != f.password {
			return nil, apiErr("NotAuthorizedException", "Incorrect username or password.")
		}
		return &cip.InitiateAuthOutput{AuthenticationResult: f.token()}, nil
	case ciptypes.AuthFlowTypeUserSrpAuth:
		A, ok := new(big.Int).SetString(p["SRP_A"], 16)
		if !ok || new(big.Int).Mod(A, nBig).Sign() == 0 {
			return nil, apiErr("InvalidParameterException", "bad SRP_A")
		}
		f.srpA = A
		k := hh(pad(nBig), pad(gBig))
		v := new(big.Int).Exp(gBig, f.x(), nBig)
		b, _ := rand.Int(rand.Reader, nBig)
		f.srpSmallB = b
		B := new(big.Int).Add(new(big.Int).Mul(k, v), new(big.Int).Exp(gBig, b, nBig))
		f.srpB = B.Mod(B, nBig)
		f.secret = make([]byte, 48)
		rand.Read(f.secret)
		return &cip.InitiateAuthOutput{ChallengeName: ciptypes.ChallengeNameTypePasswordVerifier, Session: aws.String("s"),
			ChallengeParameters: map[string]string{"USER_ID_FOR_SRP": sub, "SALT": saltHex, "SRP_B": f.srpB.Text(16),
				"SECRET_BLOCK": base64.StdEncoding.EncodeToString(f.secret), "USERNAME": sub}}, nil
	}
	return nil, apiErr("InvalidParameterException", "flow")
}

func (f *fakeCognito) RespondToAuthChallenge(ctx context.Context, in *cip.RespondToAuthChallengeInput, _ ...func(*cip.Options)) (*cip.RespondToAuthChallengeOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := in.ChallengeResponses
	if r["USERNAME"] != sub || r["PASSWORD_CLAIM_SECRET_BLOCK"] != base64.StdEncoding.EncodeToString(f.secret) {
		return nil, apiErr("NotAuthorizedException", "Incorrect username or password.")
	}
	ts, err := time.Parse(srp.TimestampLayout, r["TIMESTAMP"])
	if err != nil || time.Since(ts).Abs() > 5*time.Minute {
		return nil, apiErr("NotAuthorizedException", "timestamp")
	}
	u := hh(pad(f.srpA), pad(f.srpB))
	v := new(big.Int).Exp(gBig, f.x(), nBig)
	S := new(big.Int).Mul(f.srpA, new(big.Int).Exp(v, u, nBig))
	S.Exp(S.Mod(S, nBig), f.srpSmallB, nBig)
	sb, _ := hex.DecodeString(pad(S))
	ub, _ := hex.DecodeString(pad(u))
	key := make([]byte, 16)
	io.ReadFull(hkdf.New(sha256.New, sb, ub, []byte("Caldera Derived Key")), key)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(f.poolName + sub))
	mac.Write(f.secret)
	mac.Write([]byte(r["TIMESTAMP"]))
	if base64.StdEncoding.EncodeToString(mac.Sum(nil)) != r["PASSWORD_CLAIM_SIGNATURE"] {
		return nil, apiErr("NotAuthorizedException", "Incorrect username or password.")
	}
	return &cip.RespondToAuthChallengeOutput{AuthenticationResult: f.token()}, nil
}

func newFake(t *testing.T, signed bool) (*fakeCognito, Config) {
	dkimKey()
	f := &fakeCognito{t: t, dir: t.TempDir(), signed: signed, poolName: "n8gO6SbP6", clientID: clientID, password: "Old-Passw0rd!"}
	return f, Config{
		Cognito: f, PoolID: poolID, ClientID: clientID, Username: email, Email: email,
		Source: &inbox.Maildir{Path: f.dir}, LookupTXT: lookup, Timeout: 3 * time.Second,
		Backoff: inbox.Backoff{Initial: 20 * time.Millisecond, Max: 100 * time.Millisecond, Factor: 2},
	}
}

func TestRunSRPAndPassword(t *testing.T) {
	for _, auth := range []string{AuthSRP, AuthPassword} {
		t.Run(auth, func(t *testing.T) {
			f, cfg := newFake(t, true)
			cfg.Auth = auth
			var seen []string
			cfg.Progress = func(s Stage) { seen = append(seen, s.Name) }
			rep, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatalf("round trip: %v", err)
			}
			if rep.NewPassword == "" || rep.NewPassword != f.password || rep.EmailClaim != email || rep.Destination != "t***@t***" {
				t.Errorf("report: claim %q destination %q", rep.EmailClaim, rep.Destination)
			}
			if strings.Join(seen, ",") != "forgot_password,wait_for_mail,confirm_forgot_password,sign_in,check_id_token" {
				t.Errorf("stages %v", seen)
			}
			b, _ := json.Marshal(rep)
			if strings.Contains(string(b), rep.NewPassword) || strings.Contains(string(b), `"code"`) {
				t.Errorf("the JSON report carries the password or the code")
			}
		})
	}
}

// TestSRPWrongPasswordRefused: the fake server refuses a claim made with
// another password, so the SRP test above proves something.
func TestSRPWrongPasswordRefused(t *testing.T) {
	f, cfg := newFake(t, true)
	f.password = "Current-Passw0rd!"
	cfg.Auth = AuthSRP
	_, err := cfg.signInSRP(context.Background(), "Other-Passw0rd!", time.Now)
	var ce *CognitoError
	if !errors.As(err, &ce) || ce.Name != "NotAuthorized" {
		t.Fatalf("want NotAuthorized, got %v", err)
	}
	if _, err := cfg.signInSRP(context.Background(), "Current-Passw0rd!", time.Now); err != nil {
		t.Fatalf("the right password: %v", err)
	}
}

func TestRunFailures(t *testing.T) {
	t.Run("untrusted mail is never confirmed", func(t *testing.T) {
		f, cfg := newFake(t, false)
		rep, err := Run(context.Background(), cfg)
		if !errors.Is(err, inbox.ErrUntrusted) || rep.Mail == nil || rep.Mail.Reason != inbox.RefuseUnsigned {
			t.Fatalf("want an unsigned refusal, got %v", err)
		}
		if f.confirmCalls != 0 {
			t.Errorf("ConfirmForgotPassword was called with an untrusted code")
		}
	})
	t.Run("LimitExceeded is reported once, not retried", func(t *testing.T) {
		f, cfg := newFake(t, true)
		f.limit = true
		_, err := Run(context.Background(), cfg)
		var ce *CognitoError
		if !errors.As(err, &ce) || ce.Name != "LimitExceeded" || !strings.Contains(err.Error(), "not retrying") {
			t.Fatalf("got %v", err)
		}
		if f.forgotCalls != 1 {
			t.Errorf("ForgotPassword called %d times", f.forgotCalls)
		}
	})
	t.Run("no mail in time", func(t *testing.T) {
		_, cfg := newFake(t, true)
		cfg.Source = &inbox.Maildir{Path: t.TempDir()}
		cfg.Timeout = 200 * time.Millisecond
		_, err := Run(context.Background(), cfg)
		if !errors.Is(err, inbox.ErrNoMatch) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("old mail in the source does not count", func(t *testing.T) {
		f, cfg := newFake(t, true)
		// A mail from a previous request, seconds old (inside the skew).
		f.ForgotPassword(context.Background(), &cip.ForgotPasswordInput{Username: aws.String(email)})
		old := f.code
		f.limit = false
		rep, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if rep.Mail.SourceID == "" || f.code == old {
			t.Errorf("the old mail was used")
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		_, cfg := newFake(t, true)
		cfg.Username, cfg.Email = "nobody@thephenom.app", "nobody@thephenom.app"
		_, err := Run(context.Background(), cfg)
		var ce *CognitoError
		if !errors.As(err, &ce) || ce.Name != "UserNotFound" {
			t.Fatalf("got %v", err)
		}
	})
}

func TestCheckIDToken(t *testing.T) {
	mk := func(c map[string]any) string {
		b, _ := json.Marshal(c)
		return "h." + base64.RawURLEncoding.EncodeToString(b) + ".s"
	}
	now := time.Now()
	ok := map[string]any{"email": email, "token_use": "id", "aud": clientID, "exp": now.Add(time.Hour).Unix()}
	if _, err := checkIDToken(mk(ok), clientID, email, now); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]map[string]any{
		"access token":  {"email": email, "token_use": "access", "aud": clientID},
		"other client":  {"email": email, "token_use": "id", "aud": "other"},
		"expired":       {"email": email, "token_use": "id", "aud": clientID, "exp": now.Add(-time.Hour).Unix()},
		"other address": {"email": "x@thephenom.app", "token_use": "id", "aud": clientID},
	} {
		if _, err := checkIDToken(mk(c), clientID, email, now); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if _, err := checkIDToken("not-a-jwt", clientID, email, now); err == nil {
		t.Error("garbage accepted")
	}
}

func TestNewPassword(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		p, err := NewPassword(nil)
		if err != nil {
			t.Fatal(err)
		}
		var lo, up, di, sy bool
		for _, r := range p {
			switch {
			case unicode.IsLower(r):
				lo = true
			case unicode.IsUpper(r):
				up = true
			case unicode.IsDigit(r):
				di = true
			default:
				sy = true
			}
		}
		if len(p) != 24 || !lo || !up || !di || !sy || seen[p] {
			t.Fatalf("weak or repeated password (len %d)", len(p))
		}
		seen[p] = true
	}
}

func pemKey(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}
