package srp

import (
	"bytes"
	"encoding/json"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"
)

type vectorFile struct {
	Generator string `json:"generator"`
	SRP       []struct {
		Name         string `json:"name"`
		PoolID       string `json:"pool_id"`
		UserIDForSRP string `json:"user_id_for_srp"`
		Password     string `json:"password"`
		SmallA       string `json:"small_a"`
		Salt         string `json:"salt"`
		B            string `json:"srp_b"`
		SecretBlock  string `json:"secret_block"`
		Now          string `json:"now"`
		A            string `json:"srp_a"`
		Timestamp    string `json:"timestamp"`
		Signature    string `json:"signature"`
		Username     string `json:"username"`
	} `json:"srp"`
	SecretHash []struct {
		Username     string `json:"username"`
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		SecretHash   string `json:"secret_hash"`
	} `json:"secret_hash"`
}

func loadVectors(t *testing.T) vectorFile {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectorFile
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.SRP) < 5 || len(v.SecretHash) < 2 || !strings.Contains(v.Generator, "amazon-cognito-identity-js") {
		t.Fatalf("vectors file is incomplete: %d SRP, %d SECRET_HASH, generator %q", len(v.SRP), len(v.SecretHash), v.Generator)
	}
	return v
}

// TestKnownAnswers replays what amazon-cognito-identity-js sent for fixed
// inputs: SRP_A, TIMESTAMP and PASSWORD_CLAIM_SIGNATURE must match exactly.
func TestKnownAnswers(t *testing.T) {
	for _, v := range loadVectors(t).SRP {
		t.Run(v.Name, func(t *testing.T) {
			a, ok := new(big.Int).SetString(v.SmallA, 16)
			if !ok {
				t.Fatal("small_a is not hex")
			}
			c, err := newClient(v.PoolID, a)
			if err != nil {
				t.Fatal(err)
			}
			if c.A() != v.A {
				t.Fatalf("SRP_A differs from the library's")
			}
			now, err := time.Parse(time.RFC3339, v.Now)
			if err != nil {
				t.Fatal(err)
			}
			claim, err := c.Respond(Challenge{UserIDForSRP: v.UserIDForSRP, Salt: v.Salt, B: v.B, SecretBlock: v.SecretBlock}, v.Password, now)
			if err != nil {
				t.Fatal(err)
			}
			if claim.Timestamp != v.Timestamp {
				t.Errorf("TIMESTAMP %q, library %q", claim.Timestamp, v.Timestamp)
			}
			if claim.Signature != v.Signature {
				t.Errorf("PASSWORD_CLAIM_SIGNATURE differs from the library's")
			}
			if claim.SecretBlock != v.SecretBlock || v.Username != v.UserIDForSRP {
				t.Errorf("secret block or username not passed through")
			}
			// A wrong password gives another signature.
			wrong, err := c.Respond(Challenge{UserIDForSRP: v.UserIDForSRP, Salt: v.Salt, B: v.B, SecretBlock: v.SecretBlock}, v.Password+"x", now)
			if err != nil || wrong.Signature == v.Signature {
				t.Errorf("a wrong password must give another signature")
			}
		})
	}
}

func TestSecretHash(t *testing.T) {
	for _, v := range loadVectors(t).SecretHash {
		if got := SecretHash(v.Username, v.ClientID, v.ClientSecret); got != v.SecretHash {
			t.Errorf("SECRET_HASH for %s/%s differs", v.Username, v.ClientID)
		}
	}
}

func TestTimestampLayout(t *testing.T) {
	for in, want := range map[string]string{
		"2026-01-02T00:00:00Z":      "Fri Jan 2 00:00:00 UTC 2026",
		"2026-12-10T13:01:02Z":      "Thu Dec 10 13:01:02 UTC 2026",
		"2026-07-09T23:09:09+02:00": "Thu Jul 9 21:09:09 UTC 2026",
	} {
		tm, _ := time.Parse(time.RFC3339, in)
		if got := tm.UTC().Format(TimestampLayout); got != want {
			t.Errorf("%s: %q, want %q", in, got, want)
		}
	}
}

func TestRefusals(t *testing.T) {
	if _, err := NewClient("nounderscore", nil); err == nil {
		t.Error("a pool id without _ must be refused")
	}
	c, err := NewClient("us-east-1_abc", bytes.NewReader(bytes.Repeat([]byte{7}, 128)))
	if err != nil {
		t.Fatal(err)
	}
	ok := Challenge{UserIDForSRP: "u", Salt: "ab", B: "05", SecretBlock: "AAAA"}
	for name, ch := range map[string]Challenge{
		"B zero":      {UserIDForSRP: "u", Salt: "ab", B: "0", SecretBlock: "AAAA"},
		"B = N":       {UserIDForSRP: "u", Salt: "ab", B: nHex, SecretBlock: "AAAA"},
		"B not hex":   {UserIDForSRP: "u", Salt: "ab", B: "zz", SecretBlock: "AAAA"},
		"salt":        {UserIDForSRP: "u", Salt: "g", B: "05", SecretBlock: "AAAA"},
		"secret":      {UserIDForSRP: "u", Salt: "ab", B: "05", SecretBlock: "!!"},
		"no username": {Salt: "ab", B: "05", SecretBlock: "AAAA"},
	} {
		if _, err := c.Respond(ch, "secret-password", time.Now()); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "secret-password") {
			t.Errorf("%s: the error quotes the password", name)
		}
	}
	if _, err := c.Respond(ok, "pw", time.Now()); err != nil {
		t.Errorf("a well-formed challenge: %v", err)
	}
	if _, err := NewClient("us-east-1_abc", strings.NewReader("short")); err == nil {
		t.Error("a short random source must fail")
	}
}
