package send

import (
	"bytes"
	"mime/quotedprintable"
	"strings"
	"testing"
)

// stdlibQP is what enmime writes for a text part: one Write of the whole
// content to Go's quotedprintable.Writer, then Close.
func stdlibQP(t testing.TB, p []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	if _, err := w.Write(p); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestQPKnownAnswers: appendQP on inputs with known encodings (RFC 2045
// 6.7's rules: soft breaks at 76, =XX, trailing white space, line breaks),
// each also checked against the stdlib writer.
func TestQPKnownAnswers(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain text", "plain text"},
		{"a=b", "a=3Db"},
		{"caf\xc3\xa9", "caf=C3=A9"},
		{"tab\tend\t", "tab\tend=09"},
		{"space \nnext", "space=20\r\nnext"},
		{"line\r\nnext\rlast\n", "line\r\nnext\r\nlast\r\n"},
		{"a\r\r\nb", "a\r\n\r\nb"},
		{"a\r\xff\nb", "a\r\n=FFb"}, // the stdlib's quirk: the "\n" still ends the CRLF
		{"\x00\x7f", "=00=7F"},
		{strings.Repeat("x", 75), strings.Repeat("x", 75)},
		{strings.Repeat("x", 76), strings.Repeat("x", 75) + "=\r\nx"},
		{strings.Repeat("x", 151), strings.Repeat("x", 75) + "=\r\n" + strings.Repeat("x", 75) + "=\r\nx"},
		{strings.Repeat("x", 73) + "=", strings.Repeat("x", 73) + "=\r\n=3D"},
		{strings.Repeat("x", 72) + "=", strings.Repeat("x", 72) + "=3D"},
		{strings.Repeat("x", 74) + " ", strings.Repeat("x", 74) + "=\r\n=20"},
		{strings.Repeat("x", 72) + " ", strings.Repeat("x", 72) + "=20"},
		{"-- \n", "--=20\r\n"},
	}
	for _, tt := range tests {
		got := string(appendQP(nil, tt.in))
		if got != tt.want {
			t.Errorf("appendQP(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if std := string(stdlibQP(t, []byte(tt.in))); std != tt.want {
			t.Errorf("the stdlib writes %q as %q, the test expects %q", tt.in, std, tt.want)
		}
	}
	// appendQP appends: what dst holds stays, and lines count from the end of it.
	if got := string(appendQP([]byte("head\r\n"), "x")); got != "head\r\nx" {
		t.Errorf("appendQP after a prefix = %q", got)
	}
}

// FuzzQPMatchesStdlib: for any content, appendQP writes exactly what Go's
// mime/quotedprintable.Writer writes, the encoder enmime uses.
func FuzzQPMatchesStdlib(f *testing.F) {
	f.Add([]byte("Your code: 123456\n"))
	f.Add([]byte(strings.Repeat("é", 200) + " \n\t\r\n=\r"))
	f.Add([]byte("a\r\xff\n" + strings.Repeat("ab ", 40) + "\t\n"))
	f.Add([]byte(strings.Repeat("x", 73) + "  =\xff "))
	f.Fuzz(func(t *testing.T, p []byte) {
		want := stdlibQP(t, p)
		if got := appendQP(nil, string(p)); !bytes.Equal(got, want) {
			t.Fatalf("appendQP(%q)\n = %q\nstdlib %q", p, got, want)
		}
	})
}

func BenchmarkQP(b *testing.B) {
	p := []byte(strings.Repeat("<td class=\"dv\" style=\"padding: 6px 0; font-size: 14px\">Sample café value</td>\n", 120))
	b.Run("stdlib", func(b *testing.B) {
		b.SetBytes(int64(len(p)))
		for b.Loop() {
			stdlibQP(b, p)
		}
	})
	b.Run("appendQP", func(b *testing.B) {
		b.SetBytes(int64(len(p)))
		dst, ps := make([]byte, 0, 2*len(p)), string(p)
		for b.Loop() {
			dst = appendQP(dst[:0], ps)
		}
	})
}
