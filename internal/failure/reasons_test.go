package failure

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const importPath = "github.com/Phenom-earth/phenom-mailer/internal/failure"

// reasonConsts parses reasons.go: the name of each Reason constant and its
// value.
func reasonConsts(t *testing.T) map[string]Reason {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "reasons.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Reason{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Reason" {
				continue
			}
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok {
					t.Fatalf("%s is not a string literal", name.Name)
				}
				v, _ := strconv.Unquote(lit.Value)
				out[name.Name] = Reason(v)
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no Reason constants found in reasons.go")
	}
	return out
}

var snake = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// TestReasonsTable: every Reason constant is in Reasons exactly once, with a
// class and a meaning, and Class reads it back.
func TestReasonsTable(t *testing.T) {
	consts := reasonConsts(t)
	byValue := map[Reason]string{}
	for name, v := range consts {
		if other, dup := byValue[v]; dup {
			t.Errorf("%s and %s are both %q", name, other, v)
		}
		byValue[v] = name
	}
	seen := map[Reason]bool{}
	for _, ri := range Reasons {
		if seen[ri.Reason] {
			t.Errorf("%q is in Reasons twice", ri.Reason)
		}
		seen[ri.Reason] = true
		if _, ok := byValue[ri.Reason]; !ok {
			t.Errorf("%q is in Reasons but is no Reason constant", ri.Reason)
		}
		if !snake.MatchString(string(ri.Reason)) {
			t.Errorf("%q is not snake_case", ri.Reason)
		}
		if ri.Class < ClassPermanent || ri.Class > ClassDuplicate {
			t.Errorf("%q has no class", ri.Reason)
		}
		if ri.Reason.Class() != ri.Class {
			t.Errorf("%q: Class() = %v, want %v", ri.Reason, ri.Reason.Class(), ri.Class)
		}
		if strings.TrimSpace(ri.Meaning) == "" || strings.Contains(ri.Meaning, "\n") {
			t.Errorf("%q needs one line of meaning", ri.Reason)
		}
	}
	for name, v := range consts {
		if !seen[v] {
			t.Errorf("%s (%q) is not in Reasons", name, v)
		}
	}
	if Reason("no_such_reason").Class() != 0 {
		t.Error("an unknown reason has a class")
	}
}

// TestReasonCallSites walks the module's Go files: every Permanent and
// Retryable call names a Reason constant of the matching class (no string,
// no variable), nothing outside this package converts to Reason or builds an
// Error by hand, and every reason is used by shipped code.
func TestReasonCallSites(t *testing.T) {
	consts := reasonConsts(t)
	root := filepath.Join("..", "..")
	used := map[Reason]bool{}
	calls := 0
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		inPkg := filepath.Dir(path) == filepath.Join(root, "internal", "failure") && f.Name.Name == "failure"
		local := ""
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == importPath {
				local = "failure"
				if imp.Name != nil {
					local = imp.Name.Name
				}
			}
		}
		if !inPkg && local == "" {
			return nil
		}
		shipped := !strings.HasSuffix(path, "_test.go")
		// ref returns the name X of failure.X (or X inside this package).
		ref := func(e ast.Expr) (string, bool) {
			switch e := e.(type) {
			case *ast.SelectorExpr:
				if x, ok := e.X.(*ast.Ident); ok && local != "" && x.Name == local {
					return e.Sel.Name, true
				}
			case *ast.Ident:
				if inPkg {
					return e.Name, true
				}
			}
			return "", false
		}
		where := func(n ast.Node) string { return fset.Position(n.Pos()).String() }
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr, *ast.Ident:
				if name, ok := ref(n.(ast.Expr)); ok && shipped {
					if v, ok := consts[name]; ok {
						used[v] = true
					}
				}
			case *ast.CompositeLit:
				if name, ok := ref(n.Type); ok && name == "Error" && !inPkg {
					t.Errorf("%s: builds a failure.Error by hand: use failure.Permanent or failure.Retryable", where(n))
				}
			case *ast.CallExpr:
				name, ok := ref(n.Fun)
				if !ok {
					return true
				}
				switch name {
				case "Reason":
					if !inPkg {
						t.Errorf("%s: converts to failure.Reason: use a constant from internal/failure/reasons.go", where(n))
					}
				case "Permanent", "Retryable":
					calls++
					want := map[string]Class{"Permanent": ClassPermanent, "Retryable": ClassRetryable}[name]
					arg, ok := ref(n.Args[0])
					v, known := consts[arg]
					if !ok || !known {
						t.Errorf("%s: failure.%s takes a Reason constant from internal/failure/reasons.go, not %s", where(n), name, describe(n.Args[0]))
						return true
					}
					if c := v.Class(); c != want {
						t.Errorf("%s: failure.%s(%s): %q is %v, not %v", where(n), name, arg, v, c, want)
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls < 40 {
		t.Fatalf("found only %d Permanent/Retryable calls: the walk missed the module", calls)
	}
	for _, ri := range Reasons {
		if !used[ri.Reason] {
			t.Errorf("%q is in Reasons but no shipped code uses it", ri.Reason)
		}
	}
}

// describe describes an argument for a failure message.
func describe(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.BasicLit:
		return "the literal " + e.Value
	case *ast.Ident:
		return "the identifier " + e.Name
	}
	return "an expression"
}

// TestREADMEReasons: the README's reason table, in "What it checks, and the
// failure policy", lists exactly Reasons, each with its class's outcome.
func TestREADMEReasons(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	start := strings.Index(s, "\n### What it checks, and the failure policy\n")
	if start < 0 {
		t.Fatal("README has no section \"What it checks, and the failure policy\"")
	}
	section := s[start+1:]
	if end := strings.Index(section[4:], "\n#"); end >= 0 {
		section = section[:end+4]
	}
	outcomes := map[string]Class{"refused": ClassPermanent, "failed": ClassRetryable, "suppressed": ClassSuppressed, "duplicate": ClassDuplicate}
	row := regexp.MustCompile("(?m)^\\| `([^`]+)` \\| ([a-z]+) \\|")
	inTable := false
	readme := map[Reason]Class{}
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "| reason | outcome |") {
			inTable = true
			continue
		}
		if !inTable || strings.HasPrefix(line, "|---") {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			break
		}
		m := row.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("README reason row not understood: %s", line)
			continue
		}
		c, ok := outcomes[m[2]]
		if !ok {
			t.Errorf("README: %s has outcome %q, not refused, failed, suppressed or duplicate", m[1], m[2])
		}
		if _, dup := readme[Reason(m[1])]; dup {
			t.Errorf("README lists %s twice", m[1])
		}
		readme[Reason(m[1])] = c
	}
	if len(readme) == 0 {
		t.Fatal("README's failure policy has no \"| reason | outcome |\" table")
	}
	for r, c := range readme {
		if r.Class() == 0 {
			t.Errorf("README names %q, which is not in failure.Reasons", r)
		} else if r.Class() != c {
			t.Errorf("README says %q is %v, the code says %v", r, c, r.Class())
		}
	}
	for _, ri := range Reasons {
		if _, ok := readme[ri.Reason]; !ok {
			t.Errorf("%q (%v) is missing from the README's reason table", ri.Reason, ri.Class)
		}
	}
}
