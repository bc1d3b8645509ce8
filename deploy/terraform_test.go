package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

const (
	moduleDir  = "terraform"
	exampleDir = "terraform/examples/phenom"
)

// Phenom's pools (docs/operations.md; account 657033058608, us-east-1).
var phenomPools = map[string]string{
	"phenom-staging":   "us-east-1_n8gO6SbP6",
	"phenom-prod":      "us-east-1_knEL7cqS3",
	"phenom-dev-local": "us-east-1_AkG9mnbjA",
}

func TestTerraformModuleIsWellFormed(t *testing.T) {
	for _, dir := range []string{moduleDir, exampleDir} {
		m := loadModule(t, dir)
		m.checkFormatted(t)
		m.checkReferences(t, m.declarations(t))
	}
	// The artefact is the zip `make lambda` builds, never an archive of a
	// source folder (stray files change its hash between machines).
	err := filepath.WalkDir(moduleDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".tf") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(src), `"archive_file"`) {
			t.Errorf("%s uses archive_file: deploy dist/lambda.zip from `make lambda` instead", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestTerraformFunction(t *testing.T) {
	m := loadModule(t, moduleDir)
	fn := m.one(t, "resource", "aws_lambda_function", "mailer")
	if got := str(fn, "runtime"); got != "provided.al2023" {
		t.Errorf("runtime %q, want provided.al2023", got)
	}
	if got := strs(attr(t, fn, "architectures")); !slices.Equal(got, []string{"arm64"}) {
		t.Errorf("architectures %q, want [arm64]", got)
	}
	if !hasRef(attr(t, fn, "role"), "aws_iam_role.mailer") {
		t.Errorf("the function does not run as aws_iam_role.mailer")
	}

	// source_code_hash is filebase64sha256 of the very file deployed, and
	// that file is dist/lambda.zip unless the caller says otherwise.
	hash, ok := attr(t, fn, "source_code_hash").(*hclsyntax.FunctionCallExpr)
	if !ok || hash.Name != "filebase64sha256" || len(hash.Args) != 1 {
		t.Fatalf("source_code_hash = %s, want filebase64sha256(<the zip>)", m.text(attr(t, fn, "source_code_hash")))
	}
	filename := attr(t, fn, "filename")
	if m.text(hash.Args[0]) != m.text(filename) {
		t.Errorf("source_code_hash hashes %s but the function deploys %s", m.text(hash.Args[0]), m.text(filename))
	}
	d := m.declarations(t)
	// No default: one relative to path.module only holds when the module is
	// used from this checkout by a relative path (Terraform copies remote
	// and absolute sources into .terraform/modules). The caller names the
	// zip, and a missing one is a clear error before any hashing.
	if zip := d.locals["lambda_zip"]; zip == nil || m.text(zip) != "var.lambda_zip" {
		t.Errorf("local.lambda_zip should be var.lambda_zip")
	}
	zipVar := d.variables["lambda_zip"]
	if _, hasDefault := zipVar.Body.Attributes["default"]; hasDefault {
		t.Errorf("var.lambda_zip has a default: it cannot find the checkout once the module is copied")
	}
	if v := nested(zipVar, "validation"); len(v) != 1 || !strings.Contains(m.text(attr(t, v[0], "condition")), "fileexists(var.lambda_zip)") ||
		!strings.Contains(m.text(attr(t, v[0], "error_message")), "make lambda") {
		t.Errorf("var.lambda_zip should be validated with fileexists and say to run make lambda")
	}

	// The log group exists with a retention before the function runs.
	lg := m.one(t, "resource", "aws_cloudwatch_log_group", "mailer")
	if !strings.HasPrefix(strings.Trim(m.text(attr(t, lg, "name")), `"`), "/aws/lambda/${local.function_name}") ||
		!strings.Contains(m.text(attr(t, fn, "function_name")), "local.function_name") {
		t.Errorf("log group %s is not the function's /aws/lambda/<function_name>", m.text(attr(t, lg, "name")))
	}
	if _, ok := lg.Body.Attributes["retention_in_days"]; !ok {
		t.Errorf("the log group has no retention_in_days")
	}
	if !hasRef(attr(t, fn, "depends_on"), "aws_cloudwatch_log_group.mailer") {
		t.Errorf("the function does not depend on its log group: Lambda would create one without retention")
	}

	// The environment: the names cmd/mailer reads, and the required ones.
	envBlocks := nested(fn, "environment")
	if len(envBlocks) != 1 {
		t.Fatalf("want one environment block, found %d", len(envBlocks))
	}
	env := envVars(t, d, attr(t, envBlocks[0], "variables"))
	read := mailerEnvNames(t)
	for name := range env {
		if !read[name] {
			t.Errorf("the function sets %s, which cmd/mailer/config.go does not read", name)
		}
	}
	for name, from := range map[string]string{
		"MAILER_KMS_KEY_ARNS":      "aws_kms_key.pool",
		"MAILER_ALLOWED_POOLS":     "var.user_pools",
		"MAILER_IDEMPOTENCY_TABLE": "aws_dynamodb_table.idempotency",
		"MAILER_FROM":              "var.from",
		"MAILER_CONFIGURATION_SET": "aws_sesv2_configuration_set.mailer",
		"MAILER_ENVIRONMENT":       "var.environment",
		"PASSWORD_RESET_URL":       "var.password_reset_url",
		"MAILER_POOL_CLIENTS":      "var.pool_clients",
		// issue 11
		"MAILER_DELIVERY_TABLE":          "aws_dynamodb_table.deliveries",
		"MAILER_DELIVERY_TTL":            "var.delivery_ttl",
		"MAILER_EVENTS_DLQ_URL":          "aws_sqs_queue.ses_events_dlq",
		"MAILER_FAILED_EVENTS_QUEUE_URL": "aws_sqs_queue.failed_events",
		"MAILER_ALARM_PREFIX":            "local.alarm_prefix",
		// issue 12, with the send service only (deploy/send_test.go)
		"MAILER_SEND_DLQ_URL": "aws_sqs_queue.send_dlq",
	} {
		e, ok := env[name]
		switch {
		case !read[name]:
			t.Errorf("%s is no longer read by cmd/mailer/config.go: update the module and this test", name)
		case !ok:
			t.Errorf("the function does not set %s", name)
		case !hasRef(e, from):
			t.Errorf("%s = %s, want it from %s", name, m.text(e), from)
		}
	}

	// Cognito may invoke it, from the served pools only.
	perms := m.find("resource", "aws_lambda_permission")
	if len(perms) != 1 {
		t.Fatalf("want one aws_lambda_permission (for_each pool), found %d", len(perms))
	}
	p := perms[0]
	if !hasRef(attr(t, p, "for_each"), "var.user_pools") {
		t.Errorf("the invoke permission is not one per pool")
	}
	if str(p, "principal") != "cognito-idp.amazonaws.com" || str(p, "action") != "lambda:InvokeFunction" {
		t.Errorf("invoke permission: principal %q action %q", str(p, "principal"), str(p, "action"))
	}
	if !hasRef(attr(t, p, "function_name"), "aws_lambda_function.mailer") {
		t.Errorf("the invoke permission is not on the mailer function")
	}
	if src := attr(t, p, "source_arn"); !hasRef(src, "local.pool_arns") || !hasRef(src, "each.key") {
		t.Errorf("source_arn = %s, want local.pool_arns[each.key]", m.text(src))
	}
	checkPoolARNs(t, m, d)

	// Cognito invokes asynchronously: Lambda's two retries are the mailer's
	// second and third attempts (docs/reliability.md).
	inv := m.one(t, "resource", "aws_lambda_function_event_invoke_config", "mailer")
	if n := m.text(attr(t, inv, "maximum_retry_attempts")); n != "2" {
		t.Errorf("maximum_retry_attempts = %s, want 2", n)
	}
}

// checkPoolARNs checks that local.pool_arns are the Cognito user pool ARNs
// of var.user_pools in this account and region.
func checkPoolARNs(t *testing.T, m *tfModule, d declarations) {
	t.Helper()
	e := d.locals["pool_arns"]
	if e == nil {
		t.Fatal("no local.pool_arns")
	}
	txt := m.text(e)
	for _, want := range []string{":cognito-idp:${local.region}:${local.account_id}:userpool/", "var.user_pools"} {
		if !strings.Contains(txt, want) {
			t.Errorf("local.pool_arns = %s, want it to contain %s", txt, want)
		}
	}
}

func TestTerraformRolePolicy(t *testing.T) {
	m := loadModule(t, moduleDir)
	attached := m.one(t, "resource", "aws_iam_role_policy", "mailer")
	if !hasRef(attr(t, attached, "role"), "aws_iam_role.mailer") || !hasRef(attr(t, attached, "policy"), "data.aws_iam_policy_document.mailer") {
		t.Fatalf("the mailer's policy document is not what is attached to its role")
	}
	for _, kind := range []string{"aws_iam_role_policy_attachment", "aws_iam_role_policies_exclusive", "aws_iam_policy_attachment"} {
		for _, b := range m.find("resource", kind) {
			if hasRef(attr(t, b, "role"), "aws_iam_role.mailer") {
				t.Errorf("%s %s attaches more to the mailer's role", kind, b.Labels[1])
			}
		}
	}
	assume := policyStatements(t, m.one(t, "data", "aws_iam_policy_document", "assume"))
	if len(assume) != 1 || !slices.Equal(assume[0].principals["Service"], []string{"lambda.amazonaws.com"}) {
		t.Errorf("the role should be assumable by lambda.amazonaws.com only")
	}

	// Exactly these actions, each on exactly these resources.
	want := map[string][]string{
		// issue 11: the delivery record, the suppression check, the
		// on-failure destination.
		"sqs:SendMessage":              {"aws_sqs_queue.failed_events.arn"},
		"ses:GetSuppressedDestination": nil,                  // "*": see below
		"ses:GetAccount":               nil,                  // "*": see below
		"kms:Decrypt":                  {"aws_kms_key.pool"}, // [for key in aws_kms_key.pool : key.arn]
		"ses:SendEmail":                {"aws_sesv2_configuration_set.mailer.arn", "local.ses_identity_arn"},
		"ses:SendRawEmail":             {"aws_sesv2_configuration_set.mailer.arn", "local.ses_identity_arn"},
		"ses:GetEmailIdentity":         {"local.ses_identity_arn"},
		"dynamodb:PutItem":             {"aws_dynamodb_table.deliveries.arn", "aws_dynamodb_table.idempotency.arn"},
		"dynamodb:UpdateItem":          {"aws_dynamodb_table.idempotency.arn"},
		"dynamodb:DeleteItem":          {"aws_dynamodb_table.idempotency.arn"},
		"logs:CreateLogStream":         {"aws_cloudwatch_log_group.mailer.arn"},
		"logs:PutLogEvents":            {"aws_cloudwatch_log_group.mailer.arn"},
	}
	got := map[string][]string{}
	suppressionCheck := false
	for _, s := range policyStatements(t, m.one(t, "data", "aws_iam_policy_document", "mailer")) {
		if s.effect != "Allow" {
			continue
		}
		if s.resources == nil {
			t.Errorf("statement %q has no resources", s.sid)
			continue
		}
		if strings.Contains(m.text(s.resources), `"*"`) {
			// The one exception: SES's account-level suppression list and
			// the account have no resource type (IAM's Service
			// Authorization Reference lists none for
			// ses:GetSuppressedDestination or ses:GetAccount), so IAM needs
			// "*".
			if slices.Equal(s.actions, []string{"ses:GetAccount", "ses:GetSuppressedDestination"}) && m.text(s.resources) == `["*"]` {
				suppressionCheck = true
			} else {
				t.Errorf("statement %q allows %q on every resource", s.sid, s.actions)
			}
		}
		for _, a := range s.actions {
			if strings.Contains(a, "*") {
				t.Errorf("statement %q allows the wildcard action %s", s.sid, a)
			}
			got[a] = append(got[a], refs(s.resources)...)
		}
	}
	for a, rs := range want {
		g := got[a]
		sort.Strings(g)
		if !slices.Equal(slices.Compact(g), rs) {
			t.Errorf("%s is allowed on %q, want exactly %q", a, g, rs)
		}
	}
	for a := range got {
		if _, ok := want[a]; !ok {
			t.Errorf("the role is allowed %s, which the mailer does not need", a)
		}
	}
	if !suppressionCheck {
		t.Errorf("the role may not ses:GetSuppressedDestination and ses:GetAccount (the suppression check before each send)")
	}

	d := m.declarations(t)
	if id := d.locals["ses_identity_arn"]; id == nil || !strings.Contains(m.text(id), ":ses:${local.region}:${local.account_id}:identity/${var.ses_identity}") {
		t.Errorf("local.ses_identity_arn is not the ARN of var.ses_identity")
	}
	for _, s := range policyStatements(t, m.one(t, "data", "aws_iam_policy_document", "mailer")) {
		if slices.Contains(s.actions, "kms:Decrypt") && !regexp.MustCompile(`^\[for (\w+) in aws_kms_key\.pool : (\w+)\.arn\]$`).MatchString(m.text(s.resources)) {
			t.Errorf("kms:Decrypt resources %s, want [for key in aws_kms_key.pool : key.arn]", m.text(s.resources))
		}
		// The logs resource is the log group's streams.
		if slices.Contains(s.actions, "logs:PutLogEvents") && !strings.Contains(m.text(s.resources), "${aws_cloudwatch_log_group.mailer.arn}:*") {
			t.Errorf("logs resources %s, want the log group's streams (<arn>:*)", m.text(s.resources))
		}
	}
}

func TestTerraformPoolKeys(t *testing.T) {
	m := loadModule(t, moduleDir)
	key := m.one(t, "resource", "aws_kms_key", "pool")
	if !hasRef(attr(t, key, "for_each"), "var.user_pools") {
		t.Errorf("aws_kms_key.pool is not one key per pool")
	}
	if m.text(attr(t, key, "enable_key_rotation")) != "true" {
		t.Errorf("pool keys should rotate")
	}
	if pol := attr(t, key, "policy"); !hasRef(pol, "data.aws_iam_policy_document.pool_key") || !hasRef(pol, "each.key") {
		t.Errorf("key policy = %s, want data.aws_iam_policy_document.pool_key[each.key].json", m.text(pol))
	}
	doc := m.one(t, "data", "aws_iam_policy_document", "pool_key")
	if !hasRef(attr(t, doc, "for_each"), "var.user_pools") {
		t.Errorf("the key policy is not one per pool")
	}
	var cognito []statement
	for _, s := range policyStatements(t, doc) {
		if slices.Contains(s.principals["Service"], "cognito-idp.amazonaws.com") {
			cognito = append(cognito, s)
		}
	}
	if len(cognito) != 1 {
		t.Fatalf("want one key policy statement for cognito-idp.amazonaws.com, found %d", len(cognito))
	}
	s := cognito[0]
	if s.effect != "Allow" || !slices.Equal(s.actions, []string{"kms:CreateGrant"}) {
		t.Errorf("Cognito is allowed %s %q, want Allow kms:CreateGrant only", s.effect, s.actions)
	}
	if v := s.condition(t, "aws:SourceAccount").values; !hasRef(v, "local.account_id") {
		t.Errorf("aws:SourceAccount = %s, want local.account_id", m.text(v))
	}
	c := s.condition(t, "aws:SourceArn")
	if !hasRef(c.values, "local.pool_arns") || !hasRef(c.values, "each.key") {
		t.Errorf("aws:SourceArn = %s, want this key's pool: local.pool_arns[each.key]", m.text(c.values))
	}
	if c.test != "ArnLike" && c.test != "ArnEquals" && c.test != "StringEquals" {
		t.Errorf("aws:SourceArn is tested with %s", c.test)
	}
	checkPoolARNs(t, m, m.declarations(t))
}

func TestTerraformIdempotencyTable(t *testing.T) {
	m := loadModule(t, moduleDir)
	tbl := m.one(t, "resource", "aws_dynamodb_table", "idempotency")
	hashKey := str(tbl, "hash_key")
	if hashKey != "id" {
		t.Errorf("hash_key %q, want id", hashKey)
	}
	if _, ok := tbl.Body.Attributes["range_key"]; ok {
		t.Errorf("the table has a range key; the mailer claims by id alone")
	}
	attrs := nested(tbl, "attribute")
	if len(attrs) != 1 || str(attrs[0], "name") != hashKey || str(attrs[0], "type") != "S" {
		t.Errorf("want exactly one attribute definition: %s of type S", hashKey)
	}
	ttl := nested(tbl, "ttl")
	if len(ttl) != 1 || m.text(attr(t, ttl[0], "enabled")) != "true" {
		t.Fatalf("want TTL enabled")
	}
	ttlAttr := str(ttl[0], "attribute_name")
	if ttlAttr != "expires_at" {
		t.Errorf("TTL attribute %q, want expires_at", ttlAttr)
	}
	// The same schema as the documentation and the code that writes it.
	rel, err := os.ReadFile("../docs/reliability.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rel), "Partition key `"+hashKey+"` (string). TTL attribute `"+ttlAttr+"`") {
		t.Errorf("docs/reliability.md no longer describes partition key %s and TTL attribute %s", hashKey, ttlAttr)
	}
	code, err := os.ReadFile("../internal/idempotency/idempotency.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{hashKey, ttlAttr} {
		if !strings.Contains(string(code), `"`+name+`"`) {
			t.Errorf("internal/idempotency does not write attribute %s", name)
		}
	}
}

func TestTerraformLambdaConfigOutput(t *testing.T) {
	m := loadModule(t, moduleDir)
	out := m.one(t, "output", "lambda_config")
	checkLambdaConfig(t, m.text, attr(t, out, "value"), "aws_lambda_function.mailer", "aws_kms_key.pool")

	cli := attr(t, m.one(t, "output", "update_user_pool_lambda_config"), "value")
	objs := findObjects(cli, "LambdaArn", "LambdaVersion")
	if len(objs) != 1 || m.text(objectValue(objs[0], "LambdaVersion")) != `"V1_0"` {
		t.Errorf("update_user_pool_lambda_config should hold CustomEmailSender {LambdaArn, LambdaVersion = V1_0}")
	}
	if len(findObjects(cli, "CustomEmailSender", "KMSKeyID")) != 1 {
		t.Errorf("update_user_pool_lambda_config should hold CustomEmailSender and KMSKeyID")
	}
}

// checkLambdaConfig finds custom_email_sender { lambda_arn, lambda_version }
// and kms_key_id in e, referencing fn and key.
func checkLambdaConfig(t *testing.T, text func(hclsyntax.Expression) string, e hclsyntax.Expression, fn, key string) {
	t.Helper()
	senders := findObjects(e, "lambda_arn", "lambda_version")
	if len(senders) != 1 {
		t.Fatalf("%s: want one custom_email_sender { lambda_arn, lambda_version }, found %d", e.Range(), len(senders))
	}
	if v := objectValue(senders[0], "lambda_version"); text(v) != `"V1_0"` {
		t.Errorf("lambda_version = %s, want \"V1_0\"", text(v))
	}
	if v := objectValue(senders[0], "lambda_arn"); !hasRef(v, fn) {
		t.Errorf("lambda_arn = %s, want %s", text(v), fn)
	}
	outer := findObjects(e, "custom_email_sender", "kms_key_id")
	if len(outer) != 1 {
		t.Fatalf("%s: want custom_email_sender and kms_key_id side by side", e.Range())
	}
	if v := objectValue(outer[0], "kms_key_id"); !hasRef(v, key) {
		t.Errorf("kms_key_id = %s, want %s", text(v), key)
	}
}

func TestTerraformInbound(t *testing.T) {
	m := loadModule(t, moduleDir)
	d := m.declarations(t)
	bucket := "aws_s3_bucket.inbound"
	m.one(t, "resource", "aws_s3_bucket", "inbound")

	// Bucket-side encryption, never the S3 action's kms_key_arn (SES would
	// encrypt client-side and a plain GetObject could not read the mail).
	sse := m.one(t, "resource", "aws_s3_bucket_server_side_encryption_configuration", "inbound")
	if !hasRef(attr(t, sse, "bucket"), bucket) {
		t.Errorf("the encryption configuration is not on the inbound bucket")
	}
	var algs []string
	for _, r := range nested(sse, "rule") {
		for _, def := range nested(r, "apply_server_side_encryption_by_default") {
			algs = append(algs, str(def, "sse_algorithm"))
		}
	}
	if len(algs) != 1 || (algs[0] != "AES256" && algs[0] != "aws:kms") {
		t.Errorf("bucket encryption %q, want SSE-S3 (AES256) or SSE-KMS", algs)
	}
	rule := m.one(t, "resource", "aws_ses_receipt_rule", "test_accounts")
	actions := nested(rule, "s3_action")
	if len(actions) != 1 {
		t.Fatalf("want one s3_action, found %d", len(actions))
	}
	if _, ok := actions[0].Body.Attributes["kms_key_arn"]; ok {
		t.Errorf("the s3_action sets kms_key_arn: SES would encrypt client-side; encrypt on the bucket instead")
	}
	if !hasRef(attr(t, actions[0], "bucket_name"), bucket) {
		t.Errorf("the s3_action does not write to the inbound bucket")
	}
	if !hasRef(attr(t, rule, "depends_on"), "aws_s3_bucket_policy.inbound") {
		t.Errorf("the receipt rule does not wait for the bucket policy (SES writes a test object on creation)")
	}
	if !hasRef(attr(t, rule, "name"), "local.inbound_rule_name") {
		t.Errorf("the receipt rule's name is not local.inbound_rule_name, which the bucket policy names")
	}

	// The bucket policy lets ses.amazonaws.com put objects for this rule, in
	// this account, and nobody else.
	bp := m.one(t, "resource", "aws_s3_bucket_policy", "inbound")
	if !hasRef(attr(t, bp, "policy"), "data.aws_iam_policy_document.inbound_bucket") || !hasRef(attr(t, bp, "bucket"), bucket) {
		t.Fatalf("the inbound bucket's policy is not data.aws_iam_policy_document.inbound_bucket")
	}
	var ses []statement
	for _, s := range policyStatements(t, m.one(t, "data", "aws_iam_policy_document", "inbound_bucket")) {
		if s.effect == "Allow" {
			if !slices.Equal(s.principals["Service"], []string{"ses.amazonaws.com"}) || len(s.principals) != 1 {
				t.Errorf("the bucket policy allows %v", s.principals)
			}
			ses = append(ses, s)
		}
	}
	if len(ses) != 1 || !slices.Equal(ses[0].actions, []string{"s3:PutObject"}) {
		t.Fatalf("want one Allow s3:PutObject for ses.amazonaws.com")
	}
	if v := ses[0].condition(t, "aws:SourceAccount").values; !hasRef(v, "local.account_id") {
		t.Errorf("aws:SourceAccount = %s", m.text(v))
	}
	if v := ses[0].condition(t, "aws:SourceArn").values; !hasRef(v, "local.inbound_rule_arn") {
		t.Errorf("aws:SourceArn = %s, want local.inbound_rule_arn", m.text(v))
	}
	ruleARN := m.text(d.locals["inbound_rule_arn"])
	if !regexp.MustCompile(`:ses:\$\{local\.region\}:\$\{local\.account_id\}:receipt-rule-set/.*:receipt-rule/\$\{local\.inbound_rule_name\}`).MatchString(ruleARN) {
		t.Errorf("local.inbound_rule_arn = %s, want the receipt rule's ARN", ruleARN)
	}

	pab := m.one(t, "resource", "aws_s3_bucket_public_access_block", "inbound")
	for _, a := range []string{"block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"} {
		if m.text(attr(t, pab, a)) != "true" {
			t.Errorf("public access block: %s is not true", a)
		}
	}

	// The round-trip role reads the copy and nothing else.
	var actionsAllowed []string
	for _, s := range policyStatements(t, m.one(t, "data", "aws_iam_policy_document", "roundtrip")) {
		actionsAllowed = append(actionsAllowed, s.actions...)
		if !hasRef(s.resources, bucket) {
			t.Errorf("round-trip statement %q is not on the inbound bucket", s.sid)
		}
	}
	sort.Strings(actionsAllowed)
	if !slices.Equal(actionsAllowed, []string{"s3:GetObject", "s3:ListBucket"}) {
		t.Errorf("the round-trip role may %q, want s3:GetObject and s3:ListBucket", actionsAllowed)
	}
	trust := policyStatements(t, m.one(t, "data", "aws_iam_policy_document", "roundtrip_assume"))
	if len(trust) != 1 || !slices.Equal(trust[0].actions, []string{"sts:AssumeRoleWithWebIdentity"}) {
		t.Fatalf("the round-trip role should be assumed with a web identity only")
	}
	trust[0].condition(t, "token.actions.githubusercontent.com:aud")
	if v := trust[0].condition(t, "token.actions.githubusercontent.com:sub").values; !strings.Contains(m.text(v), "repo:${var.roundtrip_github.repository}:ref:") {
		t.Errorf("the round-trip role's sub condition %s does not pin the repository and ref", m.text(v))
	}
}

func TestTerraformExample(t *testing.T) {
	m := loadModule(t, exampleDir)
	sub := loadModule(t, moduleDir)
	call := m.one(t, "module", "mailer")
	checkModuleCall(t, call, sub)
	if zip := m.text(attr(t, call, "lambda_zip")); zip != `"${path.root}/../../../../dist/lambda.zip"` {
		t.Errorf("the example deploys %s, want the repository's dist/lambda.zip", zip)
	}
	if abs, _ := filepath.Abs(filepath.Join(exampleDir, "../../../../dist")); abs != mustAbs(t, "../dist") {
		t.Errorf("the example's ../../../../dist is %s, not the repository's dist", abs)
	}

	// The example knows exactly Phenom's three pools, with their real ids.
	got := map[string]string{}
	d := m.declarations(t)
	for _, obj := range findObjects(d.locals["environments"], "pools") {
		for name, e := range objectKeys(t, objectValue(obj, "pools")) {
			got[name] = strs(e)[0]
		}
	}
	for name, id := range phenomPools {
		if got[name] != id {
			t.Errorf("pool %s = %q, want %s", name, got[name], id)
		}
	}
	if len(got) != len(phenomPools) {
		t.Errorf("the example serves pools %v, want exactly %v", got, phenomPools)
	}

	// tfvars set only declared variables, and every required one.
	p := hclparse.NewParser()
	for _, env := range []string{"development", "production"} {
		f, diags := p.ParseHCLFile(filepath.Join(exampleDir, env+".tfvars"))
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		attrs := f.Body.(*hclsyntax.Body).Attributes
		for name := range attrs {
			if d.variables[name] == nil {
				t.Errorf("%s.tfvars sets undeclared variable %s", env, name)
			}
		}
		for name, v := range d.variables {
			if _, hasDefault := v.Body.Attributes["default"]; !hasDefault && attrs[name] == nil {
				t.Errorf("%s.tfvars does not set %s", env, name)
			}
		}
		if v := strs(attrs["environment"].Expr); len(v) != 1 || v[0] != env {
			t.Errorf("%s.tfvars sets environment %q", env, v)
		}
		backend, diags := p.ParseHCLFile(filepath.Join(exampleDir, env+".s3.tfbackend"))
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		if b := strs(backend.Body.(*hclsyntax.Body).Attributes["bucket"].Expr); len(b) != 1 || b[0] != "phenom-"+env+"-tfstate" {
			t.Errorf("%s state goes to %q, want phenom-%s-tfstate", env, b, env)
		}
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}
