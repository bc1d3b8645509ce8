package metrics

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestWriteSESEvents(t *testing.T) {
	var b bytes.Buffer
	at := time.UnixMilli(1764000000000)
	if err := WriteSESEvents(&b, map[string]int{"Delivery": 2, "Bounce": 1}, 1, at); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), b.String())
	}
	var bounce struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		EventType string
		SESEvents int
	}
	if err := json.Unmarshal([]byte(lines[0]), &bounce); err != nil {
		t.Fatal(err)
	}
	d := bounce.AWS.CloudWatchMetrics[0]
	if bounce.EventType != "Bounce" || bounce.SESEvents != 1 || d.Namespace != Namespace || d.Dimensions[0][0] != DimEventType || d.Metrics[0].Name != SESEvents || bounce.AWS.Timestamp != at.UnixMilli() {
		t.Errorf("bounce line: %s", lines[0])
	}
	if !strings.Contains(lines[2], `"SESEventsFailed":1`) || !strings.Contains(lines[2], `"Dimensions":[[]]`) {
		t.Errorf("failed line: %s", lines[2])
	}
	b.Reset()
	_ = WriteCount(&b, DeliveryRecordErrors, 0, at)
	if b.Len() != 0 {
		t.Error("a zero count wrote a line")
	}
	_ = WriteCount(&b, DeliveryRecordErrors, 1, at)
	if !strings.Contains(b.String(), `"DeliveryRecordErrors":1`) || !strings.Contains(b.String(), `{"Name":"DeliveryRecordErrors","Unit":"Count"}`) {
		t.Errorf("DeliveryRecordErrors line: %s", b.String())
	}
}
