// Package metrics writes one CloudWatch Embedded Metric Format record per
// invocation, so that dashboards and alarms need no agent: CloudWatch Logs
// turns the JSON line into metrics in namespace Phenom/Mailer.
//
// Metrics: Invocations (Count) and Latency (Milliseconds), with the
// dimension sets [Outcome], [Trigger, Outcome] and [Pool, Outcome]. Reason
// travels as a plain property (searchable in Logs Insights, not a
// dimension, to keep metric cardinality small).
//
// SuppressionCheckErrors (Count, no dimensions) counts the invocations whose
// suppression look-up failed and whose mail went out unchecked.
//
// ServiceMails (Count) and ServiceLatency (Milliseconds), with the
// dimension sets [Outcome], [Template, Outcome] and [Service, Outcome], are
// the send service's, one record per service mail (service.go).
//
// It must not know the handler's internals, AWS clients or the environment:
// it formats the counts it is given onto the writer it is given.
package metrics

import (
	"encoding/json"
	"io"
	"time"
)

// Namespace of every metric.
const Namespace = "Phenom/Mailer"

// The invocation record's metric and its outcome dimension (alarms watch
// Invocations by Outcome).
const (
	Invocations = "Invocations"
	DimOutcome  = "Outcome"
)

// SuppressionCheckErrors is the metric of failed suppression look-ups.
const SuppressionCheckErrors = "SuppressionCheckErrors"

// Record is one invocation's figures.
type Record struct {
	Outcome   string
	Reason    string
	Trigger   string
	Pool      string
	LatencyMS float64
	Time      time.Time
	// SuppressionCheckFailed: the suppression look-up failed (the mail went
	// out unchecked).
	SuppressionCheckFailed bool
}

type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

type emfMeta struct {
	Timestamp         int64          `json:"Timestamp"`
	CloudWatchMetrics []emfDirective `json:"CloudWatchMetrics"`
}

type emfLine struct {
	AWS         emfMeta `json:"_aws"`
	Outcome     string  `json:"Outcome"`
	Trigger     string  `json:"Trigger"`
	Pool        string  `json:"Pool"`
	Reason      string  `json:"Reason,omitempty"`
	Invocations int     `json:"Invocations"`
	Latency     float64 `json:"Latency"`
	// Written only with its directive (no dimensions).
	SuppressionCheckErrors int `json:"SuppressionCheckErrors,omitempty"`
}

// Write writes r as one EMF JSON line.
func Write(w io.Writer, r Record) error {
	orDash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	line := emfLine{
		AWS: emfMeta{
			Timestamp: r.Time.UnixMilli(),
			CloudWatchMetrics: []emfDirective{{
				Namespace:  Namespace,
				Dimensions: [][]string{{DimOutcome}, {"Trigger", DimOutcome}, {"Pool", DimOutcome}},
				Metrics:    []emfMetric{{Invocations, "Count"}, {"Latency", "Milliseconds"}},
			}},
		},
		Outcome:     orDash(r.Outcome),
		Trigger:     orDash(r.Trigger),
		Pool:        orDash(r.Pool),
		Reason:      r.Reason,
		Invocations: 1,
		Latency:     r.LatencyMS,
	}
	if r.SuppressionCheckFailed {
		line.SuppressionCheckErrors = 1
		line.AWS.CloudWatchMetrics = append(line.AWS.CloudWatchMetrics, emfDirective{
			Namespace:  Namespace,
			Dimensions: [][]string{{}},
			Metrics:    []emfMetric{{SuppressionCheckErrors, "Count"}},
		})
	}
	b, err := json.Marshal(line)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
