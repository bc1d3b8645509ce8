package send

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxLine is the longest line the mailer writes, in octets without the
// CRLF: RFC 5322 2.1.1 ("Each line of characters MUST be no more than 998
// characters ... excluding the CRLF") and SES's RawMessage rule ("The
// length of any single line of text in the message can't exceed 1,000
// characters", RFC 5321 4.5.3.1.6, CRLF included).
const MaxLine = 998

// encodeSubject returns the Subject header value as printable ASCII that
// folds within 78 characters: the subject itself when it is printable ASCII
// in short words, otherwise RFC 2047 Q encoded-words of whole UTF-8
// characters, each short enough that "Subject: " plus one word fits a
// 78-character line, separated by spaces (where the header is folded). Readers join
// adjacent encoded-words without the space between them (RFC 2047 6.2), so
// the decoded subject is exactly s.
func encodeSubject(s string) string {
	if plainHeaderText(s) {
		return s
	}
	const maxWord = 78 - len("Subject: ")
	const open, close = "=?utf-8?q?", "?="
	var out, word strings.Builder
	flush := func() {
		if word.Len() == 0 {
			return
		}
		if out.Len() > 0 {
			out.WriteByte(' ')
		}
		out.WriteString(open)
		out.WriteString(word.String())
		out.WriteString(close)
		word.Reset()
	}
	var enc [4 * 3]byte
	for _, r := range s {
		var buf [utf8.UTFMax]byte
		n := utf8.EncodeRune(buf[:], r)
		e := enc[:0]
		for _, c := range buf[:n] {
			e = appendQ(e, c)
		}
		if len(open)+word.Len()+len(e)+len(close) > maxWord {
			flush()
		}
		word.Write(e)
	}
	flush()
	return out.String()
}

// appendQ appends c in RFC 2047 Q encoding, restricted to the characters
// 5(3) allows in a phrase: letters, digits and "!*+-/" stand for
// themselves, a space is "_", anything else =XX.
func appendQ(dst []byte, c byte) []byte {
	const hex = "0123456789ABCDEF"
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
		c == '!', c == '*', c == '+', c == '-', c == '/':
		return append(dst, c)
	case c == ' ':
		return append(dst, '_')
	}
	return append(dst, '=', hex[c>>4], hex[c&15])
}

// plainHeaderText reports whether s can go into a header as it is: printable
// ASCII, no "=?" that a reader could take for an encoded-word, no leading,
// trailing or doubled spaces (folding would not keep them), and no word so
// long that the line could not be folded within 78 characters.
func plainHeaderText(s string) bool {
	if strings.Contains(s, "=?") || strings.HasPrefix(s, " ") || strings.HasSuffix(s, " ") || strings.Contains(s, "  ") {
		return false
	}
	run := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c > '~' {
			return false
		}
		if c == ' ' {
			run = 0
			continue
		}
		if run++; run > 60 {
			return false
		}
	}
	return true
}

// CheckWire reports the first way raw breaks what the mailer promises of
// every message it builds: CRLF line ends only (RFC 5322 2.3), no line over
// MaxLine octets (RFC 5322 2.1.1), 7-bit data only (RFC 2045 2.7: no NUL, no
// octet above 127), and a header section ended by an empty line. Errors name
// a line number, never the content.
func CheckWire(raw []byte) error {
	if !bytes.Contains(raw, []byte("\r\n\r\n")) {
		return errors.New("mime: no empty line after the header section")
	}
	if i := firstNot7bit(raw); i >= 0 {
		return fmt.Errorf("mime: line %d has a byte that is not 7-bit data", 1+bytes.Count(raw[:i], []byte("\n")))
	}
	for line, rest := 1, raw; len(rest) > 0; line++ {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return fmt.Errorf("mime: line %d does not end in CRLF", line)
		}
		if i == 0 || rest[i-1] != '\r' {
			return fmt.Errorf("mime: line %d ends in a bare LF", line)
		}
		if n := i - 1; n > MaxLine {
			return fmt.Errorf("mime: line %d is %d octets long (at most %d)", line, n, MaxLine)
		} else if bytes.IndexByte(rest[:n], '\r') >= 0 {
			return fmt.Errorf("mime: line %d has a bare CR", line)
		}
		rest = rest[i+1:]
	}
	return nil
}

// firstNot7bit is the index of the first NUL or octet above 127 in b, or -1.
// It reads eight octets at a time: this runs over every mail sent.
func firstNot7bit(b []byte) int {
	const high, ones = 0x8080808080808080, 0x0101010101010101
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		// A set high bit, or a zero octet (w-ones borrows into its high bit).
		if w&high != 0 || (w-ones)&^w&high != 0 {
			break
		}
	}
	for ; i < len(b); i++ {
		if b[i] == 0 || b[i] > 127 {
			return i
		}
	}
	return -1
}
