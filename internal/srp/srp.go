// Package srp is the client side of Amazon Cognito's USER_SRP_AUTH: SRP-6a
// over the 3072-bit RFC 3526 group with SHA-256, as amazon-cognito-identity-js
// computes it, plus Cognito's PASSWORD_VERIFIER claim (HKDF key, HMAC
// signature, timestamp) and SECRET_HASH.
//
// It is proven by known-answer vectors that the JavaScript library itself
// produced (testdata/vectors.json, made by scripts/gen-srp-vectors.mjs).
// Nothing here logs, and no error quotes a password.
//
// It must not know the Cognito client or the network: it is arithmetic over
// the values Cognito sends.
package srp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"

	"golang.org/x/crypto/hkdf"
)

// nHex is the 3072-bit MODP group prime of RFC 3526 section 4.
const nHex = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD" +
	"EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
	"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F" +
	"83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B" +
	"E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510" +
	"15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7" +
	"ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C" +
	"BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"

// TimestampLayout is Cognito's TIMESTAMP: English names, UTC, 24-hour clock,
// the day not zero-padded.
const TimestampLayout = "Mon Jan 2 15:04:05 UTC 2006"

var (
	bigN = mustHex(nHex)
	bigG = big.NewInt(2)
	bigK = new(big.Int).SetBytes(hashHex(padHex(bigN) + padHex(bigG)))
)

func mustHex(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 16)
	if !ok {
		panic("srp: bad constant")
	}
	return n
}

// padHex is the library's padHex: the lower-case hex of n, with "0"
// prepended to an odd length and "00" when the first nibble is 8 or more
// (so the bytes read as a positive two's-complement number).
func padHex(n *big.Int) string {
	h := n.Text(16)
	if len(h)%2 == 1 {
		h = "0" + h
	} else if strings.IndexByte("89abcdef", h[0]) >= 0 {
		h = "00" + h
	}
	return h
}

func hashHex(h string) []byte {
	b, _ := hex.DecodeString(h)
	s := sha256.Sum256(b)
	return s[:]
}

// Client is one SRP exchange: a fresh private a and its public A.
type Client struct {
	poolName string
	a, bigA  *big.Int
}

// NewClient starts an exchange for a pool id ("us-east-1_n8gO6SbP6") with
// 128 random bytes from r (crypto/rand when nil) as the private a.
func NewClient(poolID string, r io.Reader) (*Client, error) {
	if r == nil {
		r = rand.Reader
	}
	var buf [128]byte
	if _, err := io.ReadFull(r, buf[:]); err != nil {
		return nil, fmt.Errorf("srp: random a: %w", err)
	}
	return newClient(poolID, new(big.Int).SetBytes(buf[:]))
}

func newClient(poolID string, a *big.Int) (*Client, error) {
	_, name, ok := strings.Cut(poolID, "_")
	if !ok || name == "" {
		return nil, fmt.Errorf("srp: user pool id %q is not REGION_NAME", poolID)
	}
	if a.Sign() == 0 {
		return nil, errors.New("srp: private a is zero")
	}
	A := new(big.Int).Exp(bigG, a, bigN)
	if A.Sign() == 0 {
		return nil, errors.New("srp: A is zero")
	}
	return &Client{poolName: name, a: a, bigA: A}, nil
}

// A is SRP_A for InitiateAuth: lower-case hex without padding, as the
// JavaScript library sends it.
func (c *Client) A() string { return c.bigA.Text(16) }

// Challenge is the PASSWORD_VERIFIER challenge's parameters.
type Challenge struct {
	UserIDForSRP string // USER_ID_FOR_SRP
	Salt         string // SALT, hex
	B            string // SRP_B, hex
	SecretBlock  string // SECRET_BLOCK, base64
}

// Claim is the PASSWORD_VERIFIER response: PASSWORD_CLAIM_SIGNATURE,
// PASSWORD_CLAIM_SECRET_BLOCK and TIMESTAMP; USERNAME must be the
// challenge's USER_ID_FOR_SRP.
type Claim struct {
	Signature   string
	SecretBlock string
	Timestamp   string
}

// Respond computes the password claim for ch at time now.
func (c *Client) Respond(ch Challenge, password string, now time.Time) (Claim, error) {
	B, ok := new(big.Int).SetString(ch.B, 16)
	if !ok {
		return Claim{}, errors.New("srp: SRP_B is not hex")
	}
	if new(big.Int).Mod(B, bigN).Sign() == 0 {
		return Claim{}, errors.New("srp: SRP_B is zero modulo N")
	}
	salt, ok := new(big.Int).SetString(ch.Salt, 16)
	if !ok {
		return Claim{}, errors.New("srp: SALT is not hex")
	}
	secret, err := base64.StdEncoding.DecodeString(ch.SecretBlock)
	if err != nil {
		return Claim{}, errors.New("srp: SECRET_BLOCK is not base64")
	}
	if ch.UserIDForSRP == "" {
		return Claim{}, errors.New("srp: USER_ID_FOR_SRP is empty")
	}

	u := new(big.Int).SetBytes(hashHex(padHex(c.bigA) + padHex(B)))
	if u.Sign() == 0 {
		return Claim{}, errors.New("srp: u is zero")
	}
	inner := sha256.Sum256([]byte(c.poolName + ch.UserIDForSRP + ":" + password))
	x := new(big.Int).SetBytes(hashHex(padHex(salt) + hex.EncodeToString(inner[:])))

	// S = (B - k·g^x)^(a + u·x) mod N
	gx := new(big.Int).Exp(bigG, x, bigN)
	base := new(big.Int).Sub(B, new(big.Int).Mul(bigK, gx))
	base.Mod(base, bigN)
	exp := new(big.Int).Add(c.a, new(big.Int).Mul(u, x))
	S := new(big.Int).Exp(base, exp, bigN)

	sBytes, _ := hex.DecodeString(padHex(S))
	uBytes, _ := hex.DecodeString(padHex(u))
	key := make([]byte, 16)
	if _, err := io.ReadFull(hkdf.New(sha256.New, sBytes, uBytes, []byte("Caldera Derived Key")), key); err != nil {
		return Claim{}, fmt.Errorf("srp: hkdf: %w", err)
	}

	ts := now.UTC().Format(TimestampLayout)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(c.poolName))
	mac.Write([]byte(ch.UserIDForSRP))
	mac.Write(secret)
	mac.Write([]byte(ts))
	return Claim{
		Signature:   base64.StdEncoding.EncodeToString(mac.Sum(nil)),
		SecretBlock: ch.SecretBlock,
		Timestamp:   ts,
	}, nil
}

// SecretHash is SECRET_HASH for an app client with a secret:
// Base64(HMAC-SHA256(key = client secret, message = username + client id)).
func SecretHash(username, clientID, clientSecret string) string {
	mac := hmac.New(sha256.New, []byte(clientSecret))
	mac.Write([]byte(username + clientID))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
