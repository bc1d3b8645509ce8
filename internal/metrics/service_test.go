package metrics

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func TestWriteService(t *testing.T) {
	var b bytes.Buffer
	at := time.UnixMilli(1764000000000)
	if err := WriteService(&b, ServiceRecord{Outcome: "sent", Template: "notice", Service: "hasura", Source: "sqs", LatencyMS: 12.5, Time: at}); err != nil {
		t.Fatal(err)
	}
	var line struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		Outcome, Template, Service, Source string
		Reason                             *string
		ServiceMails                       int
		ServiceLatency                     float64
	}
	if err := json.Unmarshal(b.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	d := line.AWS.CloudWatchMetrics[0]
	if line.AWS.Timestamp != at.UnixMilli() || d.Namespace != Namespace || len(d.Dimensions) != 3 ||
		d.Dimensions[1][0] != DimTemplate || d.Dimensions[2][0] != DimService ||
		d.Metrics[0].Name != ServiceMails || d.Metrics[1].Name != ServiceLatency || d.Metrics[1].Unit != "Milliseconds" {
		t.Errorf("directive: %s", b.String())
	}
	if line.Outcome != "sent" || line.Template != "notice" || line.Service != "hasura" || line.Source != "sqs" ||
		line.ServiceMails != 1 || line.ServiceLatency != 12.5 || line.Reason != nil {
		t.Errorf("values: %s", b.String())
	}

	b.Reset()
	_ = WriteService(&b, ServiceRecord{Outcome: "refused", Reason: "request_invalid", Time: at})
	if err := json.Unmarshal(b.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if line.Template != "-" || line.Service != "-" || line.Reason == nil || *line.Reason != "request_invalid" {
		t.Errorf("empty dimensions or reason: %s", b.String())
	}
}
