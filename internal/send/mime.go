package send

import (
	"encoding/hex"
	"errors"
	"math/rand"
	randv2 "math/rand/v2"
	"mime"
	"net/mail"
	"strings"
	"time"
)

// The mailer writes the MIME of its one kind of mail itself: a
// multipart/alternative root with a text/plain and a text/html part, both
// quoted-printable. enmime (its MailBuilder and Part.Encode, with
// ForceQuotedPrintableCte) wrote it before, and stays the reference:
// TestBuildMatchesEnmime and FuzzBuildMatchesEnmime hold every byte of
// what encode writes equal to what enmime writes for the same message,
// boundary included. It is written here because enmime's encoding
// (building a part tree, header maps, bufio writers and Go's
// quotedprintable.Writer) cost about a quarter of the render + MIME
// budget (docs/benchmarks.md) for a shape that never changes.

// encode writes the message as enmime's builder did: the root's header
// fields in enmime's order (sorted by canonical name) and folding, then
// the two parts with their fixed headers and quoted-printable bodies.
func (s *Sender) encode(to string, m Message, date time.Time, ref string) ([]byte, error) {
	if s.From.Address == "" {
		return nil, errors.New("build mime: from not set")
	}
	if date.IsZero() {
		date = time.Now()
	}
	boundary := s.boundary()
	// Quoted-printable grows the HTML by its "=" (every attribute) and soft
	// line breaks: room for a fifth again, and the headers, saves a copy in
	// most mails.
	b := make([]byte, 0, len(m.HTML)+len(m.Text)+(len(m.HTML)+len(m.Text))/5+1024+len(m.Subject)*3)
	var dateBuf [len(time.RFC1123Z) + 8]byte
	b = appendHeader(b, "Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": boundary}))
	b = appendHeader(b, "Date", string(date.AppendFormat(dateBuf[:0], time.RFC1123Z)))
	b = appendHeader(b, "From", s.From.String())
	b = appendHeader(b, "Message-Id", "<"+ref+"@"+Domain(s.From.Address)+">")
	b = appendHeader(b, "Mime-Version", "1.0")
	b = appendHeader(b, "Subject", encodeSubject(m.Subject))
	b = appendHeader(b, "To", (&mail.Address{Address: to}).String())
	b = appendHeader(b, "X-Entity-Ref-Id", ref)
	for _, part := range [...]struct{ head, body string }{
		{"Content-Transfer-Encoding: quoted-printable\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", lineFeeds(m.Text)},
		{"Content-Transfer-Encoding: quoted-printable\r\nContent-Type: text/html; charset=utf-8\r\n\r\n", lineFeeds(m.HTML)},
	} {
		b = append(b, "\r\n--"...)
		b = append(b, boundary...)
		b = append(b, "\r\n"...)
		b = append(b, part.head...)
		b = appendQP(b, part.body)
	}
	b = append(b, "\r\n--"...)
	b = append(b, boundary...)
	b = append(b, "--\r\n"...)
	return b, nil
}

// lineFeeds returns s with "\r\n" and a lone "\r" written "\n". The
// encoder writes each of the three as CRLF anyway, but Go's
// quotedprintable.Writer, and appendQP with it, drops a "\n" that follows a
// "\r" and an encoded octet ("\r\x1a\n" came out as CRLF "=1A"), so the
// part would not decode to the text. Rendered mails have "\n" only
// (render normalises both parts): for them this changes nothing.
func lineFeeds(s string) string {
	if strings.IndexByte(s, '\r') < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// boundary is enmime's: "enmime-" and a random (version 4) UUID. With
// RandSeed it is the one enmime's builder makes with RandSeed(seed).
func (s *Sender) boundary() string {
	var u [16]byte
	if s.RandSeed != 0 {
		_, _ = rand.New(rand.NewSource(s.RandSeed)).Read(u[:])
	} else {
		for i := 0; i < len(u); i += 8 {
			v := randv2.Uint64()
			for j := range 8 {
				u[i+j] = byte(v >> (8 * j))
			}
		}
	}
	u[8] = u[8]&^0xc0 | 0x80 // variant (RFC 4122 4.1.1)
	u[6] = u[6]&^0xf0 | 0x40 // version 4 (4.1.3)
	var out [len("enmime-") + 36]byte
	n := copy(out[:], "enmime-")
	for i, g := range [...][2]int{{0, 4}, {4, 6}, {6, 8}, {8, 10}, {10, 16}} {
		if i > 0 {
			out[n] = '-'
			n++
		}
		n += hex.Encode(out[n:], u[g[0]:g[1]])
	}
	return string(out[:n])
}

// appendHeader appends one header field as enmime's Part.encodeHeader
// writes a root part's: the value as it is when it is printable ASCII (tab
// allowed), else as an RFC 2047 encoded-word (B when a fifth or more of it
// is not), then folded before 76 characters at the last space or tab.
func appendHeader(b []byte, key, value string) []byte {
	switch headerEncoding(value) {
	case 'b':
		value = mime.BEncoding.Encode("utf-8", value)
	case 'q':
		value = mime.QEncoding.Encode("utf-8", value)
	}
	line := make([]byte, 0, len(key)+2+len(value)+2)
	line = append(line, key...)
	line = append(line, ":_"...) // "_" keeps the line from breaking after the colon
	line = append(line, value...)
	line = append(line, "\r\n"...)
	start := len(b)
	b = appendWrapped(b, line, 76)
	b[start+len(key)+1] = ' '
	return b
}

// headerEncoding is enmime's selectTransferEncoding for a header value:
// 0 when every octet is printable ASCII or a tab, 'b' when non-printable
// octets reach a fifth of it, 'q' otherwise.
func headerEncoding(v string) byte {
	if v == "" {
		return 0
	}
	threshold := 20 * len(v) / 100
	n := 0
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' || c > '~') && c != '\t' {
			n++
			if n >= threshold {
				return 'b'
			}
		}
	}
	if n == 0 {
		return 0
	}
	return 'q'
}

// appendWrapped appends input folded as enmime's stringutil.Wrap folds it:
// when a line reaches maxLen octets, it breaks at the last space or tab
// seen on it (which becomes the continuation line's leading white space,
// replaced by "\r\n "); a line with no space stays long.
func appendWrapped(out, input []byte, maxLen int) []byte {
	if len(input) < maxLen {
		return append(out, input...)
	}
	ls := -1 // last space seen
	lw := -1 // last octet written
	ll := 0  // length of the current line
	for i := 0; i < len(input); i++ {
		ll++
		switch input[i] {
		case ' ', '\t':
			ls = i
		}
		if ll >= maxLen && ls >= 0 {
			out = append(out, input[lw+1:ls]...)
			out = append(out, '\r', '\n', ' ')
			lw = ls
			ll = 1
			i = lw + 1
			ls = -1
		}
	}
	return append(out, input[lw+1:]...)
}
