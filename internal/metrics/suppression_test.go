package metrics

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// TestSuppressionCheckErrors: a failed look-up adds a directive with one
// empty dimension set (the metric has no dimensions) and the count; an
// invocation without one writes neither.
func TestSuppressionCheckErrors(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	if err := Write(&buf, Record{Outcome: "sent", Trigger: "ForgotPassword", Pool: "p", Time: now, SuppressionCheckFailed: true}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		AWS struct {
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		SuppressionCheckErrors *float64
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	dirs := doc.AWS.CloudWatchMetrics
	if len(dirs) != 2 {
		t.Fatalf("%d directives, want 2", len(dirs))
	}
	d := dirs[1]
	if d.Namespace != Namespace || len(d.Dimensions) != 1 || len(d.Dimensions[0]) != 0 ||
		len(d.Metrics) != 1 || d.Metrics[0].Name != SuppressionCheckErrors || d.Metrics[0].Unit != "Count" {
		t.Errorf("directive = %+v", d)
	}
	if doc.SuppressionCheckErrors == nil || *doc.SuppressionCheckErrors != 1 {
		t.Errorf("SuppressionCheckErrors = %v", doc.SuppressionCheckErrors)
	}

	buf.Reset()
	_ = Write(&buf, Record{Outcome: "suppressed", Reason: "suppressed_bounce", Time: now})
	doc.SuppressionCheckErrors = nil
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.AWS.CloudWatchMetrics) != 1 || doc.SuppressionCheckErrors != nil {
		t.Errorf("without a failed look-up: %s", buf.Bytes())
	}
}
