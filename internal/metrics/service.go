package metrics

import (
	"io"
	"time"
)

// Metrics of the send service (issue 12): one EMF line per service mail.
const (
	// ServiceMails counts service mails (Count) by outcome, with the
	// dimension sets [Outcome], [Template, Outcome] and [Service, Outcome].
	ServiceMails = "ServiceMails"
	// ServiceLatency is one service mail's time in the handler
	// (Milliseconds), with the same dimension sets.
	ServiceLatency = "ServiceLatency"
	// DimTemplate is the service template ("notice", "welcome"; "-" when
	// the request named none the registry knows).
	DimTemplate = "Template"
	// DimService is the calling service (the request's service tag, or the
	// caller's IAM name; "-" when not known).
	DimService = "Service"
)

// ServiceRecord is one service mail's figures. Template and Service must
// be bounded by the caller (they become dimensions).
type ServiceRecord struct {
	Outcome   string
	Reason    string
	Template  string
	Service   string
	Source    string // sqs, url or cli: a property, not a dimension
	LatencyMS float64
	Time      time.Time
}

// WriteService writes r as one EMF JSON line: ServiceMails 1 and
// ServiceLatency, by Outcome, Template and Service. Reason and Source
// travel as plain properties.
func WriteService(w io.Writer, r ServiceRecord) error {
	orDash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	line := map[string]any{
		"_aws": emfMeta{
			Timestamp: r.Time.UnixMilli(),
			CloudWatchMetrics: []emfDirective{{
				Namespace:  Namespace,
				Dimensions: [][]string{{DimOutcome}, {DimTemplate, DimOutcome}, {DimService, DimOutcome}},
				Metrics:    []emfMetric{{ServiceMails, "Count"}, {ServiceLatency, "Milliseconds"}},
			}},
		},
		DimOutcome:     orDash(r.Outcome),
		DimTemplate:    orDash(r.Template),
		DimService:     orDash(r.Service),
		ServiceMails:   1,
		ServiceLatency: r.LatencyMS,
	}
	if r.Reason != "" {
		line["Reason"] = r.Reason
	}
	if r.Source != "" {
		line["Source"] = r.Source
	}
	return writeLine(w, line)
}
