package send

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncateRuneSafe(t *testing.T) {
	s := strings.Repeat("a日", 20)
	for n := 0; n <= len(s)+1; n++ {
		got := truncate(s, n)
		if !utf8.ValidString(got) || !strings.HasPrefix(s, got) || len(got) > n || len(got) < min(n, len(s))-3 {
			t.Fatalf("truncate(%q, %d) = %q", s, n, got)
		}
	}
}
