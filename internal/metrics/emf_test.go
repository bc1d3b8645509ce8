package metrics

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// TestEMFShape checks the record against the Embedded Metric Format rules
// CloudWatch applies: a _aws object with a millisecond Timestamp, one
// directive whose every dimension and metric names a top-level member, and
// numeric metric values.
func TestEMFShape(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	if err := Write(&buf, Record{Outcome: "sent", Trigger: "ForgotPassword", Pool: "us-east-1_n8gO6SbP6", LatencyMS: 12.5, Time: now}); err != nil {
		t.Fatal(err)
	}
	if bytes.Count(buf.Bytes(), []byte("\n")) != 1 {
		t.Fatal("not exactly one line")
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	aws := doc["_aws"].(map[string]any)
	if aws["Timestamp"].(float64) != float64(now.UnixMilli()) {
		t.Errorf("Timestamp = %v", aws["Timestamp"])
	}
	dir := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)
	if dir["Namespace"] != Namespace {
		t.Errorf("namespace %v", dir["Namespace"])
	}
	for _, set := range dir["Dimensions"].([]any) {
		for _, d := range set.([]any) {
			if _, ok := doc[d.(string)].(string); !ok {
				t.Errorf("dimension %v has no string member", d)
			}
		}
	}
	for _, m := range dir["Metrics"].([]any) {
		name := m.(map[string]any)["Name"].(string)
		if _, ok := doc[name].(float64); !ok {
			t.Errorf("metric %s has no numeric member", name)
		}
	}
	if doc["Latency"].(float64) != 12.5 || doc["Invocations"].(float64) != 1 || doc["Outcome"] != "sent" {
		t.Errorf("values: %v", doc)
	}
	// An empty dimension value would drop the record from its metric.
	buf.Reset()
	_ = Write(&buf, Record{Outcome: "refused", Reason: "event_invalid", Time: now})
	_ = json.Unmarshal(buf.Bytes(), &doc)
	if doc["Trigger"] != "-" || doc["Pool"] != "-" {
		t.Errorf("empty dimensions not filled: %v %v", doc["Trigger"], doc["Pool"])
	}
}
