package deploy

import (
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// Issue 12's Terraform: the send service's queue, function, function URL,
// role, alarms and the caller's policy, read from the HCL.
// deploy/tofu_test.go applies the same module with a real engine.

// serviceEnv are the names of issue 12's contract (CONTRACT-12: the
// environment cmd/mailer reads for the send service). The module sets the
// first three; MAILER_SERVICE_BATCH_PARALLEL keeps its default (10).
var serviceEnv = []string{"MAILER_SERVICE", "MAILER_SERVICE_CONCURRENCY", "MAILER_SERVICE_RATE", "MAILER_SERVICE_BATCH_PARALLEL"}

// sendResources are the send service's resources and data sources: each
// exists once per enable_send_service (count = local.send_count).
var sendResources = [][2]string{
	{"aws_sqs_queue", "send"},
	{"aws_sqs_queue", "send_dlq"},
	{"aws_iam_role", "send"},
	{"aws_iam_role_policy", "send"},
	{"aws_cloudwatch_log_group", "send"},
	{"aws_lambda_function", "send"},
	{"aws_lambda_event_source_mapping", "send"},
	{"aws_lambda_function_url", "send"},
	{"aws_cloudwatch_metric_alarm", "send_dlq"},
	{"aws_cloudwatch_metric_alarm", "send_errors"},
}

var sendData = []string{"send", "send_caller"}

func TestTerraformSendSwitch(t *testing.T) {
	m := loadModule(t, moduleDir)
	d := m.declarations(t)
	if got := m.text(d.locals["send_count"]); got != "var.enable_send_service ? 1 : 0" {
		t.Errorf("local.send_count = %s, want var.enable_send_service ? 1 : 0", got)
	}
	if v := d.variables["enable_send_service"]; v == nil || m.text(attr(t, v, "default")) != "true" || m.text(attr(t, v, "type")) != "bool" {
		t.Errorf("var.enable_send_service should be a bool, true by default")
	}
	for _, r := range sendResources {
		b := m.one(t, "resource", r[0], r[1])
		if c, ok := b.Body.Attributes["count"]; !ok || m.text(c.Expr) != "local.send_count" {
			t.Errorf("%s.%s is not counted by local.send_count", r[0], r[1])
		}
	}
	for _, name := range sendData {
		b := m.one(t, "data", "aws_iam_policy_document", name)
		if c, ok := b.Body.Attributes["count"]; !ok || m.text(c.Expr) != "local.send_count" {
			t.Errorf("data.aws_iam_policy_document.%s is not counted by local.send_count", name)
		}
	}
	// Without the service the outputs are null, not an error: one() of the
	// counted resource.
	for _, name := range []string{"send_queue_url", "send_dlq_url", "send_function_name", "send_function_url", "send_caller_policy_json"} {
		out := m.one(t, "output", name)
		call, ok := attr(t, out, "value").(*hclsyntax.FunctionCallExpr)
		if !ok || call.Name != "one" || len(call.Args) != 1 || !strings.Contains(m.text(call.Args[0]), "[*]") {
			t.Errorf("output %s = %s, want one(<resource>[*].<attribute>)", name, m.text(attr(t, out, "value")))
		}
		if _, ok := out.Body.Attributes["description"]; !ok {
			t.Errorf("output %s has no description", name)
		}
	}
	// The sender's environment names the send dead-letter queue for `mailer
	// doctor` only with the service: without it the queue does not exist
	// (and the doctor then reports the send service as not checked).
	fn := m.one(t, "resource", "aws_lambda_function", "mailer")
	var sendDLQ []string
	hclsyntax.VisitAll(attr(t, nested(fn, "environment")[0], "variables"), func(n hclsyntax.Node) hcl.Diagnostics {
		if c, ok := n.(*hclsyntax.ConditionalExpr); ok {
			if obj, ok := c.TrueResult.(*hclsyntax.ObjectConsExpr); ok && objectKeys(t, obj)["MAILER_SEND_DLQ_URL"] != nil {
				sendDLQ = append(sendDLQ, m.text(c))
			}
		}
		return nil
	})
	if want := "var.enable_send_service ? { MAILER_SEND_DLQ_URL = aws_sqs_queue.send_dlq[0].url } : {}"; len(sendDLQ) != 1 || sendDLQ[0] != want {
		t.Errorf("the sender's MAILER_SEND_DLQ_URL: %q, want one %s", sendDLQ, want)
	}

	// Phenom's root passes them on.
	ex := loadModule(t, exampleDir)
	for _, name := range []string{"send_queue_url", "send_function_url", "send_caller_policy_json"} {
		if !hasRef(attr(t, ex.one(t, "output", name), "value"), "module.mailer."+name) {
			t.Errorf("the example root does not output module.mailer.%s", name)
		}
	}
}

func TestTerraformSendQueue(t *testing.T) {
	m := loadModule(t, moduleDir)
	q := m.one(t, "resource", "aws_sqs_queue", "send")
	dlq := m.one(t, "resource", "aws_sqs_queue", "send_dlq")
	if got := m.text(m.declarations(t).locals["send_function_name"]); got != `"${local.function_name}-send"` {
		t.Errorf("local.send_function_name = %s, want <name>-<environment>-send", got)
	}
	if got := m.text(attr(t, q, "name")); got != "local.send_function_name" {
		t.Errorf("send queue name %s, want local.send_function_name", got)
	}
	if got := m.text(attr(t, dlq, "name")); got != `"${local.send_function_name}-dlq"` {
		t.Errorf("send DLQ name %s, want <name>-<environment>-send-dlq", got)
	}
	for _, b := range []*hclsyntax.Block{q, dlq} {
		if m.text(attr(t, b, "sqs_managed_sse_enabled")) != "true" {
			t.Errorf("queue %s is not encrypted (sqs_managed_sse_enabled)", b.Labels[1])
		}
	}
	if got := m.text(attr(t, dlq, "message_retention_seconds")); got != "1209600" {
		t.Errorf("the send DLQ keeps messages %s s, want 14 days", got)
	}
	redrive := objectKeys(t, attr(t, q, "redrive_policy").(*hclsyntax.FunctionCallExpr).Args[0])
	if !hasRef(redrive["deadLetterTargetArn"], "aws_sqs_queue.send_dlq.arn") {
		t.Errorf("redrive target %s, want the send DLQ", m.text(redrive["deadLetterTargetArn"]))
	}
	if got := m.text(redrive["maxReceiveCount"]); got != "5" {
		t.Errorf("maxReceiveCount %s, want 5", got)
	}
	// Lambda's guidance for an SQS event source: the visibility timeout is
	// at least six times the function's timeout.
	if vt := m.text(attr(t, q, "visibility_timeout_seconds")); vt != "6 * var.service_timeout" {
		t.Errorf("visibility_timeout_seconds = %s, want 6 * var.service_timeout", vt)
	}
	if got := m.text(attr(t, m.one(t, "resource", "aws_lambda_function", "send"), "timeout")); got != "var.service_timeout" {
		t.Errorf("the send function's timeout is %s, not var.service_timeout (the visibility timeout's base)", got)
	}
	// No queue policy: this account's principals send by their identity
	// policy (send_caller_policy_json), nobody else.
	for _, p := range m.find("resource", "aws_sqs_queue_policy") {
		if hasRef(attr(t, p, "queue_url"), "aws_sqs_queue.send") {
			t.Errorf("the send queue has a queue policy %s: say in send.tf whom it lets in, and test it", p.Labels[1])
		}
	}

	// The event source mapping: batches of 10, partial batch failures, the
	// service's concurrency.
	esm := m.one(t, "resource", "aws_lambda_event_source_mapping", "send")
	if !hasRef(attr(t, esm, "event_source_arn"), "aws_sqs_queue.send.arn") || !hasRef(attr(t, esm, "function_name"), "aws_lambda_function.send") {
		t.Errorf("the event source mapping is not send queue -> send function")
	}
	if got := m.text(attr(t, esm, "batch_size")); got != "10" {
		t.Errorf("batch_size %s, want 10", got)
	}
	if got := strs(attr(t, esm, "function_response_types")); !slices.Equal(got, []string{"ReportBatchItemFailures"}) {
		t.Errorf("function_response_types %q, want [ReportBatchItemFailures]", got)
	}
	if sc := nested(esm, "scaling_config"); len(sc) != 1 || m.text(attr(t, sc[0], "maximum_concurrency")) != "var.service_max_concurrency" {
		t.Errorf("the event source mapping's scaling_config.maximum_concurrency is not var.service_max_concurrency")
	}
}

func TestTerraformSendFunction(t *testing.T) {
	m := loadModule(t, moduleDir)
	d := m.declarations(t)
	fn := m.one(t, "resource", "aws_lambda_function", "send")
	mailer := m.one(t, "resource", "aws_lambda_function", "mailer")
	if got := m.text(attr(t, fn, "function_name")); got != "local.send_function_name" {
		t.Errorf("send function name %s, want local.send_function_name", got)
	}
	// The same zip, the same runtime: one bootstrap serves every event.
	for _, a := range []string{"filename", "source_code_hash", "runtime", "architectures", "handler"} {
		if m.text(attr(t, fn, a)) != m.text(attr(t, mailer, a)) {
			t.Errorf("send function %s = %s, the sender's is %s", a, m.text(attr(t, fn, a)), m.text(attr(t, mailer, a)))
		}
	}
	if !hasRef(attr(t, fn, "role"), "aws_iam_role.send") {
		t.Errorf("the send function does not have its own role")
	}
	// Every instance, URL calls included, within the concurrency the
	// per-instance rate is divided by.
	if got := m.text(attr(t, fn, "reserved_concurrent_executions")); got != "var.service_max_concurrency" {
		t.Errorf("reserved_concurrent_executions = %s, want var.service_max_concurrency (send.tf says why)", got)
	}
	lg := m.one(t, "resource", "aws_cloudwatch_log_group", "send")
	if m.text(attr(t, lg, "name")) != `"/aws/lambda/${local.send_function_name}"` {
		t.Errorf("the send log group is %s", m.text(attr(t, lg, "name")))
	}
	if _, ok := lg.Body.Attributes["retention_in_days"]; !ok {
		t.Errorf("the send log group has no retention_in_days")
	}
	if dep := attr(t, fn, "depends_on"); !hasRef(dep, "aws_cloudwatch_log_group.send") || !hasRef(dep, "aws_iam_role_policy.send") {
		t.Errorf("the send function does not depend on its log group and its role's policy")
	}

	// The environment: the senders' shared settings (the same local as
	// the Cognito sender's), the service's, no keys or pools.
	env := envVars(t, d, attr(t, nested(fn, "environment")[0], "variables"))
	mailerEnv := envVars(t, d, attr(t, nested(mailer, "environment")[0], "variables"))
	read := mailerEnvNames(t)
	var names []string
	for name := range env {
		names = append(names, name)
		if !read[name] && !slices.Contains(serviceEnv, name) {
			t.Errorf("the send function sets %s, which cmd/mailer/config.go does not read and issue 12's contract does not name", name)
		}
	}
	sort.Strings(names)
	want := []string{
		"MAILER_APP_STORE_URL", "MAILER_CONFIGURATION_SET", "MAILER_DELIVERY_TABLE", "MAILER_DELIVERY_TTL", "MAILER_ENVIRONMENT",
		"MAILER_FROM", "MAILER_IDEMPOTENCY_TABLE", "MAILER_PLAY_STORE_URL", "MAILER_SERVICE", "MAILER_SERVICE_CONCURRENCY",
		"MAILER_SERVICE_RATE", "MAILER_WEB_APP_URL", "PASSWORD_RESET_URL",
	}
	if !slices.Equal(names, want) {
		t.Errorf("the send function's environment is %q, want %q", names, want)
	}
	for name, e := range env {
		if strings.HasPrefix(name, "MAILER_SERVICE") {
			if _, ok := mailerEnv[name]; ok {
				t.Errorf("the Cognito sender sets %s: only the send function serves the queue", name)
			}
			continue
		}
		// The very expression the Cognito sender uses (one local).
		if me, ok := mailerEnv[name]; !ok || me != e {
			t.Errorf("the send function's %s = %s is not the Cognito sender's shared setting", name, m.text(e))
		}
	}
	// The welcome mail's links: the web app always, the app stores only
	// when given (an empty value would be a link to nowhere).
	for name, v := range map[string]string{"MAILER_WEB_APP_URL": "var.web_app_url", "MAILER_APP_STORE_URL": "var.app_store_url", "MAILER_PLAY_STORE_URL": "var.play_store_url"} {
		if e := env[name]; e == nil || m.text(e) != v {
			t.Errorf("%s should be %s", name, v)
		}
		if def := d.variables[strings.TrimPrefix(v, "var.")]; def == nil || name != "MAILER_WEB_APP_URL" && m.text(attr(t, def, "default")) != "null" {
			t.Errorf("var.%s should exist, optional (default null) for the app stores", strings.TrimPrefix(v, "var."))
		}
	}
	for name, want := range map[string]string{
		"MAILER_SERVICE":             `"true"`,
		"MAILER_SERVICE_CONCURRENCY": "var.service_max_concurrency",
		"MAILER_SERVICE_RATE":        "var.ses_max_send_rate",
	} {
		if e := env[name]; e == nil || m.text(e) != want {
			t.Errorf("%s should be %s", name, want)
		}
	}

	// The function URL: IAM auth, on the send function.
	u := m.one(t, "resource", "aws_lambda_function_url", "send")
	if str(u, "authorization_type") != "AWS_IAM" || !hasRef(attr(t, u, "function_name"), "aws_lambda_function.send") {
		t.Errorf("the function URL is not AWS_IAM on the send function")
	}
	for _, p := range m.find("resource", "aws_lambda_permission") {
		if hasRef(attr(t, p, "function_name"), "aws_lambda_function.send") {
			t.Errorf("aws_lambda_permission.%s opens the send function to another principal", p.Labels[1])
		}
	}

	// Its role: exactly these actions, each on exactly these resources.
	wantActions := map[string][]string{
		"ses:SendEmail":                {"aws_sesv2_configuration_set.mailer.arn", "local.ses_identity_arn"},
		"ses:SendRawEmail":             {"aws_sesv2_configuration_set.mailer.arn", "local.ses_identity_arn"},
		"ses:GetEmailIdentity":         {"local.ses_identity_arn"},
		"ses:GetAccount":               nil, // "*": the account has no ARN
		"ses:GetSuppressedDestination": nil, // "*": nor its suppression list
		"dynamodb:PutItem":             {"aws_dynamodb_table.deliveries.arn", "aws_dynamodb_table.idempotency.arn"},
		"dynamodb:UpdateItem":          {"aws_dynamodb_table.idempotency.arn"},
		"dynamodb:DeleteItem":          {"aws_dynamodb_table.idempotency.arn"},
		"sqs:ReceiveMessage":           {"aws_sqs_queue.send.arn"},
		"sqs:DeleteMessage":            {"aws_sqs_queue.send.arn"},
		"sqs:GetQueueAttributes":       {"aws_sqs_queue.send.arn"},
		"logs:CreateLogStream":         {"aws_cloudwatch_log_group.send.arn"},
		"logs:PutLogEvents":            {"aws_cloudwatch_log_group.send.arn"},
	}
	got := map[string][]string{}
	for _, s := range policyStatements(t, m.one(t, "data", "aws_iam_policy_document", "send")) {
		if s.effect != "Allow" || s.resources == nil {
			t.Errorf("send statement %q: %s without resources", s.sid, s.effect)
			continue
		}
		if strings.Contains(m.text(s.resources), `"*"`) {
			if !slices.Equal(s.actions, []string{"ses:GetAccount", "ses:GetSuppressedDestination"}) || m.text(s.resources) != `["*"]` {
				t.Errorf("send statement %q allows %q on every resource", s.sid, s.actions)
			}
		}
		for _, a := range s.actions {
			if strings.Contains(a, "*") || strings.HasPrefix(a, "kms:") {
				t.Errorf("the send role is allowed %s", a)
			}
			got[a] = append(got[a], refs(s.resources)...)
		}
		if slices.Contains(s.actions, "logs:PutLogEvents") && !strings.Contains(m.text(s.resources), "${aws_cloudwatch_log_group.send[0].arn}:*") {
			t.Errorf("logs resources %s, want the log group's streams (<arn>:*)", m.text(s.resources))
		}
	}
	for a, rs := range wantActions {
		if g := slices.Compact(slices.Sorted(slices.Values(got[a]))); !slices.Equal(g, rs) {
			t.Errorf("send role: %s on %q, want %q", a, g, rs)
		}
	}
	for a := range got {
		if _, ok := wantActions[a]; !ok {
			t.Errorf("the send role is allowed %s, which the send service does not need", a)
		}
	}
	rp := m.one(t, "resource", "aws_iam_role_policy", "send")
	if !hasRef(attr(t, rp, "role"), "aws_iam_role.send") || !hasRef(attr(t, rp, "policy"), "data.aws_iam_policy_document.send") {
		t.Errorf("the send policy is not attached to the send role")
	}
	if !hasRef(attr(t, m.one(t, "resource", "aws_iam_role", "send"), "assume_role_policy"), "data.aws_iam_policy_document.assume") {
		t.Errorf("the send role is not assumed by Lambda (data.aws_iam_policy_document.assume)")
	}
}

// The caller's policy: what a Phenom service attaches to send, and nothing
// more.
func TestTerraformSendCallerPolicy(t *testing.T) {
	m := loadModule(t, moduleDir)
	if v := attr(t, m.one(t, "output", "send_caller_policy_json"), "value"); !hasRef(v, "data.aws_iam_policy_document.send_caller") || !strings.HasSuffix(m.text(v), "[*].json)") {
		t.Fatalf("send_caller_policy_json is not data.aws_iam_policy_document.send_caller's JSON")
	}
	stmts := policyStatements(t, m.one(t, "data", "aws_iam_policy_document", "send_caller"))
	type want struct {
		resource         string
		test, key, value string
	}
	wants := map[string]want{
		"sqs:SendMessage": {resource: "aws_sqs_queue.send.arn"},
		// Function URLs created from October 2025 need both actions; the
		// second only through the URL.
		"lambda:InvokeFunctionUrl": {"aws_lambda_function.send.arn", "StringEquals", "lambda:FunctionUrlAuthType", "AWS_IAM"},
		"lambda:InvokeFunction":    {"aws_lambda_function.send.arn", "Bool", "lambda:InvokedViaFunctionUrl", "true"},
	}
	if len(stmts) != len(wants) {
		t.Errorf("the caller's policy has %d statements, want %d (one per action)", len(stmts), len(wants))
	}
	seen := map[string]bool{}
	for _, s := range stmts {
		if s.effect != "Allow" || len(s.actions) != 1 {
			t.Errorf("caller statement %q: %s %q, want one allowed action", s.sid, s.effect, s.actions)
			continue
		}
		w, ok := wants[s.actions[0]]
		if !ok {
			t.Errorf("the caller's policy allows %s", s.actions[0])
			continue
		}
		seen[s.actions[0]] = true
		if s.resources == nil || !slices.Equal(refs(s.resources), []string{w.resource}) || strings.Contains(m.text(s.resources), "*") {
			t.Errorf("%s on %v, want exactly %s", s.actions[0], s.resources, w.resource)
		}
		if w.key == "" {
			if len(s.conditions) != 0 {
				t.Errorf("%s has conditions", s.actions[0])
			}
			continue
		}
		if len(s.conditions) != 1 {
			t.Errorf("%s has %d conditions, want the one on %s", s.actions[0], len(s.conditions), w.key)
			continue
		}
		c := s.conditions[0]
		if c.test != w.test || c.variable != w.key || !slices.Equal(strs(c.values), []string{w.value}) {
			t.Errorf("%s: condition %s %s = %s, want %s %s = [%q]", s.actions[0], c.test, c.variable, m.text(c.values), w.test, w.key, w.value)
		}
	}
	for a := range wants {
		if !seen[a] {
			t.Errorf("the caller's policy does not allow %s", a)
		}
	}
	if !strings.Contains(string(m.src[filepath.Join(moduleDir, "send.tf")]), "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html") {
		t.Errorf("send.tf no longer cites AWS's page on function URL access (urls-auth.html) for the two actions")
	}
}

// The send variables: defaults, validations and the precondition, evaluated
// with Terraform's functions of the same names.
func TestTerraformSendVariables(t *testing.T) {
	m := loadModule(t, moduleDir)
	d := m.declarations(t)
	defaults := map[string]float64{"service_max_concurrency": 2, "ses_max_send_rate": 14, "service_timeout": 30}
	for name, def := range defaults {
		v := d.variables[name]
		if v == nil {
			t.Fatalf("no var.%s", name)
		}
		val, ok := static(attr(t, v, "default"))
		if f, _ := val.AsBigFloat().Float64(); !ok || f != def {
			t.Errorf("var.%s defaults to %s, want %v", name, m.text(attr(t, v, "default")), def)
		}
		if _, ok := v.Body.Attributes["description"]; !ok {
			t.Errorf("var.%s has no description", name)
		}
	}
	funcs := map[string]function.Function{"floor": stdlib.FloorFunc}
	ctx := func(vars map[string]float64) *hcl.EvalContext {
		obj := map[string]cty.Value{}
		for k, v := range defaults {
			obj[k] = cty.NumberFloatVal(v)
		}
		for k, v := range vars {
			obj[k] = cty.NumberFloatVal(v)
		}
		return &hcl.EvalContext{Functions: funcs, Variables: map[string]cty.Value{"var": cty.ObjectVal(obj)}}
	}
	holds := func(e hclsyntax.Expression, vars map[string]float64) bool {
		t.Helper()
		v, diags := e.Value(ctx(vars))
		if diags.HasErrors() {
			t.Fatalf("%s: %s", m.text(e), diags.Error())
		}
		return v.True()
	}
	validation := func(name string) hclsyntax.Expression {
		t.Helper()
		vs := nested(d.variables[name], "validation")
		if len(vs) != 1 {
			t.Fatalf("var.%s: want one validation", name)
		}
		return attr(t, vs[0], "condition")
	}
	// maximum_concurrency of an SQS event source: 2 to 1000.
	for c, ok := range map[float64]bool{1: false, 2: true, 1000: true, 1001: false, 2.5: false} {
		if got := holds(validation("service_max_concurrency"), map[string]float64{"service_max_concurrency": c}); got != ok {
			t.Errorf("service_max_concurrency = %v: valid %v, want %v", c, got, ok)
		}
	}
	for r, ok := range map[float64]bool{0: false, -1: false, 0.5: true, 14: true} {
		if got := holds(validation("ses_max_send_rate"), map[string]float64{"ses_max_send_rate": r}); got != ok {
			t.Errorf("ses_max_send_rate = %v: valid %v, want %v", r, got, ok)
		}
	}
	for s, ok := range map[float64]bool{2: false, 3: true, 900: true, 901: false} {
		if got := holds(validation("service_timeout"), map[string]float64{"service_timeout": s}); got != ok {
			t.Errorf("service_timeout = %v: valid %v, want %v", s, got, ok)
		}
	}

	// A batch of 10 at the per-instance rate fits in half the timeout.
	pre := nested(nested(m.one(t, "resource", "aws_lambda_function", "send"), "lifecycle")[0], "precondition")
	if len(pre) != 1 {
		t.Fatalf("the send function should have one precondition (the rate arithmetic), found %d", len(pre))
	}
	cond := attr(t, pre[0], "condition")
	for _, c := range []struct {
		conc, rate, timeout float64
		ok                  bool
	}{
		{2, 14, 30, true},   // the defaults: 7 mails/s per instance, a batch in 1.4 s
		{2, 1, 40, true},    // a sandbox account (1 mail/s): 0.5/s, a batch in 20 s
		{2, 1, 30, false},   // the same in 30 s: 20 s is more than half
		{50, 14, 30, false}, // 0.28/s per instance: a batch in 36 s
		{10, 100, 3, true},  // 10/s: a batch in 1 s
	} {
		got := holds(cond, map[string]float64{"service_max_concurrency": c.conc, "ses_max_send_rate": c.rate, "service_timeout": c.timeout})
		if got != c.ok {
			t.Errorf("concurrency %v, rate %v, timeout %v: precondition holds %v, want %v", c.conc, c.rate, c.timeout, got, c.ok)
		}
	}
}

// The welcome mail's links: https only; the app stores' may be left unset.
func TestTerraformWelcomeLinkVariables(t *testing.T) {
	m := loadModule(t, moduleDir)
	d := m.declarations(t)
	funcs := map[string]function.Function{"can": tryfunc.CanFunc, "regex": stdlib.RegexFunc}
	for _, name := range []string{"web_app_url", "app_store_url", "play_store_url"} {
		vs := nested(d.variables[name], "validation")
		if len(vs) != 1 {
			t.Fatalf("var.%s: want one validation", name)
		}
		cond := attr(t, vs[0], "condition")
		cases := map[string]bool{"https://www.thephenom.app": true, "https://apps.apple.com/app/id1": true, "http://www.thephenom.app": false, "www.thephenom.app": false, "": false}
		for in, ok := range cases {
			ctx := &hcl.EvalContext{Functions: funcs, Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{name: cty.StringVal(in)})}}
			if v, diags := cond.Value(ctx); diags.HasErrors() || v.True() != ok {
				t.Errorf("var.%s = %q: valid %v (%v), want %v", name, in, v, diags, ok)
			}
		}
		if name == "web_app_url" {
			continue
		}
		ctx := &hcl.EvalContext{Functions: funcs, Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{name: cty.NullVal(cty.String)})}}
		if v, diags := cond.Value(ctx); diags.HasErrors() || !v.True() {
			t.Errorf("var.%s unset is not valid (%v %v)", name, v, diags)
		}
	}
}
