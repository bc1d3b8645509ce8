package inbox

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testCID = "6sjjnkaeagnqgkmbl1mr5rtfsr"

// withCID adds cid to every reset link of a text or HTML part built by
// resetText/resetHTML ("" leaves the link as it is).
func withCID(part, sep, cid string) string {
	if cid == "" {
		return part
	}
	return strings.ReplaceAll(part, "email=test-staging%40thephenom.app", "email=test-staging%40thephenom.app"+sep+"cid="+cid)
}

func TestExtractClientID(t *testing.T) {
	for _, c := range []struct {
		name                string
		textCID, htmlCID    string
		extraText           string
		wantCID, wantClient string
	}{
		{"both links name the client", testCID, testCID, "", CodeFound, testCID},
		{"no cid", "", "", "", CodeAbsent, ""},
		{"the links disagree", testCID, "8uun49ru7f3fdvmlc12vqig3ab", "", CodeMismatch, ""},
		{"one link has no cid", testCID, "", "", CodeMismatch, ""},
		{"repeated cid", testCID, testCID, "https://www.thephenom.app/reset-password?code=123456&cid=" + testCID + "&cid=other\n", CodeMismatch, ""},
		{"escaped cid", "a%2Bb", "a%2Bb", "", CodeFound, "a+b"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ex := ExtractCode(withCID(resetText("123456"), "&", c.textCID)+c.extraText, withCID(resetHTML("123456"), "&amp;", c.htmlCID))
			if ex.Link != CodeMatch {
				t.Fatalf("code link check %s: cid must not change it", ex.Link)
			}
			if ex.CID != c.wantCID || ex.ClientID != c.wantClient {
				t.Errorf("cid %s %q, want %s %q", ex.CID, ex.ClientID, c.wantCID, c.wantClient)
			}
		})
	}
}

// Check reports the cid in the verdict (and its JSON), and refuses a mail
// whose reset links name different clients.
func TestCheckClientID(t *testing.T) {
	ctx := context.Background()
	raw := build(t, mailOpts{signers: []string{"thephenom.app"},
		text: withCID(resetText(testCode), "&", testCID), html: withCID(resetHTML(testCode), "&amp;", testCID)})
	v, err := Check(ctx, msg(raw), policy)
	if err != nil {
		t.Fatal(err)
	}
	if v.ResetCID != CodeFound || v.ResetClientID != testCID {
		t.Errorf("verdict cid %s %q", v.ResetCID, v.ResetClientID)
	}
	b, _ := json.Marshal(v)
	if !strings.Contains(string(b), `"reset_cid":"found","reset_client_id":"`+testCID+`"`) {
		t.Errorf("JSON lacks the cid: %s", b)
	}

	v, err = Check(ctx, msg(build(t, mailOpts{signers: []string{"thephenom.app"}})), policy)
	if err != nil || v.ResetCID != CodeAbsent || v.ResetClientID != "" {
		t.Errorf("a link without cid: %v, %s %q", err, v.ResetCID, v.ResetClientID)
	}

	raw = build(t, mailOpts{signers: []string{"thephenom.app"},
		text: withCID(resetText(testCode), "&", testCID), html: withCID(resetHTML(testCode), "&amp;", "another")})
	v, err = Check(ctx, msg(raw), policy)
	var ue *UntrustedError
	if !errors.As(err, &ue) || ue.Reason != RefuseCIDLink || v.Trusted || v.Code != "" {
		t.Fatalf("links naming different clients: %v", err)
	}
	if strings.Contains(err.Error(), testCode) {
		t.Error("the refusal quotes the code")
	}
}

// The mailer's own ForgotPassword renderings carry the cid they were
// rendered with.
func TestMailerGoldensClientID(t *testing.T) {
	texts, _ := filepath.Glob("../render/testdata/golden/*/ForgotPassword.txt")
	if len(texts) == 0 {
		t.Fatal("no ForgotPassword goldens")
	}
	for _, txt := range texts {
		text, err := os.ReadFile(txt)
		if err != nil {
			t.Fatal(err)
		}
		html, err := os.ReadFile(strings.TrimSuffix(txt, ".txt") + ".html")
		if err != nil {
			t.Fatal(err)
		}
		ex := ExtractCode(string(text), string(html))
		if ex.CID != CodeFound || ex.ClientID != "1example23456789example0ab" {
			t.Errorf("%s: cid %s %q", txt, ex.CID, ex.ClientID)
		}
	}
}
