package standin

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
)

// rawMail is a conformant message from noreply@thephenom.app to to, with
// extra header lines and body lines (each ended by CRLF here).
func rawMail(to string, headers []string, body ...string) []byte {
	var b strings.Builder
	b.WriteString("From: Phenom <noreply@thephenom.app>\r\n")
	b.WriteString("Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n")
	b.WriteString("To: " + to + "\r\n")
	b.WriteString("Subject: rules\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	for _, l := range body {
		b.WriteString(l + "\r\n")
	}
	return []byte(b.String())
}

func dropHeader(raw []byte, name string) []byte {
	var out []string
	for _, l := range strings.SplitAfter(string(raw), "\r\n") {
		if !strings.HasPrefix(l, name+":") {
			out = append(out, l)
		}
	}
	return []byte(strings.Join(out, ""))
}

func addrs(n int, domain string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("r%02d@%s", i, domain)
	}
	return out
}

// TestSESRules: the stand-in refuses what SES's documentation says SES
// refuses, with SES v2's error shape, before moto sees it, and still takes
// a conformant message.
func TestSESRules(t *testing.T) {
	m := startMoto(t, MotoOptions{})
	ctx := t.Context()
	if err := m.CreateDKIMIdentity(ctx, "thephenom.app"); err != nil {
		t.Fatal(err)
	}
	// An address identity: that address may send, its domain's others not.
	if _, err := m.SESClient().CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String("alerts@other.example")}); err != nil {
		t.Fatal(err)
	}

	line998 := strings.Repeat("a", 998)
	big := make([]string, 0, 420000)
	for len(big)*78 < 31_500_000 { // > 40 MiB once base64 encoded
		big = append(big, strings.Repeat("b", 76))
	}

	tests := []struct {
		name     string
		in       sesv2.SendEmailInput
		wantType string // "" = accepted
		wantMsg  string
	}{
		{
			name: "conformant, with a 998-character line",
			in:   rawInput("noreply@thephenom.app", []string{"a@thephenom.app"}, rawMail("a@thephenom.app", nil, line998, "short")),
		},
		{
			name:     "a 1,001-character line (999 and CRLF)",
			in:       rawInput("noreply@thephenom.app", []string{"a@thephenom.app"}, rawMail("a@thephenom.app", nil, line998+"a")),
			wantType: "BadRequestException", wantMsg: "Line 8 of the message is 1001 characters long",
		},
		{
			name:     "a long header line",
			in:       rawInput("noreply@thephenom.app", []string{"a@thephenom.app"}, rawMail("a@thephenom.app", []string{"X-Long: " + line998})),
			wantType: "BadRequestException", wantMsg: "can't exceed 1000 characters",
		},
		{
			name:     "a 1,001-character last line without CRLF",
			in:       rawInput("noreply@thephenom.app", []string{"a@thephenom.app"}, append(rawMail("a@thephenom.app", nil), []byte(strings.Repeat("c", 1001))...)),
			wantType: "BadRequestException", wantMsg: "1001 characters long",
		},
		{
			name:     "a message over 40 MB once base64 encoded",
			in:       rawInput("noreply@thephenom.app", []string{"a@thephenom.app"}, rawMail("a@thephenom.app", nil, big...)),
			wantType: "BadRequestException", wantMsg: "Message length is more than the allowed 41943040 bytes",
		},
		{
			name:     "no From header",
			in:       rawInput("noreply@thephenom.app", []string{"a@thephenom.app"}, dropHeader(rawMail("a@thephenom.app", nil, "x"), "From")),
			wantType: "BadRequestException", wantMsg: "Missing required header 'From'.",
		},
		{
			name:     "no Date header",
			in:       rawInput("noreply@thephenom.app", []string{"a@thephenom.app"}, dropHeader(rawMail("a@thephenom.app", nil, "x"), "Date")),
			wantType: "BadRequestException", wantMsg: "Missing required header 'Date'.",
		},
		{
			name:     "no blank line between header and body",
			in:       rawInput("noreply@thephenom.app", []string{"a@thephenom.app"}, []byte("From: noreply@thephenom.app\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\nTo: a@thephenom.app\r\n")),
			wantType: "BadRequestException", wantMsg: "no blank line",
		},
		{
			// moto counts the To header again besides the Destination.
			name: "50 recipients across the Destination and the To header",
			in:   rawInput("noreply@thephenom.app", addrs(50, "thephenom.app")[:49], rawMail("r49@thephenom.app", nil, "x")),
		},
		{
			name:     "51 recipients in the Destination",
			in:       rawInput("noreply@thephenom.app", addrs(51, "thephenom.app"), rawMail("r00@thephenom.app", nil, "x")),
			wantType: "BadRequestException", wantMsg: "Recipient count exceeds 50.",
		},
		{
			name:     "51 recipients across the Destination and the Cc header",
			in:       rawInput("noreply@thephenom.app", addrs(30, "thephenom.app"), rawMail("r00@thephenom.app", []string{"Cc: " + strings.Join(addrs(51, "thephenom.app")[30:], ", ")}, "x")),
			wantType: "BadRequestException", wantMsg: "Recipient count exceeds 50.",
		},
		{
			name:     "a non-ASCII destination (SES takes no SMTPUTF8)",
			in:       rawInput("noreply@thephenom.app", []string{"josé@thephenom.app"}, rawMail("a@thephenom.app", nil, "x")),
			wantType: "BadRequestException", wantMsg: "Illegal address",
		},
		{
			name:     "an unverified FromEmailAddress",
			in:       rawInput("noreply@unverified.example", []string{"a@thephenom.app"}, rawMail("a@thephenom.app", nil, "x")),
			wantType: "MessageRejected", wantMsg: "Email address is not verified. The following identities failed the check in region US-EAST-1: noreply@unverified.example",
		},
		{
			name: "an unverified From header behind a verified FromEmailAddress",
			in: rawInput("noreply@thephenom.app", []string{"a@thephenom.app"},
				[]byte(strings.Replace(string(rawMail("a@thephenom.app", nil, "x")), "noreply@thephenom.app", "ceo@unverified.example", 1))),
			wantType: "MessageRejected", wantMsg: "ceo@unverified.example",
		},
		{
			name: "an unverified Sender header",
			in: rawInput("noreply@thephenom.app", []string{"a@thephenom.app"},
				rawMail("a@thephenom.app", []string{"Sender: bulk@unverified.example"}, "x")),
			wantType: "MessageRejected", wantMsg: "bulk@unverified.example",
		},
		{
			name: "a verified address identity",
			in: rawInput("alerts@other.example", []string{"a@thephenom.app"},
				[]byte(strings.Replace(string(rawMail("a@thephenom.app", nil, "x")), "noreply@thephenom.app", "alerts@other.example", 1))),
		},
		{
			name: "another address of that identity's domain",
			in: rawInput("sales@other.example", []string{"a@thephenom.app"},
				[]byte(strings.Replace(string(rawMail("a@thephenom.app", nil, "x")), "noreply@thephenom.app", "sales@other.example", 1))),
			wantType: "MessageRejected", wantMsg: "sales@other.example",
		},
		{
			name: "Simple content",
			in: sesv2.SendEmailInput{
				FromEmailAddress: aws.String("noreply@thephenom.app"),
				Destination:      &sestypes.Destination{ToAddresses: []string{"a@thephenom.app"}},
				Content:          &sestypes.EmailContent{Simple: simple()},
			},
		},
		{
			name: "Simple content to 51 recipients",
			in: sesv2.SendEmailInput{
				FromEmailAddress: aws.String("noreply@thephenom.app"),
				Destination:      &sestypes.Destination{ToAddresses: addrs(51, "thephenom.app")},
				Content:          &sestypes.EmailContent{Simple: simple()},
			},
			wantType: "BadRequestException", wantMsg: "Recipient count exceeds 50.",
		},
		{
			name: "Simple content from an unverified address",
			in: sesv2.SendEmailInput{
				FromEmailAddress: aws.String("noreply@unverified.example"),
				Destination:      &sestypes.Destination{ToAddresses: []string{"a@thephenom.app"}},
				Content:          &sestypes.EmailContent{Simple: simple()},
			},
			wantType: "MessageRejected", wantMsg: "noreply@unverified.example",
		},
	}

	accepted := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := sentCount(t, m)
			// Through the AWS SDK, as the mailer sends.
			_, err := m.SESClient().SendEmail(ctx, &tt.in, func(o *sesv2.Options) { o.RetryMaxAttempts = 1 })
			if tt.wantType == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				accepted++
				if got := sentCount(t, m); got != before+1 {
					t.Errorf("moto holds %d messages, want %d", got, before+1)
				}
				return
			}
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tt.wantType || !strings.Contains(apiErr.ErrorMessage(), tt.wantMsg) {
				t.Fatalf("SendEmail = %v, want %s containing %q", err, tt.wantType, tt.wantMsg)
			}
			switch tt.wantType {
			case "BadRequestException":
				var typed *sestypes.BadRequestException
				if !errors.As(err, &typed) {
					t.Errorf("the SDK did not decode a *types.BadRequestException: %T", apiErr)
				}
			case "MessageRejected":
				var typed *sestypes.MessageRejected
				if !errors.As(err, &typed) {
					t.Errorf("the SDK did not decode a *types.MessageRejected: %T", apiErr)
				}
			}
			var respErr *awshttp.ResponseError
			if !errors.As(err, &respErr) || respErr.HTTPStatusCode() != http.StatusBadRequest ||
				respErr.Response.Header.Get("X-Amzn-ErrorType") != tt.wantType || respErr.Response.Header.Get("X-Amzn-RequestId") == "" {
				t.Errorf("HTTP answer is not SES v2's error shape: %v", err)
			}
			if got := sentCount(t, m); got != before {
				t.Errorf("a refused message reached moto (%d messages, want %d)", got, before)
			}
		})
	}
	if accepted != 4 {
		t.Errorf("%d sends accepted, want 4", accepted)
	}
}

// TestSESRulesErrorBody: the body of a refusal is SES v2's {"message": ...}
// and nothing else.
func TestSESRulesErrorBody(t *testing.T) {
	m := startMoto(t, MotoOptions{})
	if err := m.CreateDKIMIdentity(t.Context(), "thephenom.app"); err != nil {
		t.Fatal(err)
	}
	raw := rawMail("a@thephenom.app", nil, strings.Repeat("x", 1200))
	body, _ := json.Marshal(map[string]any{
		"FromEmailAddress": "noreply@thephenom.app",
		"Destination":      map[string]any{"ToAddresses": []string{"a@thephenom.app"}},
		"Content":          map[string]any{"Raw": map[string]any{"Data": base64.StdEncoding.EncodeToString(raw)}},
	})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, m.URL+"/v2/email/outbound-emails", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=test/20261124/us-east-1/ses/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	var doc map[string]any
	if err := json.Unmarshal(got, &doc); err != nil {
		t.Fatalf("body %q is not JSON: %v", got, err)
	}
	msg, ok := doc["message"].(string)
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Amzn-ErrorType") != "BadRequestException" ||
		resp.Header.Get("Content-Type") != "application/json" || len(doc) != 1 || !ok || msg == "" {
		t.Errorf("answer %d %v %s, want 400, x-amzn-ErrorType BadRequestException and {\"message\": ...}", resp.StatusCode, resp.Header, got)
	}
	if strings.Contains(msg, "xxxx") {
		t.Error("the refusal quotes the message's text")
	}
}

func rawInput(from string, to []string, raw []byte) sesv2.SendEmailInput {
	return sesv2.SendEmailInput{
		FromEmailAddress: aws.String(from),
		Destination:      &sestypes.Destination{ToAddresses: to},
		Content:          &sestypes.EmailContent{Raw: &sestypes.RawMessage{Data: raw}},
	}
}

func simple() *sestypes.Message {
	return &sestypes.Message{
		Subject: &sestypes.Content{Data: aws.String("hello")},
		Body:    &sestypes.Body{Text: &sestypes.Content{Data: aws.String("text")}},
	}
}

func sentCount(t *testing.T, m *Moto) int {
	t.Helper()
	sent, err := m.SentEmails()
	if err != nil {
		t.Fatal(err)
	}
	return len(sent)
}
