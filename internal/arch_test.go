// The architecture rules of the tree, held by a test (after golang/vuln's
// all_test.go): what ships does not link the test support, the model and
// the templates know no AWS package, and no package under internal/ takes
// anything from the environment; cmd/ is where the environment is read.
package internal_test

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/Phenom-earth/phenom-mailer"

// testSupport are the homes of code that only tests, benchmarks and
// tooling use: the stand-ins (internal/testenv/...), the bench runner
// (internal/tools/...) and the tools' mains (tools/...).
var testSupport = []string{
	module + "/internal/testenv",
	module + "/internal/tools",
	module + "/tools",
}

// notShipped are the commands that are tools, not products: every other
// main under cmd/ is shipped (the Lambda's bootstrap, mailer, inboxreader).
var notShipped = map[string]bool{
	module + "/cmd/devstack": true,
}

func isTestSupport(path string) bool {
	for _, p := range testSupport {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

// goList runs go list in the module root and returns its output's lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = ".."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.Fields(string(out))
}

// TestShippedCodeLinksNoTestSupport: no package a shipped command links
// (non-test, transitively) is test support.
func TestShippedCodeLinksNoTestSupport(t *testing.T) {
	var shipped []string
	for _, p := range goList(t, "-f", "{{if eq .Name \"main\"}}{{.ImportPath}}{{end}}", "./cmd/...") {
		if !notShipped[p] {
			shipped = append(shipped, p)
		}
	}
	if len(shipped) < 2 {
		t.Fatalf("found %d shipped commands under cmd/, want at least mailer and inboxreader", len(shipped))
	}
	for _, cmd := range shipped {
		// One go list per command, so that a failure names the command
		// and the import chain can be found with go list -deps on it.
		for _, dep := range goList(t, "-deps", "-f", "{{.ImportPath}}", cmd) {
			if isTestSupport(dep) {
				t.Errorf("%s links test support %s: shipped code must not import it", cmd, dep)
			}
		}
	}
}

// TestModelKnowsNoAWS: render (the templates), cognito (the trigger's
// model and handler), service (the send service's handler) and pipeline
// (the stages they share) import no AWS package directly; the AWS clients
// reach them through the interfaces they declare.
func TestModelKnowsNoAWS(t *testing.T) {
	for _, pkg := range []string{"./internal/render", "./internal/cognito", "./internal/service", "./internal/pipeline"} {
		for _, imp := range goList(t, "-f", "{{join .Imports \" \"}}", pkg) {
			if strings.HasPrefix(imp, "github.com/aws/") {
				t.Errorf("%s imports %s: it must not know AWS", pkg, imp)
			}
		}
	}
}

// envReads are the functions that read the process environment.
var envReads = map[string]map[string]bool{
	"os":      {"Getenv": true, "LookupEnv": true, "Environ": true, "ExpandEnv": true},
	"syscall": {"Getenv": true, "Environ": true},
}

// TestInternalReadsNoEnvironment: no non-test file under internal/ reads an
// environment variable; commands read the environment and pass values in.
// The test support is exempt: it is the tests' own boundary (CI=true, the
// environment its child servers inherit), as cmd/ is the shipped code's.
// A child process that inherits the environment is not a read (exec.Cmd
// with Env nil, or cmd.Environ() plus a variable).
func TestInternalReadsNoEnvironment(t *testing.T) {
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path == "." {
				return nil
			}
			if isTestSupport(module+"/internal/"+filepath.ToSlash(path)) ||
				strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		checked++
		for _, read := range envReadsIn(f) {
			t.Errorf("%s: %s reads the environment: take the value as a parameter, read it in cmd/", fset.Position(read.Pos()), read.name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 20 {
		t.Fatalf("checked %d files under internal/: the walk missed the tree", checked)
	}
}

type envRead struct {
	ast.Node
	name string
}

// envReadsIn finds calls and references of envReads in f, under whatever
// name the file imports os and syscall.
func envReadsIn(f *ast.File) []envRead {
	local := map[string]string{} // local name -> import path
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if envReads[path] == nil {
			continue
		}
		name := path
		if imp.Name != nil {
			name = imp.Name.Name
		}
		local[name] = path
	}
	var reads []envRead
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		x, ok := sel.X.(*ast.Ident)
		if !ok {
			return true
		}
		if path, ok := local[x.Name]; ok && envReads[path][sel.Sel.Name] {
			reads = append(reads, envRead{sel, path + "." + sel.Sel.Name})
		}
		return true
	})
	return reads
}
