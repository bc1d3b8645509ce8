package deploy

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
)

const workflowsDir = "../.github/workflows"

func workflowFiles(t *testing.T) []string {
	t.Helper()
	var paths []string
	for _, pat := range []string{"*.yml", "*.yaml"} {
		p, err := filepath.Glob(filepath.Join(workflowsDir, pat))
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p...)
	}
	sort.Strings(paths)
	if len(paths) == 0 {
		t.Fatal("no workflows in .github/workflows")
	}
	return paths
}

// TestActionlint runs actionlint on every workflow, with the repository's
// .github/actionlint.yaml (the known repository variables). shellcheck checks
// the run: scripts when it is installed (CI installs it).
func TestActionlint(t *testing.T) {
	opts := &actionlint.LinterOptions{Oneline: true, ConfigFile: "../.github/actionlint.yaml"}
	if p, err := exec.LookPath("shellcheck"); err == nil {
		opts.Shellcheck = p
	} else {
		t.Log("shellcheck is not installed: run: scripts are not checked by it")
	}
	linter, err := actionlint.NewLinter(io.Discard, opts)
	if err != nil {
		t.Fatal(err)
	}
	errs, err := linter.LintFiles(workflowFiles(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		t.Errorf("actionlint: %s", e.Error())
	}
}

var (
	pinnedUses    = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[A-Za-z0-9_./-]+)?@[0-9a-f]{40}$`)
	versionRemark = regexp.MustCompile(`#\s*v\d+(\.\d+){0,2}\s*$`)
)

type workflow struct {
	path  string
	lines []string
	ast   *actionlint.Workflow
}

func parseWorkflow(t *testing.T, path string) workflow {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	w, errs := actionlint.Parse(src)
	for _, e := range errs {
		t.Errorf("%s: %s", path, e.Error())
	}
	if w == nil {
		t.FailNow()
	}
	return workflow{path: path, lines: strings.Split(string(src), "\n"), ast: w}
}

// TestActionsPinnedBySHA requires every action and reusable workflow to be
// pinned by a full 40-hex commit SHA, with the release it is in a comment on
// the same line: "uses: actions/checkout@<sha> # v7.0.1".
func TestActionsPinnedBySHA(t *testing.T) {
	var n int
	for _, path := range workflowFiles(t) {
		w := parseWorkflow(t, path)
		check := func(uses *actionlint.String) {
			n++
			if strings.HasPrefix(uses.Value, "./") {
				return // an action of this repository
			}
			if !pinnedUses.MatchString(uses.Value) {
				t.Errorf("%s:%d: uses %s is not pinned by a full commit SHA", path, uses.Pos.Line, uses.Value)
			}
			if line := w.lines[uses.Pos.Line-1]; !versionRemark.MatchString(line) {
				t.Errorf("%s:%d: uses %s has no \"# vX.Y.Z\" comment naming its release", path, uses.Pos.Line, uses.Value)
			}
		}
		for _, job := range w.ast.Jobs {
			if job.WorkflowCall != nil {
				check(job.WorkflowCall.Uses)
			}
			for _, s := range job.Steps {
				if a, ok := s.Exec.(*actionlint.ExecAction); ok {
					check(a.Uses)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no uses: found at all")
	}
}

// steps returns every step of the workflow's jobs, in job order.
func (w workflow) steps() []*actionlint.Step {
	ids := make([]string, 0, len(w.ast.Jobs))
	for id := range w.ast.Jobs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []*actionlint.Step
	for _, id := range ids {
		out = append(out, w.ast.Jobs[id].Steps...)
	}
	return out
}

func (w workflow) action(t *testing.T, name string) *actionlint.Step {
	t.Helper()
	for _, s := range w.steps() {
		if a, ok := s.Exec.(*actionlint.ExecAction); ok && strings.HasPrefix(a.Uses.Value, name+"@") {
			return s
		}
	}
	t.Fatalf("%s does not use %s", w.path, name)
	return nil
}

func (w workflow) runs() []string {
	var out []string
	for _, s := range w.steps() {
		if r, ok := s.Exec.(*actionlint.ExecRun); ok {
			out = append(out, r.Run.Value)
		}
	}
	return out
}

func input(s *actionlint.Step, name string) string {
	if in := s.Exec.(*actionlint.ExecAction).Inputs[name]; in != nil && in.Value != nil {
		return in.Value.Value
	}
	return ""
}

// TestCIRunsTheREADMETestCommand: CI runs the command the README gives for
// running every test, with CI=true so that nothing is skipped.
func TestCIRunsTheREADMETestCommand(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?m)^(make test)\\s+# every test").FindSubmatch(readme)
	if m == nil {
		t.Fatal("the README no longer gives `make test` as the command that runs every test")
	}
	w := parseWorkflow(t, filepath.Join(workflowsDir, "ci.yml"))
	var ran bool
	for _, r := range w.runs() {
		for _, line := range strings.Split(r, "\n") {
			if strings.TrimSpace(line) == string(m[1]) {
				ran = true
			}
		}
	}
	if !ran {
		t.Errorf("ci.yml does not run %q", m[1])
	}
	job := w.ast.Jobs["test"]
	if job == nil || job.Env == nil || job.Env.Vars["ci"] == nil || job.Env.Vars["ci"].Value.Value != "true" {
		t.Errorf("ci.yml's test job does not set CI=true: tests would skip for missing tools")
	}
}

// TestResetRoundTripWorkflow: scheduled and manual, AWS credentials through
// OIDC only, the round trip against phenom-staging with the flags
// cmd/inboxreader takes, and the report kept even when the round trip fails.
func TestResetRoundTripWorkflow(t *testing.T) {
	w := parseWorkflow(t, filepath.Join(workflowsDir, "reset-roundtrip.yml"))
	events := map[string]bool{}
	for _, e := range w.ast.On {
		events[e.EventName()] = true
	}
	if !events["schedule"] || !events["workflow_dispatch"] {
		t.Errorf("the round trip runs on %v, want schedule and workflow_dispatch", events)
	}
	perms := w.ast.Permissions
	if perms == nil || perms.Scopes["id-token"] == nil || perms.Scopes["id-token"].Value.Value != "write" {
		t.Errorf("the round trip needs permissions id-token: write for OIDC")
	}
	for name, scope := range perms.Scopes {
		if name != "id-token" && scope.Value.Value != "read" {
			t.Errorf("the round trip asks for %s: %s", name, scope.Value.Value)
		}
	}

	creds := w.action(t, "aws-actions/configure-aws-credentials")
	if role := input(creds, "role-to-assume"); !regexp.MustCompile(`^\$\{\{\s*vars\.\w+\s*\}\}$`).MatchString(role) {
		t.Errorf("role-to-assume = %q, want a repository variable", role)
	}
	for _, key := range []string{"aws-access-key-id", "aws-secret-access-key", "aws-session-token"} {
		if input(creds, key) != "" {
			t.Errorf("configure-aws-credentials is given %s: use the OIDC role only", key)
		}
	}
	if input(creds, "aws-region") != "us-east-1" {
		t.Errorf("aws-region = %q, want us-east-1 (the pools' region)", input(creds, "aws-region"))
	}

	var cmd string
	for _, r := range w.runs() {
		if strings.Contains(r, "inboxreader") && strings.Contains(r, " roundtrip") {
			cmd = strings.Join(strings.Fields(strings.ReplaceAll(r, "\\\n", " ")), " ")
		}
	}
	if cmd == "" {
		t.Fatal("no step runs inboxreader roundtrip")
	}
	for _, want := range []string{
		`go build -o "$RUNNER_TEMP/inboxreader" ./cmd/inboxreader`,
		`"$RUNNER_TEMP/inboxreader" roundtrip`,
		"--user-pool-id " + phenomPools["phenom-staging"],
		"--client-id 6sjjnkaeagnqgkmbl1mr5rtfsr",
		"--username test-staging@thephenom.app",
		`--source "s3://${INBOUND_BUCKET}/`,
		"--json > report.json",
	} {
		if !strings.Contains(cmd, want) {
			t.Errorf("the round trip command %q lacks %q", cmd, want)
		}
	}
	if strings.Contains(cmd, "go run ./cmd/inboxreader") {
		t.Errorf("go run turns the reader's exit codes (3, 4, 5) into 1: build and run the binary")
	}
	if strings.Contains(cmd, "--show-password") {
		t.Errorf("the round trip would print the test account's new password into the log and the artefact")
	}
	// Every flag the workflow passes is one inboxreader documents.
	usage, err := os.ReadFile("../cmd/inboxreader/main.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, flag := range regexp.MustCompile(`--[a-z-]+`).FindAllString(cmd, -1) {
		if !bytes.Contains(usage, []byte(flag+" ")) && !bytes.Contains(usage, []byte("["+flag+"]")) {
			t.Errorf("inboxreader does not document %s", flag)
		}
	}

	up := w.action(t, "actions/upload-artifact")
	if up.If == nil || !strings.Contains(up.If.Value, "always()") {
		t.Errorf("the report is not uploaded when the round trip fails (want if: always())")
	}
	if input(up, "path") != "report.json" {
		t.Errorf("upload-artifact path = %q, want report.json", input(up, "path"))
	}
}
