package receivers

import (
	"context"
	"strings"
	"testing"
)

// A plain, honest mail scores low; the same mail with GTUBE (the spam
// filters' EICAR) and a hidden 1 px text scores far above the threshold:
// the judge can fail.
func TestSpamAssassinJudges(t *testing.T) {
	plain := "From: Phenom <noreply@thephenom.app>\r\n" +
		"To: ada.lovelace@example.com\r\n" +
		"Subject: Your Phenom code\r\n" +
		"Date: Sat, 14 Mar 2026 09:30:00 +0000\r\n" +
		"Message-ID: <0101020304@thephenom.app>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"\r\n" +
		"Hello,\r\n\r\nYour code: 482913\r\n\r\nThe Phenom team\r\n"
	spam := strings.Replace(plain, "Hello,", "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\nHello,", 1)
	res, err := SpamAssassin{}.Score(context.Background(), [][]byte{[]byte(plain), []byte(spam)})
	need(t, err)
	if !res[0].OK() {
		t.Errorf("a plain mail scores %.1f (%s), want under %.1f", res[0].Score, res[0].Summary(), SpamThreshold)
	}
	for _, r := range res[0].Rules {
		if r.Name == "NO_RECEIVED" || r.Name == "NO_RELAYS" {
			t.Errorf("rule %s fired: the Received header was not added", r.Name)
		}
	}
	if res[1].OK() || !strings.Contains(res[1].Summary(), "GTUBE") {
		t.Errorf("GTUBE scores %.1f (%s), want GTUBE over %.1f", res[1].Score, res[1].Summary(), SpamThreshold)
	}
}
