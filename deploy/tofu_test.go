package deploy

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// The module run by a real engine: OpenTofu (bin/tofu, built by `make deps`
// from the Go module proxy) with HashiCorp's AWS provider 5.100.0 (the
// filesystem mirror preinstalled on this kind of machine), against moto on
// 127.0.0.1 through the stand-in proxy. For the example root's development
// and production settings: init, validate, plan, apply, a second plan that
// must say "no changes", destroy.
//
// What moto lacks, and how the run deals with it:
//   - SES v2 GetConfigurationSet answers objects where SES sends booleans:
//     the provider talks to the proxy (standin.StartMoto), which corrects it.
//   - SES v2 event destinations: the proxy emulates them
//     (internal/testenv/standin/eventdest.go).
//   - SES v1 DeleteReceiptRule (moto answers 500): before destroy, the
//     receipt rule is removed from the state (`tofu state rm`), so destroy
//     does not ask moto to delete it. Everything else is destroyed for real.
//   - Lambda: moto creates functions without Docker (it only needs Docker to
//     invoke, which nothing here does).

// providerMirror is where the AWS provider is preinstalled as a Terraform
// filesystem mirror (registry.terraform.io host name).
const providerMirror = "/opt/tf-plugins/registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64"

// motoAccount is moto's default account id.
const motoAccount = "123456789012"

// tofuFailOrSkip fails under CI=true (CI must run this test) and skips
// elsewhere.
func tofuFailOrSkip(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: "+format, args...)
	}
	t.Skipf(format, args...)
}

// tofuBinary returns bin/tofu, building it with `make tofu` when it is
// missing (several minutes). Outside CI a failed build skips the test.
func tofuBinary(t *testing.T) string {
	t.Helper()
	bin := mustAbs(t, "../bin/tofu")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	t.Logf("bin/tofu is missing: building it with make tofu (several minutes)")
	cmd := exec.Command("make", "-C", "..", "tofu")
	if out, err := cmd.CombinedOutput(); err != nil {
		tofuFailOrSkip(t, "bin/tofu could not be built (make tofu): %v\n%s", err, tail(out, 2000))
	}
	return bin
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// pluginMirror lays the preinstalled provider out under the host name
// OpenTofu resolves hashicorp/aws to (registry.opentofu.org), as a hard link
// (a copy when linking fails), and returns the mirror's root.
func pluginMirror(t *testing.T) string {
	t.Helper()
	src := filepath.Join(providerMirror, "terraform-provider-aws_v5.100.0_x5")
	if _, err := os.Stat(src); err != nil {
		// Preinstalled on machines of this project's kind (CI included).
		tofuFailOrSkip(t, "the AWS provider 5.100.0 is not at %s: %v", providerMirror, err)
	}
	root := t.TempDir()
	dir := filepath.Join(root, "registry.opentofu.org/hashicorp/aws/5.100.0/linux_amd64")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, filepath.Base(src))
	if err := os.Link(src, dst); err != nil {
		in, err := os.Open(src)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// tofuRoot copies the module and the example root into dir, keeping their
// relative layout (the example's source = "../.." and its lambda_zip path
// still resolve), and adds the test's override file to the example.
func tofuRoot(t *testing.T, dir, override string) string {
	t.Helper()
	copyGlob := func(from, to string, patterns ...string) {
		if err := os.MkdirAll(to, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, p := range patterns {
			paths, _ := filepath.Glob(filepath.Join(from, p))
			for _, path := range paths {
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(to, filepath.Base(path)), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	mod := filepath.Join(dir, "deploy/terraform")
	copyGlob(moduleDir, mod, "*.tf")
	root := filepath.Join(mod, "examples/phenom")
	copyGlob(exampleDir, root, "*.tf", "*.tfvars")
	if err := os.WriteFile(filepath.Join(root, "moto_override.tf"), []byte(override), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// motoOverride is the example root's override for the run: local state,
// moto's account, every service at the stand-in, the provider version that
// is installed.
func motoOverride(endpoint string) string {
	services := []string{"cloudwatch", "dynamodb", "iam", "kms", "lambda", "logs", "s3", "ses", "sesv2", "sns", "sqs", "sts"}
	var eps strings.Builder
	for _, s := range services {
		fmt.Fprintf(&eps, "    %s = %q\n", s, endpoint)
	}
	return `terraform {
  backend "local" {}

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }
}

provider "aws" {
  region                      = "us-east-1"
  allowed_account_ids         = ["` + motoAccount + `"]
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true

  endpoints {
` + eps.String() + `  }
}
`
}

// dummyZip writes a small Lambda zip (a `bootstrap` script): moto stores it
// and never runs it.
func dummyZip(t *testing.T, path string) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "#!/bin/sh\nexit 1\n")
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// motoCall makes one signed AWS query-protocol call (form-encoded POST) to
// the stand-in: for what the example root reads but does not create.
func motoCall(ctx context.Context, endpoint, service, version string, params url.Values) error {
	params.Set("Version", version)
	body := params.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), service, standin.Region, time.Now()); err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", service, params.Get("Action"), resp.Status, tail(b, 500))
	}
	return nil
}

// motoGetJSON makes one signed GET to a REST-JSON API of the stand-in
// (Lambda's, here) and decodes the answer into v.
func motoGetJSON(ctx context.Context, endpoint, service, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+path, nil)
	if err != nil {
		return err
	}
	empty := sha256.Sum256(nil)
	creds := aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(empty[:]), service, standin.Region, time.Now()); err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	// 200, or 201: moto answers GetFunctionUrlConfig with 201 (AWS: 200).
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("%s GET %s: %s: %s", service, path, resp.Status, tail(b, 500))
	}
	return json.Unmarshal(b, v)
}

// seedMoto creates what the example root reads as data sources: the
// account's active receipt rule set and GitHub's OIDC provider.
func seedMoto(t *testing.T, endpoint string) {
	t.Helper()
	ctx := t.Context()
	calls := []struct {
		service, version string
		params           url.Values
	}{
		{"ses", "2010-12-01", url.Values{"Action": {"CreateReceiptRuleSet"}, "RuleSetName": {"phenom-inbound"}}},
		{"ses", "2010-12-01", url.Values{"Action": {"SetActiveReceiptRuleSet"}, "RuleSetName": {"phenom-inbound"}}},
		{"iam", "2010-05-08", url.Values{
			"Action": {"CreateOpenIDConnectProvider"}, "Url": {"https://token.actions.githubusercontent.com"},
			"ClientIDList.member.1": {"sts.amazonaws.com"}, "ThumbprintList.member.1": {strings.Repeat("a", 40)},
		}},
	}
	for _, c := range calls {
		if err := motoCall(ctx, endpoint, c.service, c.version, c.params); err != nil {
			t.Fatal(err)
		}
	}
}

// tofuRun runs tofu in dir with the test's CLI configuration and returns its
// exit code and combined output. Output never holds a secret here (moto's
// fixed test credentials only).
func tofuRun(t *testing.T, tofu, dir string, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tofu, args...)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("tofu %s: %v", strings.Join(args, " "), err)
	}
	return code, string(out)
}

// tofuMust runs tofu and fails on a non-zero exit.
func tofuMust(t *testing.T, tofu, dir string, env []string, args ...string) string {
	t.Helper()
	start := time.Now()
	code, out := tofuRun(t, tofu, dir, env, args...)
	t.Logf("tofu %s: exit %d in %s", args[0], code, time.Since(start).Round(time.Millisecond))
	// TOFU_DEBUG_OUT=1 logs every command's output (which resource waited
	// how long: the provider's own consistency waits on SQS, S3 and KMS are
	// most of the run).
	if os.Getenv("TOFU_DEBUG_OUT") != "" {
		t.Log(out)
	}
	if code != 0 {
		t.Fatalf("tofu %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// issue11Resources are the resources of issue 11 that every setting must
// create (addresses in the example root's state).
var issue11Resources = []string{
	"module.mailer.aws_cloudwatch_log_group.events",
	"module.mailer.aws_cloudwatch_metric_alarm.bounce_rate",
	"module.mailer.aws_cloudwatch_metric_alarm.complaint_rate",
	"module.mailer.aws_cloudwatch_metric_alarm.events_dlq",
	"module.mailer.aws_cloudwatch_metric_alarm.events_errors",
	"module.mailer.aws_cloudwatch_metric_alarm.failed",
	"module.mailer.aws_cloudwatch_metric_alarm.failed_events",
	"module.mailer.aws_cloudwatch_metric_alarm.suppressed",
	"module.mailer.aws_dynamodb_table.deliveries",
	"module.mailer.aws_iam_role.events",
	"module.mailer.aws_iam_role_policy.events",
	"module.mailer.aws_kms_alias.topics",
	"module.mailer.aws_kms_key.topics",
	"module.mailer.aws_lambda_event_source_mapping.ses_events",
	"module.mailer.aws_lambda_function.events",
	"module.mailer.aws_lambda_function_event_invoke_config.mailer",
	"module.mailer.aws_sesv2_configuration_set_event_destination.ses_events",
	"module.mailer.aws_sns_topic.alarms",
	"module.mailer.aws_sns_topic.ses_events",
	"module.mailer.aws_sns_topic_policy.alarms",
	"module.mailer.aws_sns_topic_policy.ses_events",
	"module.mailer.aws_sns_topic_subscription.alarms",
	"module.mailer.aws_sns_topic_subscription.ses_events",
	"module.mailer.aws_sqs_queue.failed_events",
	"module.mailer.aws_sqs_queue.ses_events",
	"module.mailer.aws_sqs_queue.ses_events_dlq",
	"module.mailer.aws_sqs_queue_policy.ses_events",
}

// issue12Resources are the send service's resources (enable_send_service is
// on by default; the example root keeps it).
var issue12Resources = []string{
	"module.mailer.aws_cloudwatch_log_group.send",
	"module.mailer.aws_cloudwatch_metric_alarm.send_dlq",
	"module.mailer.aws_cloudwatch_metric_alarm.send_errors",
	"module.mailer.aws_iam_role.send",
	"module.mailer.aws_iam_role_policy.send",
	"module.mailer.aws_lambda_event_source_mapping.send",
	"module.mailer.aws_lambda_function.send",
	"module.mailer.aws_lambda_function_url.send",
	"module.mailer.aws_sqs_queue.send",
	"module.mailer.aws_sqs_queue.send_dlq",
}

// esmInfo is an event source mapping as Lambda (moto) lists it.
type esmInfo struct {
	EventSourceArn        string
	FunctionArn           string
	BatchSize             int
	FunctionResponseTypes []string
	ScalingConfig         struct{ MaximumConcurrency int }
}

func TestTofuAppliesTheExample(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the engine run takes minutes")
	}
	// Mostly waiting (the provider's consistency waits): it runs beside the
	// package's other tests.
	t.Parallel()
	tofu := tofuBinary(t)
	mirror := pluginMirror(t)

	m := standin.MotoForTest(t)
	seedMoto(t, m.URL)

	cliConfig := filepath.Join(t.TempDir(), "tofu.rc")
	rc := fmt.Sprintf(`provider_installation {
  filesystem_mirror {
    path    = %q
    include = ["registry.opentofu.org/hashicorp/aws"]
  }
  direct {
    exclude = ["registry.opentofu.org/hashicorp/aws"]
  }
}
`, mirror)
	if err := os.WriteFile(cliConfig, []byte(rc), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "TF_") || strings.HasPrefix(kv, "AWS_")
	}),
		"TF_CLI_CONFIG_FILE="+cliConfig,
		"TF_IN_AUTOMATION=1",
		"TF_INPUT=0",
		"CHECKPOINT_DISABLE=1",
		"AWS_EC2_METADATA_DISABLED=true",
		"HOME="+t.TempDir(),
	)

	// The two settings share one moto (their resource names differ by
	// environment) and run side by side.
	var timings sync.Map
	for _, setting := range []string{"development", "production"} {
		t.Run(setting, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			root := tofuRoot(t, t.TempDir(), motoOverride(m.URL))
			vars := []string{"-var-file=" + setting + ".tfvars", "-var=alarm_emails=[\"oncall@example.com\"]", "-parallelism=30", "-input=false"}

			tofuMust(t, tofu, root, env, "init", "-input=false", "-no-color")

			// Without `make lambda`'s zip, validate already says what to do.
			code, out := tofuRun(t, tofu, root, env, "validate", "-no-color")
			if code == 0 || !strings.Contains(out, "run `make lambda`") {
				t.Fatalf("validate without dist/lambda.zip: exit %d, want the lambda_zip validation's message:\n%s", code, out)
			}
			dummyZip(t, filepath.Join(root, "../../../../dist/lambda.zip"))
			tofuMust(t, tofu, root, env, "validate", "-no-color")

			tofuMust(t, tofu, root, env, append([]string{"plan", "-no-color", "-out=tfplan"}, vars...)...)
			tofuMust(t, tofu, root, env, "apply", "-no-color", "-input=false", "-parallelism=30", "tfplan")

			// Every resource of issue 11 exists.
			state := tofuMust(t, tofu, root, env, "state", "list", "-no-color")
			have := map[string]bool{}
			for _, line := range strings.Split(state, "\n") {
				if i := strings.IndexByte(line, '['); i > 0 {
					line = line[:i]
				}
				have[strings.TrimSpace(line)] = true
			}
			for _, r := range append(slices.Clone(issue11Resources), issue12Resources...) {
				if !have[r] {
					t.Errorf("%s is not in the state after apply", r)
				}
			}

			// What doctor and the playbook read.
			var outputs map[string]struct{ Value any }
			if err := json.Unmarshal([]byte(tofuMust(t, tofu, root, env, "output", "-json")), &outputs); err != nil {
				t.Fatal(err)
			}
			prefix := "phenom-mailer-" + setting + "-"
			if got := outputs["alarm_prefix"].Value; got != prefix {
				t.Errorf("alarm_prefix = %v, want %s", got, prefix)
			}
			for name, suffix := range map[string]string{"events_dlq_url": "ses-events-dlq", "failed_events_queue_url": "failed-events"} {
				if got, _ := outputs[name].Value.(string); !strings.HasSuffix(got, "/"+prefix+suffix) {
					t.Errorf("%s = %q, want the queue %s%s", name, got, prefix, suffix)
				}
			}
			// The event destination, as SES (the stand-in) answers doctor.
			des, err := m.SESClient().GetConfigurationSetEventDestinations(t.Context(), &sesv2.GetConfigurationSetEventDestinationsInput{
				ConfigurationSetName: aws.String("phenom-mailer-" + setting),
			})
			if err != nil {
				t.Fatalf("GetConfigurationSetEventDestinations: %v", err)
			}
			if len(des.EventDestinations) != 1 || des.EventDestinations[0].SnsDestination == nil {
				t.Fatalf("event destinations %+v, want one SNS destination", des.EventDestinations)
			}
			var types []string
			for _, et := range des.EventDestinations[0].MatchingEventTypes {
				types = append(types, string(et))
			}
			sort.Strings(types)
			if !slices.Equal(types, []string{"BOUNCE", "COMPLAINT", "DELIVERY", "DELIVERY_DELAY", "REJECT", "RENDERING_FAILURE", "SEND"}) {
				t.Errorf("the configuration set publishes %q", types)
			}

			// The sender's failed events go to the failed-events queue, and
			// the events function reads the events queue reporting partial
			// batch failures: as Lambda (moto) holds them after the apply.
			var invoke struct {
				MaximumRetryAttempts int
				DestinationConfig    struct{ OnFailure struct{ Destination string } }
			}
			if err := motoGetJSON(t.Context(), m.URL, "lambda", "/2019-09-25/functions/phenom-mailer-"+setting+"/event-invoke-config", &invoke); err != nil {
				t.Fatal(err)
			}
			if want := "arn:aws:sqs:us-east-1:" + motoAccount + ":" + prefix + "failed-events"; invoke.DestinationConfig.OnFailure.Destination != want || invoke.MaximumRetryAttempts != 2 {
				t.Errorf("event invoke config %+v, want 2 retries and on failure %s", invoke, want)
			}
			var esms struct{ EventSourceMappings []esmInfo }
			if err := motoGetJSON(t.Context(), m.URL, "lambda", "/2015-03-31/event-source-mappings/", &esms); err != nil {
				t.Fatal(err)
			}
			for _, fn := range []string{"events", "send"} {
				mine := slices.DeleteFunc(slices.Clone(esms.EventSourceMappings), func(e esmInfo) bool {
					return !strings.HasSuffix(e.FunctionArn, ":function:"+prefix+fn)
				})
				if len(mine) != 1 {
					t.Fatalf("%d event source mappings for %s%s, want 1: %+v", len(mine), prefix, fn, esms)
				}
				queue := map[string]string{"events": "ses-events", "send": "send"}[fn]
				esm := mine[0]
				if !strings.HasSuffix(esm.EventSourceArn, ":"+prefix+queue) || esm.BatchSize != 10 ||
					!slices.Equal(esm.FunctionResponseTypes, []string{"ReportBatchItemFailures"}) || esm.ScalingConfig.MaximumConcurrency != 2 {
					t.Errorf("event source mapping of %s%s: %+v", prefix, fn, esm)
				}
			}
			checkSendService(t, m, prefix, outputs)

			// Applied means converged: a second plan has nothing to do
			// (-detailed-exitcode: 0 no changes, 2 changes).
			code, out = tofuRun(t, tofu, root, env, append([]string{"plan", "-no-color", "-detailed-exitcode"}, vars...)...)
			if code != 0 {
				t.Errorf("the second plan is not empty (exit %d):\n%s", code, out)
			}

			// moto has no DeleteReceiptRule: leave the rule out of destroy.
			if have["module.mailer.aws_ses_receipt_rule.test_accounts"] {
				tofuMust(t, tofu, root, env, "state", "rm", "-no-color", "module.mailer.aws_ses_receipt_rule.test_accounts[0]")
			}
			// The second plan has just refreshed every resource.
			tofuMust(t, tofu, root, env, append([]string{"destroy", "-no-color", "-auto-approve", "-refresh=false"}, vars...)...)
			if left := tofuMust(t, tofu, root, env, "state", "list", "-no-color"); strings.TrimSpace(left) != "" {
				t.Errorf("resources left after destroy:\n%s", left)
			}
			timings.Store(setting, time.Since(start).Round(time.Second))
		})
	}

	// Without the send service (enable_send_service = false, through an
	// override of the module block): the plan has none of its resources and
	// its outputs are null. A plan only: it proves the sender's conditional
	// MAILER_SEND_DLQ_URL evaluates with the queue absent (the planned
	// environment itself is unknown until the queues exist, so its keys are
	// not in the plan; deploy/send_test.go holds the conditional).
	t.Run("development without the send service", func(t *testing.T) {
		t.Parallel()
		override := motoOverride(m.URL) + "\nmodule \"mailer\" {\n  enable_send_service = false\n}\n"
		root := tofuRoot(t, t.TempDir(), override)
		dummyZip(t, filepath.Join(root, "../../../../dist/lambda.zip"))
		tofuMust(t, tofu, root, env, "init", "-input=false", "-no-color")
		tofuMust(t, tofu, root, env, "validate", "-no-color")
		tofuMust(t, tofu, root, env, "plan", "-no-color", "-out=tfplan", "-var-file=development.tfvars", "-input=false")
		var plan struct {
			ResourceChanges []struct{ Address string } `json:"resource_changes"`
			OutputChanges   map[string]struct {
				After        any `json:"after"`
				AfterUnknown any `json:"after_unknown"`
			} `json:"output_changes"`
		}
		if err := json.Unmarshal([]byte(tofuMust(t, tofu, root, env, "show", "-json", "-no-color", "tfplan")), &plan); err != nil {
			t.Fatal(err)
		}
		var sender bool
		for _, rc := range plan.ResourceChanges {
			for _, r := range issue12Resources {
				if rc.Address == r || strings.HasPrefix(rc.Address, r+"[") {
					t.Errorf("the plan without the send service has %s", rc.Address)
				}
			}
			sender = sender || rc.Address == "module.mailer.aws_lambda_function.mailer"
		}
		if !sender {
			t.Errorf("the plan has no module.mailer.aws_lambda_function.mailer")
		}
		for _, name := range []string{"send_queue_url", "send_dlq_url"} {
			if o, ok := plan.OutputChanges[name]; !ok || o.After != nil || o.AfterUnknown != false {
				t.Errorf("output %s without the send service: %+v (present %v), want null", name, o, ok)
			}
		}
	})
	t.Cleanup(func() {
		timings.Range(func(k, v any) bool {
			t.Logf("%s: init to destroy in %s", k, v)
			return true
		})
	})
}

// checkSendService checks the send service as AWS (moto) holds it after the
// apply: the function's environment, timeout and reserved concurrency, its
// URL's auth type, the queue's redrive and visibility timeout, and the
// caller's policy as the output prints it.
func checkSendService(t *testing.T, m *standin.Moto, prefix string, outputs map[string]struct{ Value any }) {
	t.Helper()
	ctx := t.Context()
	name := prefix + "send"
	fnARN := "arn:aws:lambda:us-east-1:" + motoAccount + ":function:" + name
	queueARN := "arn:aws:sqs:us-east-1:" + motoAccount + ":" + name

	var cfg struct {
		Timeout     int
		Environment struct{ Variables map[string]string }
	}
	if err := motoGetJSON(ctx, m.URL, "lambda", "/2015-03-31/functions/"+name+"/configuration", &cfg); err != nil {
		t.Fatal(err)
	}
	env := cfg.Environment.Variables
	for k, want := range map[string]string{
		"MAILER_SERVICE": "true", "MAILER_SERVICE_CONCURRENCY": "2", "MAILER_SERVICE_RATE": "14",
		"MAILER_IDEMPOTENCY_TABLE": prefix + "idempotency", "MAILER_DELIVERY_TABLE": prefix + "deliveries",
		"MAILER_CONFIGURATION_SET": strings.TrimSuffix(prefix, "-"), "MAILER_WEB_APP_URL": "https://www.thephenom.app",
	} {
		if env[k] != want {
			t.Errorf("the send function's %s = %q, want %q", k, env[k], want)
		}
	}
	for _, k := range []string{"MAILER_KMS_KEY_ARNS", "MAILER_ALLOWED_POOLS"} {
		if _, ok := env[k]; ok {
			t.Errorf("the send function has %s: it decrypts nothing", k)
		}
	}
	// Unset app store links are left out, not set empty.
	for _, k := range []string{"MAILER_APP_STORE_URL", "MAILER_PLAY_STORE_URL"} {
		if v, ok := env[k]; ok {
			t.Errorf("the send function has %s=%q, though the root does not set it", k, v)
		}
	}
	if cfg.Timeout != 30 {
		t.Errorf("the send function's timeout is %d s, want 30", cfg.Timeout)
	}
	var conc struct{ ReservedConcurrentExecutions int }
	if err := motoGetJSON(ctx, m.URL, "lambda", "/2019-09-30/functions/"+name+"/concurrency", &conc); err != nil {
		t.Fatal(err)
	}
	if conc.ReservedConcurrentExecutions != 2 {
		t.Errorf("the send function's reserved concurrency is %d, want 2 (service_max_concurrency)", conc.ReservedConcurrentExecutions)
	}
	var fu struct{ AuthType, FunctionUrl, FunctionArn string }
	if err := motoGetJSON(ctx, m.URL, "lambda", "/2021-10-31/functions/"+name+"/url", &fu); err != nil {
		t.Fatal(err)
	}
	if fu.AuthType != "AWS_IAM" {
		t.Errorf("the send function URL's auth type is %q, want AWS_IAM", fu.AuthType)
	}
	if got, _ := outputs["send_function_url"].Value.(string); got == "" || got != fu.FunctionUrl {
		t.Errorf("send_function_url = %q, Lambda has %q", got, fu.FunctionUrl)
	}

	queueURL, _ := outputs["send_queue_url"].Value.(string)
	if !strings.HasSuffix(queueURL, "/"+name) {
		t.Fatalf("send_queue_url = %q, want the queue %s", queueURL, name)
	}
	dlqURL, _ := outputs["send_dlq_url"].Value.(string)
	if !strings.HasSuffix(dlqURL, "/"+name+"-dlq") {
		t.Errorf("send_dlq_url = %q, want the queue %s-dlq", dlqURL, name)
	}
	// The sender's environment names it for `mailer doctor`.
	var sender struct {
		Environment struct{ Variables map[string]string }
	}
	if err := motoGetJSON(ctx, m.URL, "lambda", "/2015-03-31/functions/"+strings.TrimSuffix(prefix, "-")+"/configuration", &sender); err != nil {
		t.Fatal(err)
	}
	if got := sender.Environment.Variables["MAILER_SEND_DLQ_URL"]; got == "" || got != dlqURL {
		t.Errorf("the sender's MAILER_SEND_DLQ_URL = %q, want send_dlq_url %q", got, dlqURL)
	}
	attrs, err := m.SQSClient().GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queueURL), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := attrs.Attributes["VisibilityTimeout"]; got != "180" {
		t.Errorf("the send queue's visibility timeout is %s s, want 180 (6 x 30)", got)
	}
	var redrive struct {
		DeadLetterTargetArn string `json:"deadLetterTargetArn"`
		MaxReceiveCount     any    `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(attrs.Attributes["RedrivePolicy"]), &redrive); err != nil {
		t.Fatalf("the send queue's RedrivePolicy %q: %v", attrs.Attributes["RedrivePolicy"], err)
	}
	if redrive.DeadLetterTargetArn != queueARN+"-dlq" || fmt.Sprint(redrive.MaxReceiveCount) != "5" {
		t.Errorf("the send queue's redrive policy is %+v, want 5 receives then %s-dlq", redrive, queueARN)
	}

	// The caller's policy, as a caller would paste it.
	raw, _ := outputs["send_caller_policy_json"].Value.(string)
	var doc struct {
		Version   string
		Statement []struct {
			Sid       string
			Effect    string
			Action    any
			Resource  any
			Condition map[string]map[string]any
		}
	}
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatalf("send_caller_policy_json is not JSON: %v\n%s", err, raw)
	}
	if doc.Version != "2012-10-17" || len(doc.Statement) != 3 {
		t.Fatalf("send_caller_policy_json: version %q, %d statements, want 2012-10-17 and 3:\n%s", doc.Version, len(doc.Statement), raw)
	}
	want := map[string]struct {
		resource  string
		condition string
	}{
		"sqs:SendMessage":          {queueARN, "map[]"},
		"lambda:InvokeFunctionUrl": {fnARN, "map[StringEquals:map[lambda:FunctionUrlAuthType:AWS_IAM]]"},
		"lambda:InvokeFunction":    {fnARN, "map[Bool:map[lambda:InvokedViaFunctionUrl:true]]"},
	}
	for _, st := range doc.Statement {
		action := fmt.Sprint(st.Action)
		w, ok := want[action]
		if !ok || st.Effect != "Allow" {
			t.Errorf("send_caller_policy_json: %s %s", st.Effect, action)
			continue
		}
		delete(want, action)
		if fmt.Sprint(st.Resource) != w.resource {
			t.Errorf("send_caller_policy_json: %s on %v, want %s", action, st.Resource, w.resource)
		}
		cond := st.Condition
		if cond == nil {
			cond = map[string]map[string]any{}
		}
		if fmt.Sprint(cond) != w.condition {
			t.Errorf("send_caller_policy_json: %s condition %v, want %s", action, cond, w.condition)
		}
	}
	if len(want) != 0 {
		t.Errorf("send_caller_policy_json does not allow %v", keysOf(want))
	}
}
