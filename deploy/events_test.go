package deploy

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/Phenom-earth/phenom-mailer/internal/cognito"
	"github.com/Phenom-earth/phenom-mailer/internal/metrics"
)

// Issue 11's Terraform: the SES events pipeline, the events function, the
// delivery table, the on-failure destination and the alarms, read from the
// HCL. deploy/tofu_test.go applies the same module with a real engine.

func TestTerraformEventsPipeline(t *testing.T) {
	m := loadModule(t, moduleDir)
	d := m.declarations(t)

	// The configuration set publishes all seven delivery event types to the
	// events topic.
	dest := m.one(t, "resource", "aws_sesv2_configuration_set_event_destination", "ses_events")
	if !hasRef(attr(t, dest, "configuration_set_name"), "aws_sesv2_configuration_set.mailer") {
		t.Errorf("the event destination is not on the mailer's configuration set")
	}
	eds := nested(dest, "event_destination")
	if len(eds) != 1 {
		t.Fatalf("want one event_destination block")
	}
	ed := eds[0]
	if m.text(attr(t, ed, "enabled")) != "true" {
		t.Errorf("the event destination is not enabled")
	}
	types := strs(d.locals["ses_event_types"])
	if !hasRef(attr(t, ed, "matching_event_types"), "local.ses_event_types") {
		types = strs(attr(t, ed, "matching_event_types"))
	}
	sort.Strings(types)
	want := []string{"BOUNCE", "COMPLAINT", "DELIVERY", "DELIVERY_DELAY", "REJECT", "RENDERING_FAILURE", "SEND"}
	if !slices.Equal(types, want) {
		t.Errorf("matching_event_types %q, want exactly %q", types, want)
	}
	sns := nested(ed, "sns_destination")
	if len(sns) != 1 || !hasRef(attr(t, sns[0], "topic_arn"), "aws_sns_topic.ses_events") {
		t.Errorf("the event destination does not publish to aws_sns_topic.ses_events")
	}
	for _, other := range []string{"event_bridge_destination", "cloud_watch_destination", "kinesis_firehose_destination", "pinpoint_destination"} {
		if len(nested(ed, other)) > 0 {
			t.Errorf("the event destination also has a %s (SES takes exactly one)", other)
		}
	}
	if !strings.Contains(string(m.src[filepath.Join(moduleDir, "events.tf")]), "Why SNS and not EventBridge") {
		t.Errorf("events.tf no longer says why SNS rather than EventBridge")
	}

	// SES may publish to the topic for this configuration set and account only.
	tp := m.one(t, "resource", "aws_sns_topic_policy", "ses_events")
	if !hasRef(attr(t, tp, "arn"), "aws_sns_topic.ses_events") || !hasRef(attr(t, tp, "policy"), "data.aws_iam_policy_document.ses_events_topic") {
		t.Fatalf("the events topic's policy is not data.aws_iam_policy_document.ses_events_topic")
	}
	stmts := policyStatements(t, m.one(t, "data", "aws_iam_policy_document", "ses_events_topic"))
	if len(stmts) != 1 || !slices.Equal(stmts[0].actions, []string{"sns:Publish"}) || !slices.Equal(stmts[0].principals["Service"], []string{"ses.amazonaws.com"}) {
		t.Fatalf("want one statement: ses.amazonaws.com may sns:Publish")
	}
	if v := stmts[0].condition(t, "aws:SourceAccount").values; !hasRef(v, "local.account_id") {
		t.Errorf("aws:SourceAccount = %s", m.text(v))
	}
	if v := stmts[0].condition(t, "aws:SourceArn").values; !hasRef(v, "aws_sesv2_configuration_set.mailer.arn") {
		t.Errorf("aws:SourceArn = %s, want the configuration set's ARN", m.text(v))
	}
	if !hasRef(attr(t, dest, "depends_on"), "aws_sns_topic_policy.ses_events") {
		t.Errorf("the event destination does not wait for the topic policy")
	}

	// Topic -> queue, SNS's envelope kept (raw delivery off: the events
	// function decodes the envelope).
	sub := m.one(t, "resource", "aws_sns_topic_subscription", "ses_events")
	if str(sub, "protocol") != "sqs" || !hasRef(attr(t, sub, "endpoint"), "aws_sqs_queue.ses_events.arn") || !hasRef(attr(t, sub, "topic_arn"), "aws_sns_topic.ses_events") {
		t.Errorf("the events topic is not subscribed by aws_sqs_queue.ses_events")
	}
	if raw, ok := sub.Body.Attributes["raw_message_delivery"]; ok && m.text(raw.Expr) != "false" {
		t.Errorf("raw_message_delivery = %s, want false (the contract: the body is SNS's envelope)", m.text(raw.Expr))
	}
	qp := policyStatements(t, m.one(t, "data", "aws_iam_policy_document", "ses_events_queue"))
	if len(qp) != 1 || !slices.Equal(qp[0].actions, []string{"sqs:SendMessage"}) || !slices.Equal(qp[0].principals["Service"], []string{"sns.amazonaws.com"}) {
		t.Fatalf("the queue policy should let sns.amazonaws.com SendMessage, nothing else")
	}
	if v := qp[0].condition(t, "aws:SourceArn").values; !hasRef(v, "aws_sns_topic.ses_events.arn") {
		t.Errorf("queue policy aws:SourceArn = %s, want the events topic", m.text(v))
	}
	if !hasRef(attr(t, m.one(t, "resource", "aws_sqs_queue_policy", "ses_events"), "policy"), "data.aws_iam_policy_document.ses_events_queue") {
		t.Errorf("the queue's policy is not data.aws_iam_policy_document.ses_events_queue")
	}

	// The DLQ: 5 receives, then the dead-letter queue.
	q := m.one(t, "resource", "aws_sqs_queue", "ses_events")
	redrive := objectKeys(t, attr(t, q, "redrive_policy").(*hclsyntax.FunctionCallExpr).Args[0])
	if !hasRef(redrive["deadLetterTargetArn"], "aws_sqs_queue.ses_events_dlq.arn") {
		t.Errorf("redrive target %s, want the DLQ", m.text(redrive["deadLetterTargetArn"]))
	}
	if got := m.text(redrive["maxReceiveCount"]); got != "5" {
		t.Errorf("maxReceiveCount %s, want 5", got)
	}
	// Encrypted at rest: the queues with SQS's keys, the topics with a key
	// SES and CloudWatch may use.
	for _, name := range []string{"ses_events", "ses_events_dlq", "failed_events"} {
		if q := m.one(t, "resource", "aws_sqs_queue", name); m.text(attr(t, q, "sqs_managed_sse_enabled")) != "true" {
			t.Errorf("queue %s is not encrypted (sqs_managed_sse_enabled)", name)
		}
	}
	for _, name := range []string{"ses_events", "alarms"} {
		if !hasRef(attr(t, m.one(t, "resource", "aws_sns_topic", name), "kms_master_key_id"), "aws_kms_key.topics") {
			t.Errorf("topic %s is not encrypted with aws_kms_key.topics", name)
		}
	}
	var keyServices []string
	for _, s := range policyStatements(t, m.one(t, "data", "aws_iam_policy_document", "topics_key")) {
		keyServices = append(keyServices, s.principals["Service"]...)
	}
	sort.Strings(keyServices)
	if !slices.Equal(keyServices, []string{"cloudwatch.amazonaws.com", "ses.amazonaws.com"}) {
		t.Errorf("the topics' key lets services %q use it, want SES (events) and CloudWatch (alarms)", keyServices)
	}

	// The event source mapping: batches of 10, partial batch failures,
	// bounded concurrency.
	esm := m.one(t, "resource", "aws_lambda_event_source_mapping", "ses_events")
	if !hasRef(attr(t, esm, "event_source_arn"), "aws_sqs_queue.ses_events.arn") || !hasRef(attr(t, esm, "function_name"), "aws_lambda_function.events") {
		t.Errorf("the event source mapping is not events queue -> events function")
	}
	if got := m.text(attr(t, esm, "batch_size")); got != "10" {
		t.Errorf("batch_size %s, want 10", got)
	}
	if got := strs(attr(t, esm, "function_response_types")); !slices.Equal(got, []string{"ReportBatchItemFailures"}) {
		t.Errorf("function_response_types %q, want [ReportBatchItemFailures]", got)
	}
	if sc := nested(esm, "scaling_config"); len(sc) != 1 || !hasRef(attr(t, sc[0], "maximum_concurrency"), "var.events_maximum_concurrency") {
		t.Errorf("the event source mapping has no scaling_config.maximum_concurrency")
	}
	// Lambda's guidance: the visibility timeout is at least six times the
	// function's timeout.
	if vt := m.text(attr(t, q, "visibility_timeout_seconds")); vt != "6 * var.events_timeout" {
		t.Errorf("visibility_timeout_seconds = %s, want 6 * var.events_timeout", vt)
	}
}

func TestTerraformEventsFunction(t *testing.T) {
	m := loadModule(t, moduleDir)
	fn := m.one(t, "resource", "aws_lambda_function", "events")
	mailer := m.one(t, "resource", "aws_lambda_function", "mailer")
	if name := m.text(m.declarations(t).locals["events_function_name"]); name != `"${local.function_name}-events"` {
		t.Errorf("events function name %s, want <name>-<environment>-events", name)
	}
	// The same zip, the same runtime: one bootstrap serves both events.
	for _, a := range []string{"filename", "source_code_hash", "runtime", "architectures", "handler"} {
		if m.text(attr(t, fn, a)) != m.text(attr(t, mailer, a)) {
			t.Errorf("events function %s = %s, the sender's is %s", a, m.text(attr(t, fn, a)), m.text(attr(t, mailer, a)))
		}
	}
	if !hasRef(attr(t, fn, "role"), "aws_iam_role.events") {
		t.Errorf("the events function does not have its own role")
	}
	env := envVars(t, m.declarations(t), attr(t, nested(fn, "environment")[0], "variables"))
	read := mailerEnvNames(t)
	var names []string
	for name := range env {
		names = append(names, name)
		if !read[name] {
			t.Errorf("the events function sets %s, which cmd/mailer/config.go does not read", name)
		}
	}
	sort.Strings(names)
	if !slices.Equal(names, []string{"MAILER_DELIVERY_TABLE", "MAILER_DELIVERY_TTL"}) {
		t.Errorf("the events function's environment is %q, want MAILER_DELIVERY_TABLE and MAILER_DELIVERY_TTL only (no keys, no pools)", names)
	}
	if !hasRef(env["MAILER_DELIVERY_TABLE"], "aws_dynamodb_table.deliveries") {
		t.Errorf("MAILER_DELIVERY_TABLE = %s", m.text(env["MAILER_DELIVERY_TABLE"]))
	}
	lg := m.one(t, "resource", "aws_cloudwatch_log_group", "events")
	if m.text(attr(t, lg, "name")) != `"/aws/lambda/${local.events_function_name}"` {
		t.Errorf("the events log group is %s", m.text(attr(t, lg, "name")))
	}
	if !hasRef(attr(t, fn, "depends_on"), "aws_cloudwatch_log_group.events") {
		t.Errorf("the events function does not depend on its log group")
	}

	// Its role: read the events queue, write delivery records, its logs.
	want := map[string][]string{
		"sqs:ReceiveMessage":     {"aws_sqs_queue.ses_events.arn"},
		"sqs:DeleteMessage":      {"aws_sqs_queue.ses_events.arn"},
		"sqs:GetQueueAttributes": {"aws_sqs_queue.ses_events.arn"},
		"dynamodb:PutItem":       {"aws_dynamodb_table.deliveries.arn"},
		"logs:CreateLogStream":   {"aws_cloudwatch_log_group.events.arn"},
		"logs:PutLogEvents":      {"aws_cloudwatch_log_group.events.arn"},
	}
	got := map[string][]string{}
	for _, s := range policyStatements(t, m.one(t, "data", "aws_iam_policy_document", "events")) {
		if s.effect != "Allow" || s.resources == nil || strings.Contains(m.text(s.resources), `"*"`) {
			t.Errorf("events statement %q: %s on %v", s.sid, s.effect, s.resources)
			continue
		}
		for _, a := range s.actions {
			got[a] = append(got[a], refs(s.resources)...)
		}
	}
	for a, rs := range want {
		if g := slices.Compact(slices.Sorted(slices.Values(got[a]))); !slices.Equal(g, rs) {
			t.Errorf("events role: %s on %q, want %q", a, g, rs)
		}
	}
	for a := range got {
		if _, ok := want[a]; !ok {
			t.Errorf("the events role is allowed %s, which it does not need", a)
		}
	}
	rp := m.one(t, "resource", "aws_iam_role_policy", "events")
	if !hasRef(attr(t, rp, "role"), "aws_iam_role.events") || !hasRef(attr(t, rp, "policy"), "data.aws_iam_policy_document.events") {
		t.Errorf("the events policy is not attached to the events role")
	}
}

func TestTerraformDeliveryTable(t *testing.T) {
	m := loadModule(t, moduleDir)
	tbl := m.one(t, "resource", "aws_dynamodb_table", "deliveries")
	if got := m.text(attr(t, tbl, "name")); got != `"${local.function_name}-deliveries"` {
		t.Errorf("table name %s, want <name>-<environment>-deliveries", got)
	}
	if str(tbl, "billing_mode") != "PAY_PER_REQUEST" || str(tbl, "hash_key") != "pk" || str(tbl, "range_key") != "sk" {
		t.Errorf("want PAY_PER_REQUEST, hash pk, range sk")
	}
	attrs := map[string]string{}
	for _, a := range nested(tbl, "attribute") {
		attrs[str(a, "name")] = str(a, "type")
	}
	if len(attrs) != 3 || attrs["pk"] != "S" || attrs["sk"] != "S" || attrs["recipient"] != "S" {
		t.Errorf("attributes %v, want pk, sk, recipient, all S", attrs)
	}
	gsi := nested(tbl, "global_secondary_index")
	if len(gsi) != 1 || str(gsi[0], "name") != "by-recipient" || str(gsi[0], "hash_key") != "recipient" || str(gsi[0], "range_key") != "sk" || str(gsi[0], "projection_type") != "ALL" {
		t.Errorf("want one GSI by-recipient (recipient, sk), projection ALL")
	}
	ttl := nested(tbl, "ttl")
	if len(ttl) != 1 || str(ttl[0], "attribute_name") != "expires_at" || m.text(attr(t, ttl[0], "enabled")) != "true" {
		t.Errorf("want TTL on expires_at")
	}
}

func TestTerraformOnFailureDestination(t *testing.T) {
	m := loadModule(t, moduleDir)
	inv := m.one(t, "resource", "aws_lambda_function_event_invoke_config", "mailer")
	var dest []*hclsyntax.Block
	for _, dc := range nested(inv, "destination_config") {
		dest = append(dest, nested(dc, "on_failure")...)
	}
	if len(dest) != 1 || !hasRef(attr(t, dest[0], "destination"), "aws_sqs_queue.failed_events.arn") {
		t.Fatalf("the sender's asynchronous invocations have no on-failure destination aws_sqs_queue.failed_events")
	}
	q := m.one(t, "resource", "aws_sqs_queue", "failed_events")
	if got := m.text(attr(t, q, "name")); got != `"${local.function_name}-failed-events"` {
		t.Errorf("queue name %s, want <name>-<environment>-failed-events", got)
	}
	if got := m.text(attr(t, q, "message_retention_seconds")); got != strconv.Itoa(14*24*3600) {
		t.Errorf("retention %s s, want 14 days", got)
	}
	// The role may send there (Lambda sends as the function's role), and
	// the invoke config waits for that.
	ok := false
	for _, s := range policyStatements(t, m.one(t, "data", "aws_iam_policy_document", "mailer")) {
		if slices.Contains(s.actions, "sqs:SendMessage") && hasRef(s.resources, "aws_sqs_queue.failed_events.arn") {
			ok = true
		}
	}
	if !ok {
		t.Errorf("the sender's role may not sqs:SendMessage to the failed-events queue")
	}
	if !hasRef(attr(t, inv, "depends_on"), "aws_iam_role_policy.mailer") {
		t.Errorf("the invoke config does not wait for the role's policy")
	}
}

// alarmWant is one alarm of the contract.
type alarmWant struct {
	namespace, metric, statistic string
	dims                         map[string]string // value: a literal, or "ref:<reference>"
	threshold                    float64
	period                       int // 0: any
}

func TestTerraformAlarms(t *testing.T) {
	m := loadModule(t, moduleDir)
	d := m.declarations(t)
	if got := m.text(d.locals["alarm_prefix"]); got != `"${local.function_name}-"` {
		t.Errorf("local.alarm_prefix = %s, want <name>-<environment>-", got)
	}

	// What the code emits: internal/metrics' and internal/cognito's own
	// constants.
	want := map[string]alarmWant{
		"failed":         {metrics.Namespace, metrics.Invocations, "Sum", map[string]string{metrics.DimOutcome: cognito.OutcomeFailed}, 1, 300},
		"suppressed":     {metrics.Namespace, metrics.Invocations, "Sum", map[string]string{metrics.DimOutcome: cognito.OutcomeSuppressed}, 1, 300},
		"events-dlq":     {"AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", map[string]string{"QueueName": "ref:aws_sqs_queue.ses_events_dlq.name"}, 1, 0},
		"failed-events":  {"AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", map[string]string{"QueueName": "ref:aws_sqs_queue.failed_events.name"}, 1, 0},
		"events-errors":  {"AWS/Lambda", "Errors", "Sum", map[string]string{"FunctionName": "ref:aws_lambda_function.events.function_name"}, 1, 0},
		"bounce-rate":    {"AWS/SES", "Reputation.BounceRate", "Maximum", nil, 0.02, 0},
		"complaint-rate": {"AWS/SES", "Reputation.ComplaintRate", "Maximum", nil, 0.0005, 0},
		// issue 12: the send service
		"send-dlq":    {"AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", map[string]string{"QueueName": "ref:aws_sqs_queue.send_dlq[0].name"}, 1, 0},
		"send-errors": {"AWS/Lambda", "Errors", "Sum", map[string]string{"FunctionName": "ref:aws_lambda_function.send[0].function_name"}, 1, 0},
	}
	topic := m.one(t, "resource", "aws_sns_topic", "alarms")
	if got := m.text(attr(t, topic, "name")); got != `"${local.function_name}-alarms"` {
		t.Errorf("alarms topic %s, want <name>-<environment>-alarms", got)
	}
	if got := m.text(d.locals["alarm_actions"]); got != "[aws_sns_topic.alarms.arn]" {
		t.Errorf("local.alarm_actions = %s, want [aws_sns_topic.alarms.arn]", got)
	}

	seen := map[string]bool{}
	for _, a := range m.find("resource", "aws_cloudwatch_metric_alarm") {
		label := a.Labels[1]
		nameTxt := m.text(attr(t, a, "alarm_name"))
		suffix, ok := strings.CutPrefix(strings.Trim(nameTxt, `"`), "${local.alarm_prefix}")
		if !ok {
			t.Errorf("alarm %s is named %s, not ${local.alarm_prefix}…", label, nameTxt)
			continue
		}
		w, ok := want[suffix]
		if !ok {
			t.Errorf("alarm %s (%s) is not in the contract", label, suffix)
			continue
		}
		seen[suffix] = true
		if got := m.text(attr(t, a, "namespace")); got != strconv.Quote(w.namespace) {
			t.Errorf("%s: namespace %s, want %q", suffix, got, w.namespace)
		}
		if got := m.text(attr(t, a, "metric_name")); got != strconv.Quote(w.metric) {
			t.Errorf("%s: metric %s, want %q", suffix, got, w.metric)
		}
		if got := str(a, "statistic"); got != w.statistic {
			t.Errorf("%s: statistic %q, want %q", suffix, got, w.statistic)
		}
		if got := str(a, "comparison_operator"); got != "GreaterThanOrEqualToThreshold" {
			t.Errorf("%s: comparison %q, want GreaterThanOrEqualToThreshold", suffix, got)
		}
		th, _ := static(attr(t, a, "threshold"))
		if th.IsNull() || th.Type() != cty.Number {
			t.Errorf("%s: threshold is not a number", suffix)
		} else if f, _ := th.AsBigFloat().Float64(); f != w.threshold {
			t.Errorf("%s: threshold %v, want %v", suffix, f, w.threshold)
		}
		if w.period != 0 {
			if got := m.text(attr(t, a, "period")); got != strconv.Itoa(w.period) {
				t.Errorf("%s: period %s, want %d", suffix, got, w.period)
			}
		}
		dims := map[string]hclsyntax.Expression{}
		if e, ok := a.Body.Attributes["dimensions"]; ok {
			dims = objectKeys(t, e.Expr)
		}
		if len(dims) != len(w.dims) {
			t.Errorf("%s: dimensions %v, want %v", suffix, keysOf(dims), w.dims)
		}
		for k, v := range w.dims {
			e, ok := dims[k]
			switch {
			case !ok:
				t.Errorf("%s: no dimension %s", suffix, k)
			case strings.HasPrefix(v, "ref:"):
				if m.text(e) != strings.TrimPrefix(v, "ref:") {
					t.Errorf("%s: %s = %s, want %s", suffix, k, m.text(e), strings.TrimPrefix(v, "ref:"))
				}
			case m.text(e) != strconv.Quote(v):
				t.Errorf("%s: %s = %s, want %q", suffix, k, m.text(e), v)
			}
		}
		for _, act := range []string{"alarm_actions", "ok_actions"} {
			if m.text(attr(t, a, act)) != "local.alarm_actions" {
				t.Errorf("%s: %s = %s, want local.alarm_actions", suffix, act, m.text(attr(t, a, act)))
			}
		}
		if str(a, "treat_missing_data") != "notBreaching" {
			t.Errorf("%s: treat_missing_data %q: no traffic is not an alarm", suffix, str(a, "treat_missing_data"))
		}
	}
	for suffix := range want {
		if !seen[suffix] {
			t.Errorf("no alarm %s", suffix)
		}
	}

	// CloudWatch may publish to the alarms topic, for these alarms only.
	stmts := policyStatements(t, m.one(t, "data", "aws_iam_policy_document", "alarms_topic"))
	if len(stmts) != 1 || !slices.Equal(stmts[0].principals["Service"], []string{"cloudwatch.amazonaws.com"}) {
		t.Fatalf("the alarms topic policy should let cloudwatch.amazonaws.com publish")
	}
	if v := m.text(stmts[0].condition(t, "aws:SourceArn").values); !strings.Contains(v, ":alarm:${local.alarm_prefix}*") {
		t.Errorf("alarms topic aws:SourceArn = %s, want this deployment's alarms", v)
	}

	// The example root sets the subscriptions.
	ex := loadModule(t, exampleDir)
	if !hasRef(attr(t, ex.one(t, "module", "mailer"), "alarm_emails"), "var.alarm_emails") {
		t.Errorf("the example root does not pass alarm_emails")
	}
	subs := m.one(t, "resource", "aws_sns_topic_subscription", "alarms")
	if !hasRef(attr(t, subs, "for_each"), "var.alarm_emails") || str(subs, "protocol") != "email" {
		t.Errorf("the alarms topic's subscriptions are not one email per var.alarm_emails")
	}
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// The inbound bucket's default name fits S3's 63 characters for every name
// and environment the variables allow: the module's own expression,
// evaluated with Terraform's functions of the same names.
func TestTerraformInboundBucketName(t *testing.T) {
	m := loadModule(t, moduleDir)
	d := m.declarations(t)
	funcs := map[string]function.Function{
		"length": stdlib.StrlenFunc, // on a string, Terraform's length counts characters
		"substr": stdlib.SubstrFunc,
		"sha256": function.New(&function.Spec{
			Params: []function.Parameter{{Name: "s", Type: cty.String}},
			Type:   function.StaticReturnType(cty.String),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				sum := sha256.Sum256([]byte(args[0].AsString()))
				return cty.StringVal(hex.EncodeToString(sum[:])), nil
			},
		}),
	}
	eval := func(fn, account string) string {
		t.Helper()
		locals := map[string]cty.Value{"function_name": cty.StringVal(fn), "account_id": cty.StringVal(account)}
		ctx := &hcl.EvalContext{Functions: funcs, Variables: map[string]cty.Value{"local": cty.ObjectVal(locals)}}
		full, diags := d.locals["inbound_bucket_full"].Value(ctx)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		locals["inbound_bucket_full"] = full
		ctx.Variables["local"] = cty.ObjectVal(locals)
		v, diags := d.locals["inbound_bucket_default"].Value(ctx)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		return v.AsString()
	}
	if !strings.Contains(m.text(attr(t, m.one(t, "resource", "aws_s3_bucket", "inbound"), "bucket")), "local.inbound_bucket_default") {
		t.Fatalf("the inbound bucket is not named by local.inbound_bucket_default")
	}
	// S3's rules for general purpose bucket names.
	valid := regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	const account = "657033058608"
	seen := map[string]string{}
	for n := 1; n <= 32; n++ {
		env := "e" + strings.Repeat("x", n-1)
		fn := "phenom-mailer-" + env
		got := eval(fn, account)
		if len(got) > 63 || !valid.MatchString(got) || strings.Contains(got, "..") {
			t.Errorf("environment of %d characters: bucket %q (%d characters) is not a valid S3 name", n, got, len(got))
		}
		if !strings.HasSuffix(got, "-inbound-"+account) {
			t.Errorf("bucket %q lost the account id", got)
		}
		if prev, dup := seen[got]; dup {
			t.Errorf("%s and %s get the same bucket %s", prev, fn, got)
		}
		seen[got] = fn
	}
	// Names that fit are kept as they were (no rename for existing buckets).
	if got := eval("phenom-mailer-development", account); got != "phenom-mailer-development-inbound-"+account {
		t.Errorf("development's bucket is now %q: an existing bucket would be replaced", got)
	}
	// Two long environments that share their first characters still differ.
	a := eval("phenom-mailer-"+strings.Repeat("a", 31)+"b", account)
	b := eval("phenom-mailer-"+strings.Repeat("a", 31)+"c", account)
	if a == b {
		t.Errorf("two long environments share bucket %s", a)
	}
}
