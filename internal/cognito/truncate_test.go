package cognito

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// truncate never cuts a UTF-8 character in half: at every length, the
// result is valid UTF-8, a prefix of the input within 3 bytes of the limit,
// and "..." marks the cut.
func TestTruncateRuneSafe(t *testing.T) {
	for _, s := range []string{strings.Repeat("é", 50), strings.Repeat("日本", 30), strings.Repeat("a😀", 25), "plain ascii text"} {
		for n := 0; n <= len(s)+1; n++ {
			got := truncate(s, n)
			if !utf8.ValidString(got) {
				t.Fatalf("truncate(%q, %d) = %q: not valid UTF-8", s, n, got)
			}
			if len(s) <= n {
				if got != s {
					t.Fatalf("truncate(%q, %d) = %q, want it whole", s, n, got)
				}
				continue
			}
			kept, ok := strings.CutSuffix(got, "...")
			if !ok || !strings.HasPrefix(s, kept) || len(kept) > n || len(kept) < n-3 {
				t.Fatalf("truncate(%q, %d) = %q", s, n, got)
			}
		}
	}
}

// A masked address with a long internationalized domain stays valid UTF-8.
func TestMaskEmailLongUnicodeDomain(t *testing.T) {
	got := MaskEmail("qa@" + strings.Repeat("é", 200) + ".fr")
	if !utf8.ValidString(got) || !strings.HasPrefix(got, "q***@é") || !strings.HasSuffix(got, "...") {
		t.Fatalf("MaskEmail = %q", got)
	}
}
