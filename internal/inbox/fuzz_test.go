package inbox

import (
	"context"
	"strings"
	"testing"
	"time"
)

// FuzzExtractCode: any text and HTML; a found code is six digits that the
// text labels, and nothing panics.
func FuzzExtractCode(f *testing.F) {
	f.Add(resetText("123456"), resetHTML("123456"))
	f.Add("Your password reset code is 654321.", "")
	f.Add("code: 111111\ncode: 222222", "<a href='https://x.test/?code=111111'>x</a>")
	f.Add("code:\t000000", "<!-- 000000 --><style>999999</style>")
	f.Add("Your code: 123456\nhttps://x.test/r?code=123456&cid=abc\n", "<a href='https://x.test/r?code=123456&amp;cid=abd'>x</a>")
	f.Fuzz(func(t *testing.T, text, html string) {
		ex := ExtractCode(text, html)
		switch {
		case ex.CID == CodeFound && ex.ClientID == "", ex.CID != CodeFound && ex.ClientID != "":
			t.Fatalf("cid %s with client id %q", ex.CID, ex.ClientID)
		case ex.CID != CodeFound && ex.CID != CodeAbsent && ex.CID != CodeMismatch:
			t.Fatalf("cid state %q", ex.CID)
		case ex.CID != CodeAbsent && ex.ResetLink == "":
			t.Fatalf("cid %s without a reset link", ex.CID)
		}
		switch ex.Text {
		case CodeFound:
			if len(ex.Code) != 6 || strings.Trim(ex.Code, "0123456789") != "" || !strings.Contains(text, ex.Code) {
				t.Fatalf("found a code that is not six digits of the text")
			}
		case CodeMissing, CodeAmbiguous:
			if ex.Code != "" || ex.Link != CodeAbsent || ex.HTML != CodeAbsent {
				t.Fatalf("no code, yet cross-checks ran")
			}
		default:
			t.Fatalf("text state %q", ex.Text)
		}
	})
}

// FuzzCheck: any bytes as a message go through matching, DKIM, enmime and
// code extraction; only a trusted verdict carries a code.
func FuzzCheck(f *testing.F) {
	testKeys(f)
	f.Add(build(f, mailOpts{signers: []string{"thephenom.app"}}))
	f.Add(build(f, mailOpts{}))
	f.Add([]byte("From: noreply@thephenom.app\r\nTo: test-staging@thephenom.app\r\nDKIM-Signature: v=1; d=thephenom.app; s=mailer; b=\r\n\r\nYour code: 123456\r\n"))
	f.Add([]byte("From: noreply@thephenom.app\r\nContent-Type: multipart/alternative; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\ncode: 1\r\n--x--\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m := Message{ID: "f", Received: time.Now(), Raw: raw}
		Match(m, Query{To: testTo, Since: time.Now().Add(-time.Hour)})
		v, err := Check(context.Background(), m, policy)
		if (err == nil) != v.Trusted {
			t.Fatalf("error and verdict disagree")
		}
		if !v.Trusted && v.Code != "" {
			t.Fatalf("an untrusted verdict carries a code")
		}
	})
}
