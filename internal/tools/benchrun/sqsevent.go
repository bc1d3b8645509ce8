package benchrun

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/Phenom-earth/phenom-mailer/templates"
)

// QueueMessage is one message of a send-queue batch: its SQS message id and
// its body (a send request's JSON).
type QueueMessage struct {
	ID   string
	Body []byte
}

// BuildSQSEvent is the event Lambda's SQS event source mapping hands the
// send function for msgs: one record per message in order, with the
// attributes a first receive carries (ApproximateReceiveCount 1), the
// body's MD5 and the queue's ARN, as aws-lambda-go's events.SQSEvent
// marshals it. It refuses an empty batch, more than 10 messages (the
// mapping's batch size), a message without an id and an id used twice.
func BuildSQSEvent(queueARN string, msgs []QueueMessage, sent time.Time) ([]byte, error) {
	if len(msgs) == 0 || len(msgs) > 10 {
		return nil, fmt.Errorf("an SQS batch holds 1 to 10 messages, not %d", len(msgs))
	}
	region := ""
	if f := strings.Split(queueARN, ":"); len(f) == 6 && f[0] == "arn" && f[2] == "sqs" {
		region = f[3]
	} else {
		return nil, fmt.Errorf("not an SQS queue ARN: %q", queueARN)
	}
	ms := strconv.FormatInt(sent.UnixMilli(), 10)
	ev := events.SQSEvent{Records: make([]events.SQSMessage, 0, len(msgs))}
	seen := map[string]bool{}
	for _, m := range msgs {
		if m.ID == "" {
			return nil, errors.New("an SQS message without an id")
		}
		if seen[m.ID] {
			return nil, fmt.Errorf("message id %q twice in one batch", m.ID)
		}
		seen[m.ID] = true
		sum := md5.Sum(m.Body)
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId:     m.ID,
			ReceiptHandle: "bench-receipt-" + m.ID,
			Body:          string(m.Body),
			Md5OfBody:     hex.EncodeToString(sum[:]),
			Attributes: map[string]string{
				"ApproximateReceiveCount":          "1",
				"SentTimestamp":                    ms,
				"SenderId":                         "AIDAIENQZJOLO23YVJ4VO",
				"ApproximateFirstReceiveTimestamp": ms,
			},
			MessageAttributes: map[string]events.SQSMessageAttribute{},
			EventSource:       "aws:sqs",
			EventSourceARN:    queueARN,
			AWSRegion:         region,
		})
	}
	return json.Marshal(ev)
}

// BenchRequest is the i-th send request of the SQS runs: the notice
// template (every field of its schema, from the registry's examples) for
// even i, welcome for odd i, to a distinct address, with the given
// service tag. It has no idempotency key: the SQS message id is the key.
func BenchRequest(i int, service string) ([]byte, error) {
	name := "notice"
	if i%2 == 1 {
		name = "welcome"
	}
	t, ok := templates.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("no %s template in the registry", name)
	}
	return json.Marshal(map[string]any{
		"template": name,
		"to":       fmt.Sprintf("bench-%d@example.com", i),
		"data":     exampleData(t.Schema),
		"tags":     map[string]string{"service": service},
	})
}

// exampleData fills every field of a schema with its example.
func exampleData(fields []templates.Field) map[string]any {
	d := map[string]any{}
	for _, f := range fields {
		if len(f.Fields) > 0 {
			d[f.Name] = exampleData(f.Fields)
			continue
		}
		d[f.Name] = f.Example
	}
	return d
}

// LambdaReport is one REPORT line of aws-lambda-rie (as Lambda writes it
// to CloudWatch Logs):
//
//	REPORT RequestId: ID	Init Duration: 0.07 ms	Duration: 70.40 ms	Billed Duration: 71 ms	Memory Size: 3008 MB	Max Memory Used: 3008 MB
//
// Init Duration appears on a cold start only. RIE writes the configured
// Memory Size as Max Memory Used: it measures no memory.
type LambdaReport struct {
	RequestID                             string
	InitMS, DurationMS, BilledMS          float64
	MemorySizeMB, MaxMemoryUsedMB         int
	HasInit, HasBilled, HasMemory, HasMax bool
}

// ParseReport reads one REPORT line. Fields are separated by tabs;
// unknown fields are ignored; RequestId and Duration are required.
func ParseReport(line string) (LambdaReport, error) {
	var r LambdaReport
	line = strings.TrimSpace(line)
	rest, ok := strings.CutPrefix(line, "REPORT ")
	if !ok {
		return r, errors.New("not a REPORT line")
	}
	hasDuration := false
	for _, f := range splitReport(rest) {
		name, val, ok := strings.Cut(f, ":")
		if !ok {
			return r, fmt.Errorf("REPORT field %q has no value", clip(f, 40))
		}
		val = strings.TrimSpace(val)
		num := func(unit string) (float64, error) {
			v, ok := strings.CutSuffix(val, " "+unit)
			if !ok {
				return 0, fmt.Errorf("REPORT %s %q: want a number of %s", name, clip(val, 40), unit)
			}
			x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || x < 0 || x != x || x > 1e12 {
				return 0, fmt.Errorf("REPORT %s %q: want a number of %s", name, clip(val, 40), unit)
			}
			return x, nil
		}
		var err error
		var x float64
		switch name {
		case "RequestId":
			if val == "" || strings.ContainsAny(val, " \t") {
				return r, fmt.Errorf("REPORT RequestId %q", clip(val, 40))
			}
			r.RequestID = val
		case "Init Duration":
			r.InitMS, err = num("ms")
			r.HasInit = true
		case "Duration":
			r.DurationMS, err = num("ms")
			hasDuration = true
		case "Billed Duration":
			r.BilledMS, err = num("ms")
			r.HasBilled = true
		case "Memory Size":
			x, err = num("MB")
			r.MemorySizeMB, r.HasMemory = int(x), true
		case "Max Memory Used":
			x, err = num("MB")
			r.MaxMemoryUsedMB, r.HasMax = int(x), true
		}
		if err != nil {
			return r, err
		}
	}
	if r.RequestID == "" || !hasDuration {
		return r, errors.New("REPORT line without RequestId or Duration")
	}
	return r, nil
}

// splitReport splits a REPORT line's fields, which Lambda and RIE
// separate with tabs.
func splitReport(s string) []string {
	var out []string
	for _, f := range strings.Split(s, "\t") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// ParseReports reads every REPORT line of RIE's output, in order; lines
// that do not parse are skipped.
func ParseReports(out string) []LambdaReport {
	var rs []LambdaReport
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "REPORT ") {
			continue
		}
		if r, err := ParseReport(l); err == nil {
			rs = append(rs, r)
		}
	}
	return rs
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
