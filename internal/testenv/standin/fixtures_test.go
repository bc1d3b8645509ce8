package standin

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// wantFixtures are the committed cases (scripts/gen-ciphertexts.mjs).
var wantFixtures = []Fixture{
	{Name: "cognito-staging", Suite: SuiteCognito, Pool: StagingPool, KeyID: StagingKeyID, Plaintext: "123456"},
	{Name: "cognito-devlocal", Suite: SuiteCognito, Pool: DevLocalPool, KeyID: DevLocalKeyID, Plaintext: "654321"},
	{Name: "committing-nocontext", Suite: SuiteCommitting, Pool: "", KeyID: StagingKeyID, Plaintext: "222333"},
	{Name: "other-pool", Suite: SuiteCognito, Pool: "us-east-1_OtherPool1", KeyID: StagingKeyID, Plaintext: "999000"},
	{Name: "unknown-key", Suite: SuiteCognito, Pool: StagingPool, KeyID: OtherKeyID, Plaintext: "777888"},
	{Name: "no-context-0378", Suite: SuiteCognito, Pool: "", KeyID: StagingKeyID, Plaintext: "313131"},
	{Name: "admin-temp-password", Suite: SuiteCognito, Pool: StagingPool, KeyID: StagingKeyID, Plaintext: "Tmp&lt;Pass&gt;9!x"},
}

// checkShape checks that f.Ciphertext is an Encryption SDK message of the
// fixture's declared shape, and (with a KMS client) that its data key opens
// with the fixture's key under the message's encryption context.
func checkShape(t *testing.T, f Fixture, c *kms.Client) {
	t.Helper()
	ct, err := f.CiphertextBytes()
	if err != nil {
		t.Errorf("%s: ciphertext is not base64: %v", f.Name, err)
		return
	}
	var prefix []byte
	switch f.Suite {
	case SuiteCognito:
		prefix = []byte{0x01, 0x80, 0x03, 0x78} // v1, customer authenticated encrypted data, 0x0378
	case SuiteCommitting:
		prefix = []byte{0x02, 0x05, 0x78} // v2, 0x0578
	default:
		t.Errorf("%s: suite %q", f.Name, f.Suite)
		return
	}
	if !bytes.HasPrefix(ct, prefix) {
		t.Errorf("%s: message starts % x, want % x", f.Name, ct[:min(len(ct), 4)], prefix)
		return
	}
	h, err := ParseESDKHeader(ct)
	if err != nil {
		t.Errorf("%s: %v", f.Name, err)
		return
	}
	if h.SuiteString() != f.Suite {
		t.Errorf("%s: header suite %s, fixture says %s", f.Name, h.SuiteString(), f.Suite)
	}
	// Cognito's shape: the SDK's public key plus userpool-id, nothing else.
	wantKeys := map[string]bool{"aws-crypto-public-key": true}
	if f.Pool != "" {
		wantKeys["userpool-id"] = true
	}
	if len(h.EncryptionContext) != len(wantKeys) || h.EncryptionContext["userpool-id"] != f.Pool {
		t.Errorf("%s: encryption context %v, want userpool-id=%q and aws-crypto-public-key", f.Name, h.EncryptionContext, f.Pool)
	}
	for k := range wantKeys {
		if _, ok := h.EncryptionContext[k]; !ok {
			t.Errorf("%s: encryption context lacks %s", f.Name, k)
		}
	}
	if len(h.DataKeys) != 1 || h.DataKeys[0].ProviderID != "aws-kms" || h.DataKeys[0].ProviderInfo != f.KeyARN() {
		t.Errorf("%s: data keys %+v, want one aws-kms key %s", f.Name, h.DataKeys, f.KeyARN())
		return
	}
	if h.ContentType != 2 {
		t.Errorf("%s: content type %d, want 2 (framed)", f.Name, h.ContentType)
	}
	if c == nil {
		return
	}
	out, err := c.Decrypt(t.Context(), &kms.DecryptInput{
		CiphertextBlob:    h.DataKeys[0].Ciphertext,
		EncryptionContext: h.EncryptionContext,
		KeyId:             aws.String(f.KeyARN()),
	})
	if err != nil {
		t.Errorf("%s: KMS stand-in cannot open the data key: %v", f.Name, err)
		return
	}
	if len(out.Plaintext) != 32 {
		t.Errorf("%s: data key is %d bytes, want 32", f.Name, len(out.Plaintext))
	}
}

func TestCommittedFixtures(t *testing.T) {
	p, err := RepoFile(FixturesPath)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := LoadFixtures(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != len(wantFixtures) {
		t.Errorf("%d fixtures, want %d", len(fs), len(wantFixtures))
	}
	c := kmsClient(startKMS(t).URL)
	for _, w := range wantFixtures {
		f, ok := FixtureByName(fs, w.Name)
		if !ok {
			t.Errorf("fixture %s missing", w.Name)
			continue
		}
		got := f
		got.Ciphertext = ""
		if got != w {
			t.Errorf("fixture %s = %+v, want %+v", w.Name, got, w)
		}
		checkShape(t, f, c)
	}
}

func TestCommittedEvents(t *testing.T) {
	dir, err := RepoFile(EventsDir)
	if err != nil {
		t.Fatal(err)
	}
	c := kmsClient(startKMS(t).URL)
	triggers := []string{"SignUp", "ResendCode", "ForgotPassword", "UpdateUserAttribute",
		"VerifyUserAttribute", "AdminCreateUser", "AccountTakeOverNotification", "Authentication"}
	for _, tr := range triggers {
		b, err := os.ReadFile(filepath.Join(dir, tr+".json"))
		if err != nil {
			t.Error(err)
			continue
		}
		if !bytes.HasSuffix(b, []byte("}\n")) || !bytes.Contains(b, []byte("\n  \"version\": \"1\",\n")) {
			t.Errorf("%s.json is not 2-space indented with a trailing newline", tr)
		}
		var ev struct {
			Version       string `json:"version"`
			TriggerSource string `json:"triggerSource"`
			Region        string `json:"region"`
			UserPoolID    string `json:"userPoolId"`
			UserName      string `json:"userName"`
			CallerContext struct {
				AWSSDKVersion string `json:"awsSdkVersion"`
				ClientID      string `json:"clientId"`
			} `json:"callerContext"`
			Request struct {
				Type           string            `json:"type"`
				Code           *string           `json:"code"`
				ClientMetadata map[string]string `json:"clientMetadata"`
				UserAttributes map[string]string `json:"userAttributes"`
			} `json:"request"`
			Response map[string]any `json:"response"`
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil {
			t.Errorf("%s.json: %v", tr, err)
			continue
		}
		if ev.Version != "1" || ev.TriggerSource != "CustomEmailSender_"+tr || ev.Region != Region ||
			ev.UserPoolID != StagingPool || ev.UserName == "" || ev.CallerContext.ClientID != "6sjjnkaeagnqgkmbl1mr5rtfsr" ||
			ev.Request.Type != "customEmailSenderRequestV1" || ev.Request.ClientMetadata != nil ||
			ev.Response == nil || len(ev.Response) != 0 || ev.Request.UserAttributes["email"] == "" {
			t.Errorf("%s.json has the wrong shape: %+v", tr, ev)
		}
		if tr == "AccountTakeOverNotification" {
			if ev.Request.Code != nil {
				t.Errorf("%s.json: code is not null", tr)
			}
			for _, k := range []string{"EVENT_ID", "USER_NAME", "IP_ADDRESS", "ACCOUNT_TAKE_OVER_ACTION",
				"ONE_CLICK_LINK_VALID", "ONE_CLICK_LINK_INVALID", "LOGIN_TIME", "FEEDBACK_TOKEN"} {
				if ev.Request.UserAttributes[k] == "" {
					t.Errorf("%s.json: userAttributes.%s missing", tr, k)
				}
			}
			continue
		}
		if ev.Request.Code == nil {
			t.Errorf("%s.json: code is null", tr)
			continue
		}
		checkShape(t, Fixture{Name: tr, Suite: SuiteCognito, Pool: StagingPool, KeyID: StagingKeyID, Ciphertext: *ev.Request.Code}, c)
	}
}

func TestEncryptWithNode(t *testing.T) {
	k := startKMS(t)
	cases := []NodeCase{
		{Name: "fresh-cognito", Suite: SuiteCognito, Pool: DevLocalPool, KeyID: DevLocalKeyID, Plaintext: "424242"},
		{Name: "fresh-committing", Suite: SuiteCommitting, KeyID: KeyARN(StagingKeyID), Plaintext: "515151"},
	}
	fs, err := EncryptWithNode(t.Context(), k.URL, cases)
	if errors.Is(err, ErrNodeESDKMissing) {
		skipOrFail(t, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	c := kmsClient(k.URL)
	for i, f := range fs {
		if f.Name != cases[i].Name || f.Plaintext != cases[i].Plaintext || f.Suite != cases[i].Suite {
			t.Errorf("fixture %d = %+v for case %+v", i, f, cases[i])
		}
		if strings.HasPrefix(f.KeyID, "arn:") {
			f.KeyID = strings.TrimPrefix(f.KeyID, "arn:aws:kms:us-east-1:111122223333:key/")
		}
		checkShape(t, f, c)
	}

	if _, err := EncryptWithNode(t.Context(), k.URL, []NodeCase{{Name: "bad", Suite: "0x0178", KeyID: StagingKeyID}}); err == nil ||
		!strings.Contains(err.Error(), "unknown suite") {
		t.Errorf("unknown suite: %v", err)
	}
	if _, err := EncryptWithNode(t.Context(), "http://192.0.2.1:4000", cases); err == nil {
		t.Error("a non-loopback KMS URL was accepted")
	}
}

func TestParseESDKHeaderRejectsGarbage(t *testing.T) {
	for _, b := range [][]byte{nil, {0x01}, {0x03, 0x05, 0x78}, {0x01, 0x81, 0x03, 0x78}, {0x02, 0x05, 0x78, 0x00}} {
		if _, err := ParseESDKHeader(b); err == nil {
			t.Errorf("ParseESDKHeader(% x) succeeded", b)
		}
	}
}
