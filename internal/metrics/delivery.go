package metrics

import (
	"encoding/json"
	"io"
	"sort"
	"time"
)

// Metric and dimension names of the delivery record and the SES events
// function (issue 11). Deploy tests compare the alarms with these.
const (
	// DeliveryRecordErrors counts delivery-record writes that failed
	// (Count, no dimensions).
	DeliveryRecordErrors = "DeliveryRecordErrors"
	// SESEvents counts SES events recorded by the events function (Count,
	// dimension set [EventType]).
	SESEvents = "SESEvents"
	// SESEventsFailed counts SQS records returned as batch item failures
	// (Count, no dimensions).
	SESEventsFailed = "SESEventsFailed"
	// DimEventType is SES's eventType ("Delivery", "Bounce", ...).
	DimEventType = "EventType"
)

// WriteCount writes one EMF line counting n of the metric name, with no
// dimensions. Nothing is written when n is 0.
func WriteCount(w io.Writer, name string, n int, at time.Time) error {
	if n == 0 {
		return nil
	}
	line := map[string]any{
		"_aws": emfMeta{
			Timestamp: at.UnixMilli(),
			CloudWatchMetrics: []emfDirective{{
				Namespace:  Namespace,
				Dimensions: [][]string{{}},
				Metrics:    []emfMetric{{name, "Count"}},
			}},
		},
		name: n,
	}
	return writeLine(w, line)
}

// WriteSESEvents writes one EMF line per event type with the number of
// events of that type recorded (SESEvents, dimension EventType), and the
// number of failed records (SESEventsFailed) when there are any.
func WriteSESEvents(w io.Writer, recorded map[string]int, failed int, at time.Time) error {
	types := make([]string, 0, len(recorded))
	for t := range recorded {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		line := map[string]any{
			"_aws": emfMeta{
				Timestamp: at.UnixMilli(),
				CloudWatchMetrics: []emfDirective{{
					Namespace:  Namespace,
					Dimensions: [][]string{{DimEventType}},
					Metrics:    []emfMetric{{SESEvents, "Count"}},
				}},
			},
			DimEventType: t,
			SESEvents:    recorded[t],
		}
		if err := writeLine(w, line); err != nil {
			return err
		}
	}
	return WriteCount(w, SESEventsFailed, failed, at)
}

func writeLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
