package send

// appendQP appends p to dst encoded quoted-printable (RFC 2045 6.7),
// byte for byte as Go's mime/quotedprintable.Writer (Binary false) writes
// it in one Write followed by Close: what enmime writes for a text part.
// Lines of at most 76 characters (75 and a soft break "="), "=" and every
// octet outside printable ASCII, space and tab as =XX, a space or tab
// before a line break as =20 or =09, and "\r\n", "\r" or "\n" written as
// CRLF.
//
// It exists because the mailer encodes every mail's two parts and the
// stdlib writer costs about a sixth of the render + MIME budget: it handles
// every octet through a per-octet switch and a 78-octet line buffer
// flushed through two more writers, where this copies runs of plain
// octets at once. FuzzQPMatchesStdlib and TestQPKnownAnswers hold it to
// the stdlib's output, including the stdlib's quirk: a "\n" after "\r"
// and encoded octets is still taken as the second half of a CRLF, and
// dropped (Build hands it parts with "\n" line ends only, see lineFeeds).
func appendQP(dst []byte, p string) []byte {
	ls := len(dst) // where the current line starts in dst
	cr := false    // the last line break was a "\r"
	for i := 0; i < len(p); {
		switch qpClass[p[i]] {
		case qpPlain:
			j := i + 1
			for j < len(p) && qpClass[p[j]] == qpPlain {
				j++
			}
			for i < j {
				n := len(dst) - ls
				if n == qpMaxLen-1 {
					dst = append(dst, '=', '\r', '\n')
					ls, n = len(dst), 0
				}
				k := min(j-i, qpMaxLen-1-n)
				dst = append(dst, p[i:i+k]...)
				i += k
			}
			cr = false
		case qpBreak:
			b := p[i]
			i++
			if cr && b == '\n' {
				cr = false
				continue
			}
			cr = b == '\r'
			dst, ls = qpLastByte(dst, ls)
			dst = append(dst, '\r', '\n')
			ls = len(dst)
		default:
			dst, ls = qpEncode(dst, ls, p[i])
			i++
		}
	}
	dst, _ = qpLastByte(dst, ls)
	return dst
}

// qpMaxLen is the stdlib's lineMaxLen: a line holds at most 75 characters
// before its soft break.
const qpMaxLen = 76

// Octet classes for appendQP.
const (
	qpPlain  = iota // written as it is: printable ASCII but "=", space, tab
	qpBreak         // "\r" or "\n"
	qpEscape        // written =XX
)

var qpClass = func() (c [256]uint8) {
	for i := range c {
		b := byte(i)
		switch {
		case b >= '!' && b <= '~' && b != '=', b == ' ', b == '\t':
			c[i] = qpPlain
		case b == '\r', b == '\n':
			c[i] = qpBreak
		default:
			c[i] = qpEscape
		}
	}
	return c
}()

// qpEncode appends b as =XX, after a soft line break when the line has no
// room for three more characters before it.
func qpEncode(dst []byte, ls int, b byte) ([]byte, int) {
	const hex = "0123456789ABCDEF"
	if qpMaxLen-1-(len(dst)-ls) < 3 {
		dst = append(dst, '=', '\r', '\n')
		ls = len(dst)
	}
	return append(dst, '=', hex[b>>4], hex[b&15]), ls
}

// qpLastByte encodes the line's last octet when it is a space or a tab,
// which a line break or the end of the part would otherwise leave as
// trailing white space (RFC 2045 6.7, rule 3).
func qpLastByte(dst []byte, ls int) ([]byte, int) {
	if len(dst) == ls {
		return dst, ls
	}
	if b := dst[len(dst)-1]; b == ' ' || b == '\t' {
		return qpEncode(dst[:len(dst)-1], ls, b)
	}
	return dst, ls
}
