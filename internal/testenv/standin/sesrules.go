package standin

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"sync/atomic"
)

// The SES v2 SendEmail rules the stand-in enforces before moto sees a send.
// moto 5.2.1 accepts a raw message with 2,000-character lines, no Date, or
// any size; SES does not, and a stand-in that accepts what SES refuses hides
// the refusal until production. Each rule below quotes the constraint it
// comes from, in the SES API v2 reference (SendEmail, RawMessage,
// EmailContent) or the SES developer guide.
//
// The error each rule answers with: the SendEmail reference lists
// BadRequestException ("The input you provided is invalid", HTTP 400) and
// MessageRejected ("The message can't be sent because it contains invalid
// content", HTTP 400). SES answers a malformed raw message with
// BadRequestException (SES v1's InvalidParameterValue, for example
// "Missing required header 'From'." and "Message length is more than ...
// bytes"), an unverified sender with MessageRejected ("Email address is not
// verified. The following identities failed the check in region ..."). The
// shape is SES v2's REST-JSON error: the status, an x-amzn-ErrorType header
// naming the error and a JSON body {"message": "..."}.
const (
	// sesMaxLine is the longest line SES takes, CRLF included. RawMessage.Data:
	// "The length of any single line of text in the message can't exceed
	// 1,000 characters. This restriction is defined in RFC 5321." (RFC 5321
	// 4.5.3.1.6: "The maximum total length of a text line including the
	// <CRLF> is 1000 octets.") Counted in octets, the stricter reading.
	sesMaxLine = 1000

	// sesMaxMessage bounds Content.Raw.Data as it travels, base64 encoded.
	// SES developer guide, Service quotas: "Using the SES v2 API or SMTP -
	// Maximum message size (including attachments): 40 MB per message (after
	// base64 encoding)." SES counts a MB as 2^20 bytes (its v1 refusal quotes
	// "10485760 bytes" for the 10 MB v1 limit).
	sesMaxMessage = 40 << 20

	// sesMaxRecipients: SES developer guide, Service quotas: "Maximum number
	// of recipients per message: 50 recipients per message"; SendRawEmail:
	// "Each message can include up to 50 recipient addresses across the To:,
	// CC:, or BCC: lines."
	sesMaxRecipients = 50
)

// sesRefusal is an SES v2 error answer.
type sesRefusal struct {
	status  int
	errType string
	message string
}

func badRequest(format string, args ...any) *sesRefusal {
	return &sesRefusal{http.StatusBadRequest, "BadRequestException", fmt.Sprintf(format, args...)}
}

func messageRejected(format string, args ...any) *sesRefusal {
	return &sesRefusal{http.StatusBadRequest, "MessageRejected", fmt.Sprintf(format, args...)}
}

var refusalSeq atomic.Int64

func (e *sesRefusal) write(w http.ResponseWriter) {
	body, _ := json.Marshal(map[string]string{"message": e.message})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", e.errType)
	w.Header().Set("X-Amzn-Requestid", fmt.Sprintf("standin-refusal-%d", refusalSeq.Add(1)))
	w.WriteHeader(e.status)
	w.Write(body)
}

// isSendEmail reports whether r is SES v2 SendEmail.
func isSendEmail(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.TrimSuffix(r.URL.Path, "/") == "/v2/email/outbound-emails" && sesService(r)
}

// sendEmailRequest is the part of a SendEmail request the rules read.
type sendEmailRequest struct {
	FromEmailAddress *string
	Destination      *struct {
		ToAddresses, CcAddresses, BccAddresses []string
	}
	Content struct {
		Raw *struct {
			Data *string // base64, as on the wire
		}
		Simple *struct {
			Subject *struct{ Data *string }
		}
		Template *json.RawMessage
	}
}

// checkSendEmail applies SES's SendEmail rules to r. It reads r's body and
// puts it back for the proxy. nil means forward the request to moto.
func (m *Moto) checkSendEmail(r *http.Request) *sesRefusal {
	// The whole request is read to measure it; anything beyond the message
	// limit plus room for the other members is refused unread.
	body, err := io.ReadAll(io.LimitReader(r.Body, sesMaxMessage+1<<20))
	r.Body.Close()
	if err != nil {
		return badRequest("Could not read the request body.")
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if len(body) > sesMaxMessage+1<<20-1 {
		return badRequest("Message length is more than the allowed %d bytes.", sesMaxMessage)
	}
	var req sendEmailRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return &sesRefusal{http.StatusBadRequest, "SerializationException", "The request body is not a valid SendEmail request."}
	}

	var dest []string
	if d := req.Destination; d != nil {
		dest = append(append(append(dest, d.ToAddresses...), d.CcAddresses...), d.BccAddresses...)
	}
	for _, a := range append(dest, deref(req.FromEmailAddress)) {
		// Destination: "Amazon SES does not support the SMTPUTF8
		// extension, as described in RFC6531. For this reason, the local
		// part of a destination email address ... may only contain 7-bit
		// ASCII characters. If the domain part of an address ... contains
		// non-ASCII characters, they must be encoded using Punycode".
		if !isASCII(a) {
			return badRequest("Illegal address")
		}
	}
	senders := map[string]bool{}
	if req.FromEmailAddress != nil {
		// SendEmail, FromEmailAddress: "This address must be either
		// individually verified with Amazon SES, or from a domain that has
		// been verified with Amazon SES."
		a, err := mail.ParseAddress(*req.FromEmailAddress)
		if err != nil {
			return badRequest("Illegal address")
		}
		senders[a.Address] = true
	}

	switch c := req.Content; {
	case c.Raw != nil:
		refusal, from := checkRaw(c.Raw.Data, dest)
		if refusal != nil {
			return refusal
		}
		for _, a := range from {
			senders[a] = true
		}
	case c.Simple != nil:
		// Simple content: SES builds the MIME itself, so only the sender,
		// recipient and size rules apply. (The mailer sends Raw only.)
		if req.FromEmailAddress == nil {
			// SendEmail, FromEmailAddress: "If you're sending a Simple or
			// Templated message, this parameter is required." SES answers
			// {"message":null}; a string is kept here for readable tests.
			return badRequest("FromEmailAddress is required for Simple content.")
		}
		if r := checkRecipients(dest); r != nil {
			return r
		}
		if len(body) > sesMaxMessage {
			return badRequest("Message length is more than the allowed %d bytes.", sesMaxMessage)
		}
	default:
		// Templates: moto does not implement them (and SES stored templates
		// drop mail with a missing variable): left to moto.
		return nil
	}

	for addr := range senders {
		ok, err := m.verifiedSender(r.Context(), r.Header.Get("Authorization"), addr)
		if err != nil {
			return &sesRefusal{http.StatusInternalServerError, "InternalFailure", "The stand-in could not look up the sending identity."}
		}
		if !ok {
			// SES developer guide, Amazon SES email sending errors: "Email
			// address is not verified. The following identities failed the
			// check in region region: identity1, identity2, identity3 — You
			// are trying to send email from an email address or domain that
			// you have not verified with Amazon SES. This error could apply
			// to the "From", "Source", "Sender", or "Return-Path" address."
			return messageRejected("Email address is not verified. The following identities failed the check in region %s: %s", strings.ToUpper(Region), addr)
		}
	}
	return nil
}

// checkRaw applies RawMessage's rules to a raw message (base64 data) sent
// to dest, and returns the sender addresses its header names.
func checkRaw(data *string, dest []string) (*sesRefusal, []string) {
	if data == nil || *data == "" {
		// RawMessage.Data: "Required: Yes".
		return badRequest("Content.Raw.Data is required."), nil
	}
	if len(*data) > sesMaxMessage {
		return badRequest("Message length is more than the allowed %d bytes.", sesMaxMessage), nil
	}
	raw, err := base64.StdEncoding.DecodeString(*data)
	if err != nil {
		return &sesRefusal{http.StatusBadRequest, "SerializationException", "Content.Raw.Data is not base64."}, nil
	}

	// RawMessage.Data: "The length of any single line of text in the
	// message can't exceed 1,000 characters." A line ends at LF; its CRLF
	// (or bare LF) counts towards the 1,000.
	for n, rest := 1, raw; len(rest) > 0; n++ {
		i := bytes.IndexByte(rest, '\n')
		line := rest
		if i >= 0 {
			line = rest[:i+1]
		}
		if len(line) > sesMaxLine {
			// The line is named by number; its text could be a mail body.
			return badRequest("Line %d of the message is %d characters long: the length of any single line can't exceed %d characters, CRLF included (RFC 5321).", n, len(line), sesMaxLine), nil
		}
		rest = rest[len(line):]
	}

	// RawMessage.Data: "The message has to contain a header and a body,
	// separated by one blank line."
	if !bytes.Contains(raw, []byte("\r\n\r\n")) && !bytes.Contains(raw, []byte("\n\n")) {
		return badRequest("The message has no blank line between its header and its body."), nil
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return badRequest("The message header could not be parsed."), nil
	}

	// RawMessage.Data: "All of the required header fields must be present
	// in the message." RFC 5322 3.6: "The only required header fields are
	// the origination date field and the originator address field(s)",
	// that is Date and From. SES's own answer for a missing From is
	// "Missing required header 'From'."; the one for Date is by analogy.
	for _, h := range []string{"From", "Date"} {
		if strings.TrimSpace(msg.Header.Get(h)) == "" {
			return badRequest("Missing required header '%s'.", h), nil
		}
	}
	if _, err := msg.Header.Date(); err != nil {
		return badRequest("Invalid header 'Date'."), nil
	}
	from, err := msg.Header.AddressList("From")
	if err != nil {
		return badRequest("Illegal address"), nil
	}
	var senders []string
	for _, a := range from {
		senders = append(senders, a.Address)
	}
	for _, h := range []string{"Sender", "Return-Path"} {
		if v := strings.TrimSpace(msg.Header.Get(h)); v != "" && v != "<>" {
			a, err := mail.ParseAddress(v)
			if err != nil {
				return badRequest("Illegal address"), nil
			}
			senders = append(senders, a.Address)
		}
	}

	all := append([]string(nil), dest...)
	for _, h := range []string{"To", "Cc", "Bcc"} {
		if msg.Header.Get(h) == "" {
			continue
		}
		list, err := msg.Header.AddressList(h)
		if err != nil {
			return badRequest("Illegal address"), nil
		}
		for _, a := range list {
			all = append(all, a.Address)
		}
	}
	return checkRecipients(all), senders
}

// checkRecipients counts each address once, whether it comes from the
// Destination or a To, Cc or Bcc header.
func checkRecipients(addrs []string) *sesRefusal {
	seen := map[string]bool{}
	for _, a := range addrs {
		if p, err := mail.ParseAddress(a); err == nil {
			a = p.Address
		}
		seen[strings.ToLower(a)] = true
	}
	switch {
	case len(seen) == 0:
		// SendRawEmail: "Each message has to include at least one recipient
		// address. A recipient address includes any address on the To:,
		// CC:, or BCC: lines."
		return badRequest("The message has no recipient.")
	case len(seen) > sesMaxRecipients:
		// SES quotas: "Maximum number of recipients per message: 50
		// recipients per message."
		return badRequest("Recipient count exceeds %d.", sesMaxRecipients)
	}
	return nil
}

// verifiedSender reports whether addr, or its domain, is an identity in
// moto. The stand-in treats an identity as verified once created (as
// fixSESResponse reports VerifiedForSendingStatus), so SES's "individually
// verified ... or from a domain that has been verified" is: the address or
// its domain exists as an identity. auth is the caller's Authorization
// header, which moto reads to route the look-up to SES.
//
// The domain is asked first: senders are nearly always in a verified
// domain (the mailer's are), so one look-up answers, where asking for the
// address first cost every send a second round trip to moto (about 3 ms
// of the stand-in's own time on each SendEmail). The answer is the same
// either way.
func (m *Moto) verifiedSender(ctx context.Context, auth, addr string) (bool, error) {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return false, nil
	}
	for _, id := range []string{strings.ToLower(addr[at+1:]), addr} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.BackendURL+"/v2/email/identities/"+url.PathEscape(id), nil)
		if err != nil {
			return false, err
		}
		req.Header.Set("Authorization", auth)
		resp, err := m.client.Do(req)
		if err != nil {
			return false, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			return true, nil
		case http.StatusNotFound:
		default:
			return false, errors.New("standin: identity look-up: " + resp.Status)
		}
	}
	return false, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] > 127 {
			return false
		}
	}
	return true
}
