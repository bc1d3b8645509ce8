package benchrun

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/Phenom-earth/phenom-mailer/internal/service"
)

// RIE's REPORT lines as aws-lambda-rie 1.x writes them (tab-separated, a
// trailing tab), a cold and a warm one.
const (
	reportCold = "REPORT RequestId: bec20872-de1e-465d-8adf-a4c97c598df8\tInit Duration: 0.07 ms\tDuration: 70.40 ms\tBilled Duration: 71 ms\tMemory Size: 3008 MB\tMax Memory Used: 3008 MB\t"
	reportWarm = "REPORT RequestId: 349553cc-bcdb-42db-9974-545f5bc1f9f2\tDuration: 5.23 ms\tBilled Duration: 6 ms\tMemory Size: 3008 MB\tMax Memory Used: 3008 MB\t"
)

func TestParseReport(t *testing.T) {
	r, err := ParseReport(reportCold)
	if err != nil {
		t.Fatal(err)
	}
	want := LambdaReport{RequestID: "bec20872-de1e-465d-8adf-a4c97c598df8", InitMS: 0.07, DurationMS: 70.40, BilledMS: 71,
		MemorySizeMB: 3008, MaxMemoryUsedMB: 3008, HasInit: true, HasBilled: true, HasMemory: true, HasMax: true}
	if r != want {
		t.Errorf("cold:\n got %+v\nwant %+v", r, want)
	}
	r, err = ParseReport(reportWarm)
	if err != nil {
		t.Fatal(err)
	}
	if r.HasInit || r.DurationMS != 5.23 || r.BilledMS != 6 || r.RequestID != "349553cc-bcdb-42db-9974-545f5bc1f9f2" {
		t.Errorf("warm: %+v", r)
	}
	// Lambda's own lines (CloudWatch Logs) have more fields; unknown ones
	// are ignored.
	r, err = ParseReport("REPORT RequestId: a1\tDuration: 1.50 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 31 MB\tXRAY TraceId: 1-5e1b\tSampled: true\t")
	if err != nil || r.MaxMemoryUsedMB != 31 || r.BilledMS != 2 {
		t.Errorf("with X-Ray fields: %+v, %v", r, err)
	}
}

func TestParseReportRefuses(t *testing.T) {
	for _, line := range []string{
		"",
		"START RequestId: x Version: $LATEST",
		"REPORT ",
		"REPORT RequestId: x",                              // no Duration
		"REPORT Duration: 5 ms",                            // no RequestId
		"REPORT RequestId: x\tDuration: five ms",           // not a number
		"REPORT RequestId: x\tDuration: 5",                 // no unit
		"REPORT RequestId: x\tDuration: 5 s",               // wrong unit
		"REPORT RequestId: x\tDuration: -5 ms",             // negative
		"REPORT RequestId: x\tDuration: NaN ms",            // not a number
		"REPORT RequestId: x\tDuration: 5 ms\tMemory Size", // a field without a value
		"REPORT RequestId: x\tDuration: 5 ms\tMax Memory Used: lots MB",
		"REPORT RequestId: \tDuration: 5 ms",
	} {
		if r, err := ParseReport(line); err == nil {
			t.Errorf("ParseReport(%q) = %+v, want an error", line, r)
		}
	}
}

func TestParseReports(t *testing.T) {
	out := "03 Dec 2026 07:06:38,666 [INFO] (rapid) INIT REPORT(durationMs: 57.745000)\nEND RequestId: a\n" + reportCold +
		"\n{\"level\":\"INFO\"}\nREPORT garbage\n" + reportWarm + "\n"
	rs := ParseReports(out)
	if len(rs) != 2 || rs[0].BilledMS != 71 || rs[1].BilledMS != 6 {
		t.Errorf("ParseReports = %+v", rs)
	}
}

func FuzzParseReport(f *testing.F) {
	for _, s := range []string{reportCold, reportWarm, "REPORT RequestId: x\tDuration: 5 ms", "REPORT \t\t:", "REPORT RequestId:\tDuration: 1e400 ms"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, err := ParseReport(line)
		if err != nil {
			return
		}
		if r.RequestID == "" || r.DurationMS < 0 || r.BilledMS < 0 || r.InitMS < 0 || r.MemorySizeMB < 0 || r.MaxMemoryUsedMB < 0 {
			t.Errorf("ParseReport(%q) accepted %+v", line, r)
		}
	})
}

func TestBuildSQSEvent(t *testing.T) {
	var msgs []QueueMessage
	for i := 0; i < 10; i++ {
		body, err := BenchRequest(i, "bench")
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, QueueMessage{ID: "m" + string(rune('0'+i)), Body: body})
	}
	sent := time.UnixMilli(1796281598667)
	b, err := BuildSQSEvent(benchQueueARN, msgs, sent)
	if err != nil {
		t.Fatal(err)
	}
	var ev events.SQSEvent
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.Records) != 10 {
		t.Fatalf("%d records", len(ev.Records))
	}
	for i, rec := range ev.Records {
		sum := md5.Sum([]byte(rec.Body))
		if rec.MessageId != msgs[i].ID || rec.Body != string(msgs[i].Body) || rec.Md5OfBody != hex.EncodeToString(sum[:]) ||
			rec.EventSource != "aws:sqs" || rec.EventSourceARN != benchQueueARN || rec.AWSRegion != "us-east-1" ||
			rec.Attributes["ApproximateReceiveCount"] != "1" || rec.Attributes["SentTimestamp"] != "1796281598667" {
			t.Errorf("record %d: %+v", i, rec)
		}
		// Each body is a request the service accepts.
		req, err := service.Decode([]byte(rec.Body))
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if err := service.Validate(req); err != nil {
			t.Errorf("record %d (%s): %v", i, req.Template, err)
		}
		if want := map[bool]string{true: "notice", false: "welcome"}[i%2 == 0]; req.Template != want {
			t.Errorf("record %d: template %s, want %s", i, req.Template, want)
		}
	}
	// The raw JSON carries the field names Lambda uses.
	for _, k := range []string{`"Records"`, `"messageId"`, `"receiptHandle"`, `"md5OfBody"`, `"eventSourceARN"`, `"awsRegion"`, `"messageAttributes"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("event without %s", k)
		}
	}
}

func TestBuildSQSEventRefuses(t *testing.T) {
	one := []QueueMessage{{ID: "a", Body: []byte("{}")}}
	eleven := make([]QueueMessage, 11)
	for i := range eleven {
		eleven[i] = QueueMessage{ID: string(rune('a' + i)), Body: []byte("{}")}
	}
	for name, c := range map[string]struct {
		arn  string
		msgs []QueueMessage
	}{
		"empty":       {benchQueueARN, nil},
		"eleven":      {benchQueueARN, eleven},
		"no id":       {benchQueueARN, []QueueMessage{{Body: []byte("{}")}}},
		"id twice":    {benchQueueARN, []QueueMessage{{ID: "a"}, {ID: "a"}}},
		"not an ARN":  {"phenom-mailer-send", one},
		"not SQS ARN": {"arn:aws:sns:us-east-1:111122223333:topic", one},
	} {
		if _, err := BuildSQSEvent(c.arn, c.msgs, time.Now()); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestPaceRate(t *testing.T) {
	var a []time.Duration
	for i := 0; i < 101; i++ {
		a = append(a, time.Duration(i)*50*time.Millisecond) // 20 per second
	}
	if r := PaceRate(a); r < 19.999 || r > 20.001 {
		t.Errorf("PaceRate = %v, want 20", r)
	}
	if n := MaxInWindow(a, time.Second); n != 20 {
		t.Errorf("MaxInWindow = %d, want 20", n)
	}
	// Bunched at the start of each second, 20 a second for 3 s and the
	// last burst without its wait: still 20, not 55/2.3.
	var b []time.Duration
	for sec := 0; sec < 4; sec++ {
		for i := 0; i < 20 && !(sec == 3 && i >= 15); i++ {
			b = append(b, time.Duration(sec)*time.Second+time.Duration(i)*15*time.Millisecond)
		}
	}
	if r := PaceRate(b); r != 20 {
		t.Errorf("PaceRate of bunched sends = %v, want 20", r)
	}
	if PaceRate(a[:1]) != 0 || PaceRate([]time.Duration{0, 0}) != 0 {
		t.Error("a rate from fewer than two distinct arrivals")
	}
}

func TestThroughput(t *testing.T) {
	bs := []sqsBatch{{RoundTripMS: 100}, {RoundTripMS: 300}}
	if v := Throughput(bs); v != 50 { // 20 mails in 0.4 s
		t.Errorf("Throughput = %v, want 50", v)
	}
	if Throughput(nil) != 0 {
		t.Error("throughput of nothing")
	}
}

func TestReplaceSection(t *testing.T) {
	doc := "# Benchmarks\n\n## Cold start\n\nA.\n\n" + SQSHeading + "\n\nold figures\n\n## The Node peer\n\nB.\n"
	got := ReplaceSection(doc, SQSHeading, SQSHeading+"\n\nnew figures\n\n", SQSBefore)
	want := "# Benchmarks\n\n## Cold start\n\nA.\n\n" + SQSHeading + "\n\nnew figures\n\n## The Node peer\n\nB.\n"
	if got != want {
		t.Errorf("replace:\n%s\nwant:\n%s", got, want)
	}
	// No section yet: before the first heading of SQSBefore found.
	doc = "# Benchmarks\n\n## Cold start\n\nA.\n\n## Size\n\nS.\n\n## Reproduce\n\nR.\n"
	got = ReplaceSection(doc, SQSHeading, SQSHeading+"\n\nnew\n\n", SQSBefore)
	if want := "# Benchmarks\n\n## Cold start\n\nA.\n\n" + SQSHeading + "\n\nnew\n\n## Size\n\nS.\n\n## Reproduce\n\nR.\n"; got != want {
		t.Errorf("insert:\n%s\nwant:\n%s", got, want)
	}
	// The last section, and a heading that only starts a longer line.
	doc = "# B\n\n" + SQSHeading + " (old)\n\nx\n\n" + SQSHeading + "\n\nold\n"
	got = ReplaceSection(doc, SQSHeading, SQSHeading+"\n\nnew\n", nil)
	if want := "# B\n\n" + SQSHeading + " (old)\n\nx\n\n" + SQSHeading + "\n\nnew\n"; got != want {
		t.Errorf("last:\n%q\nwant:\n%q", got, want)
	}
	if got := ReplaceSection("", SQSHeading, "S\n", SQSBefore); got != "S\n" {
		t.Errorf("empty doc: %q", got)
	}
	if got := ReplaceSection("# B\n", SQSHeading, "S\n", SQSBefore); got != "# B\n\nS\n" {
		t.Errorf("append: %q", got)
	}
}

func TestOperation(t *testing.T) {
	for _, c := range []struct{ method, path, target, want string }{
		{"POST", "/v2/email/outbound-emails", "", "SendEmail"},
		{"GET", "/v2/email/account", "", "GetAccount"},
		{"GET", "/v2/email/identities/thephenom.app", "", "GetEmailIdentity"},
		{"GET", "/v2/email/suppression/addresses/a%40b.c", "", "GetSuppressedDestination"},
		{"POST", "/", "DynamoDB_20120810.PutItem", "PutItem"},
		{"POST", "/", "TrentService.Decrypt", "Decrypt"},
		{"DELETE", "/v2/email/x/y/z", "", "DELETE /v2/email/x"},
	} {
		r, _ := http.NewRequest(c.method, "http://127.0.0.1"+c.path, nil)
		if c.target != "" {
			r.Header.Set("X-Amz-Target", c.target)
		}
		if got := operation(r); got != c.want {
			t.Errorf("%s %s %s: %q, want %q", c.method, c.path, c.target, got, c.want)
		}
	}
}

func TestSQSChecksMissing(t *testing.T) {
	r := &Report{}
	for _, c := range r.sqsChecks(DefaultBudget) {
		if !c.Missing || c.OK() {
			t.Errorf("%s: not measured, yet %+v", c.Figure, c)
		}
	}
}

func TestMailDurations(t *testing.T) {
	out := `START RequestId: x
{"level":"INFO","message":"service mail sent","outcome":"sent","duration_ms":61.5}
{"level":"ERROR","message":"service mail failed","duration_ms":3}
{"level":"INFO","message":"mailer ready","duration_ms":9}
{"level":"INFO","message":"service mail sent"}
{"message":"service mail sent","duration_ms":"x"}
{not json "service mail sent"
REPORT RequestId: x	Duration: 5 ms
`
	if got := MailDurations(out); len(got) != 2 || got[0] != 61.5 || got[1] != 3 {
		t.Errorf("MailDurations = %v, want [61.5 3]", got)
	}
}

func TestBatchGaps(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	// two batches of 3: 50 ms apart within, 130 ms between
	within, between := BatchGaps(ms(0, 50, 100, 230, 280, 330), 3)
	if len(within) != 4 || within.Median() != 50 || len(between) != 1 || between[0] != 130 {
		t.Errorf("within %v, between %v", within, between)
	}
}

func TestRoutes(t *testing.T) {
	rr := roundRobin(2)
	if a, b, c := rr(nil), rr(nil), rr(nil); a != 0 || b != 1 || c != 0 {
		t.Errorf("round robin: %d %d %d", a, b, c)
	}
	route := byTable(idempotencyTable, deliveryTable)
	for body, want := range map[string]int{
		`{"TableName":"` + deliveryTable + `","Item":{}}`:   1,
		`{"TableName":"` + idempotencyTable + `","Key":{}}`: 0,
		`{"TableName":"other"}`:                             0,
		`not json`:                                          0,
	} {
		r, _ := http.NewRequest("POST", "http://127.0.0.1/", strings.NewReader(body))
		if got := route(r); got != want {
			t.Errorf("%s: backend %d, want %d", body, got, want)
		}
		// the body is still there for the backend
		if b, _ := io.ReadAll(r.Body); string(b) != body {
			t.Errorf("body after routing: %q", b)
		}
	}
}
