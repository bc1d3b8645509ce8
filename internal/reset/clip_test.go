package reset

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// clip never cuts a UTF-8 character in half, wherever the 300-byte limit
// falls.
func TestClipRuneSafe(t *testing.T) {
	for pad := 0; pad < 4; pad++ {
		s := strings.Repeat("x", pad) + strings.Repeat("😀", 100)
		got := clip(s)
		kept, ok := strings.CutSuffix(got, "…")
		if !ok || !utf8.ValidString(got) || !strings.HasPrefix(s, kept) || len(kept) > 300 || len(kept) < 297 {
			t.Fatalf("clip(pad %d) = %q", pad, got)
		}
	}
	if clip("short é") != "short é" {
		t.Fatal("a short string is clipped")
	}
}
