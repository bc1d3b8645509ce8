package sesevents

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzParse feeds Parse arbitrary SNS messages: it must never panic, and
// must either ignore the input with a reason or return events that can be
// recorded (a message id, a type, a time and a digest each).
func FuzzParse(f *testing.F) {
	for _, name := range append(fixtureNames, "open") {
		f.Add(fixture(f, name))
	}
	f.Add(`{"eventType":"Bounce","mail":{"messageId":"m"},"bounce":{"bouncedRecipients":[{}],"timestamp":"2020-01-01T00:00:00Z"}}`)
	f.Add(`{"eventType":"Delivery","mail":{"messageId":"m"},"delivery":{"recipients":["a@b"],"timestamp":"x"}}`)
	f.Fuzz(func(t *testing.T, message string) {
		body, _ := json.Marshal(map[string]string{"Type": "Notification", "Message": message})
		for _, b := range [][]byte{body, []byte(message)} {
			evs, err := Parse(b)
			var ig *IgnoredError
			if err != nil {
				if !errors.As(err, &ig) || ig.Reason == "" {
					t.Fatalf("error is not an IgnoredError with a reason: %v", err)
				}
				continue
			}
			if len(evs) == 0 {
				t.Fatal("no events and no reason")
			}
			for _, e := range evs {
				if e.MessageID == "" || e.Type == "" || e.Time.IsZero() || len(e.Digest) != 16 {
					t.Fatalf("unrecordable event %+v", e)
				}
			}
		}
	})
}
