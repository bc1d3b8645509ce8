package deploy

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// tfModule is one Terraform module folder, parsed with HCL's native syntax
// parser: what a Terraform binary would read, without the binary.
type tfModule struct {
	dir    string
	src    map[string][]byte // file name => contents
	blocks []*hclsyntax.Block
}

func loadModule(t *testing.T, dir string) *tfModule {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no .tf files in %s (%v)", dir, err)
	}
	m := &tfModule{dir: dir, src: map[string][]byte{}}
	p := hclparse.NewParser()
	for _, path := range paths {
		f, diags := p.ParseHCLFile(path)
		if diags.HasErrors() {
			t.Fatalf("%s", diags.Error())
		}
		m.src[path] = f.Bytes
		m.blocks = append(m.blocks, f.Body.(*hclsyntax.Body).Blocks...)
	}
	return m
}

// find returns the top-level blocks of type typ whose labels start with
// labels.
func (m *tfModule) find(typ string, labels ...string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range m.blocks {
		if b.Type == typ && len(b.Labels) >= len(labels) && slices.Equal(b.Labels[:len(labels)], labels) {
			out = append(out, b)
		}
	}
	return out
}

// one returns the single top-level block typ with exactly these labels.
func (m *tfModule) one(t *testing.T, typ string, labels ...string) *hclsyntax.Block {
	t.Helper()
	bs := m.find(typ, labels...)
	if len(bs) != 1 {
		t.Fatalf("%s: want one %s %q, found %d", m.dir, typ, labels, len(bs))
	}
	return bs[0]
}

// text is the source text of an expression, as written.
func (m *tfModule) text(e hclsyntax.Expression) string {
	r := e.Range()
	return string(m.src[r.Filename][r.Start.Byte:r.End.Byte])
}

// attr returns b's attribute name or fails.
func attr(t *testing.T, b *hclsyntax.Block, name string) hclsyntax.Expression {
	t.Helper()
	a, ok := b.Body.Attributes[name]
	if !ok {
		t.Fatalf("%s %q (%s): no %s", b.Type, b.Labels, b.TypeRange, name)
	}
	return a.Expr
}

// nested returns b's nested blocks of type typ.
func nested(b *hclsyntax.Block, typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, n := range b.Body.Blocks {
		if n.Type == typ {
			out = append(out, n)
		}
	}
	return out
}

// static evaluates an expression that needs no variables.
func static(e hclsyntax.Expression) (cty.Value, bool) {
	if len(hclsyntax.Variables(e)) > 0 {
		return cty.NilVal, false
	}
	v, diags := e.Value(nil)
	return v, !diags.HasErrors()
}

// strs is a static string or list of strings as a Go slice; nil if the
// expression is not static.
func strs(e hclsyntax.Expression) []string {
	v, ok := static(e)
	if !ok || v.IsNull() {
		return nil
	}
	if v.Type() == cty.String {
		return []string{v.AsString()}
	}
	if !v.CanIterateElements() {
		return nil
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, ev := it.Element()
		if ev.Type() != cty.String {
			return nil
		}
		out = append(out, ev.AsString())
	}
	return out
}

// str is a static string attribute of b, "" when absent or not static.
func str(b *hclsyntax.Block, name string) string {
	a, ok := b.Body.Attributes[name]
	if !ok {
		return ""
	}
	s := strs(a.Expr)
	if len(s) != 1 {
		return ""
	}
	return s[0]
}

// traversalName renders a traversal without its index steps:
// aws_s3_bucket.inbound[0].arn => aws_s3_bucket.inbound.arn.
func traversalName(tr hcl.Traversal) string {
	var sb strings.Builder
	for _, step := range tr {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			sb.WriteString(s.Name)
		case hcl.TraverseAttr:
			sb.WriteString("." + s.Name)
		}
	}
	return sb.String()
}

// refs are the references an expression makes (for-expression variables
// excluded), sorted and without duplicates.
func refs(e hclsyntax.Expression) []string {
	var out []string
	for _, tr := range hclsyntax.Variables(e) {
		out = append(out, traversalName(tr))
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// hasRef reports whether e references want or something under it
// (aws_kms_key.pool matches aws_kms_key.pool.arn).
func hasRef(e hclsyntax.Expression, want string) bool {
	for _, r := range refs(e) {
		if r == want || strings.HasPrefix(r, want+".") {
			return true
		}
	}
	return false
}

// statement is one statement of a data "aws_iam_policy_document".
type statement struct {
	sid        string
	effect     string
	actions    []string
	resources  hclsyntax.Expression // nil when absent
	principals map[string][]string  // type => identifiers (static ones)
	conditions []condition
}

type condition struct {
	test, variable string
	values         hclsyntax.Expression
}

func policyStatements(t *testing.T, doc *hclsyntax.Block) []statement {
	t.Helper()
	var out []statement
	for _, b := range nested(doc, "statement") {
		s := statement{sid: str(b, "sid"), effect: str(b, "effect"), principals: map[string][]string{}}
		if s.effect == "" {
			s.effect = "Allow"
		}
		if _, ok := b.Body.Attributes["not_actions"]; ok {
			t.Errorf("statement %q uses not_actions: list what is allowed instead", s.sid)
		}
		if _, ok := b.Body.Attributes["not_resources"]; ok {
			t.Errorf("statement %q uses not_resources", s.sid)
		}
		s.actions = strs(attr(t, b, "actions"))
		if s.actions == nil {
			t.Errorf("statement %q: actions are not a static list", s.sid)
		}
		if a, ok := b.Body.Attributes["resources"]; ok {
			s.resources = a.Expr
		}
		for _, p := range nested(b, "principals") {
			typ := str(p, "type")
			s.principals[typ] = append(s.principals[typ], strs(attr(t, p, "identifiers"))...)
		}
		for _, c := range nested(b, "condition") {
			s.conditions = append(s.conditions, condition{test: str(c, "test"), variable: str(c, "variable"), values: attr(t, c, "values")})
		}
		out = append(out, s)
	}
	return out
}

// condition returns the statement's condition on variable, or fails.
func (s statement) condition(t *testing.T, variable string) condition {
	t.Helper()
	for _, c := range s.conditions {
		if strings.EqualFold(c.variable, variable) {
			return c
		}
	}
	t.Errorf("statement %q has no %s condition", s.sid, variable)
	return condition{values: &hclsyntax.LiteralValueExpr{Val: cty.NullVal(cty.String)}}
}

// declarations are the names a module declares, for checking references.
type declarations struct {
	variables map[string]*hclsyntax.Block
	locals    map[string]hclsyntax.Expression
	resources map[string]bool // TYPE.NAME
	data      map[string]bool // data.TYPE.NAME
	modules   map[string]*tfModule
	outputs   map[string]*hclsyntax.Block
}

func (m *tfModule) declarations(t *testing.T) declarations {
	t.Helper()
	d := declarations{
		variables: map[string]*hclsyntax.Block{}, locals: map[string]hclsyntax.Expression{},
		resources: map[string]bool{}, data: map[string]bool{},
		modules: map[string]*tfModule{}, outputs: map[string]*hclsyntax.Block{},
	}
	for _, b := range m.blocks {
		switch b.Type {
		case "variable":
			d.variables[b.Labels[0]] = b
		case "locals":
			for name, a := range b.Body.Attributes {
				if _, dup := d.locals[name]; dup {
					t.Errorf("local %s is defined twice", name)
				}
				d.locals[name] = a.Expr
			}
		case "resource":
			d.resources[b.Labels[0]+"."+b.Labels[1]] = true
		case "data":
			d.data["data."+b.Labels[0]+"."+b.Labels[1]] = true
		case "module":
			src := str(b, "source")
			if !strings.HasPrefix(src, "./") && !strings.HasPrefix(src, "../") {
				t.Fatalf("module %s: source %q is not a local path", b.Labels[0], src)
			}
			d.modules[b.Labels[0]] = loadModule(t, filepath.Join(m.dir, src))
		case "output":
			d.outputs[b.Labels[0]] = b
		}
	}
	return d
}

// checkReferences is the part of `terraform validate` that needs no
// provider: every var, local, resource, data source and module output an
// expression names is declared.
func (m *tfModule) checkReferences(t *testing.T, d declarations) {
	t.Helper()
	for _, b := range m.blocks {
		walkExprs(b.Body, func(e hclsyntax.Expression) {
			if b.Type == "variable" && e == b.Body.Attributes["type"].Expr {
				return // a type constraint, not an expression
			}
			for _, tr := range hclsyntax.Variables(e) {
				m.checkReference(t, d, tr)
			}
		})
	}
}

func (m *tfModule) checkReference(t *testing.T, d declarations, tr hcl.Traversal) {
	t.Helper()
	var names []string
	for _, step := range tr {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			names = append(names, s.Name)
		case hcl.TraverseAttr:
			names = append(names, s.Name)
		}
	}
	at := tr.SourceRange()
	need := func(n int) bool {
		if len(names) < n {
			t.Errorf("%s: incomplete reference %s", at, traversalName(tr))
			return false
		}
		return true
	}
	switch names[0] {
	case "each", "count", "path", "terraform", "self":
	case "var":
		if need(2) && d.variables[names[1]] == nil {
			t.Errorf("%s: var.%s is not declared", at, names[1])
		}
	case "local":
		if need(2) && d.locals[names[1]] == nil {
			t.Errorf("%s: local.%s is not defined", at, names[1])
		}
	case "data":
		if need(3) && !d.data[strings.Join(names[:3], ".")] {
			t.Errorf("%s: %s is not declared", at, strings.Join(names[:3], "."))
		}
	case "module":
		if !need(3) {
			return
		}
		sub := d.modules[names[1]]
		if sub == nil {
			t.Errorf("%s: module.%s is not declared", at, names[1])
			return
		}
		if len(sub.find("output", names[2])) == 0 {
			t.Errorf("%s: module.%s has no output %s", at, names[1], names[2])
		}
	default:
		if need(2) && !d.resources[names[0]+"."+names[1]] {
			t.Errorf("%s: resource %s.%s is not declared", at, names[0], names[1])
		}
	}
}

// walkExprs calls f on every attribute expression in body and its nested
// blocks.
func walkExprs(body *hclsyntax.Body, f func(hclsyntax.Expression)) {
	for _, a := range body.Attributes {
		f(a.Expr)
	}
	for _, b := range body.Blocks {
		walkExprs(b.Body, f)
	}
}

// checkFormatted is `terraform fmt -check`: the files are as hclwrite
// formats them.
func (m *tfModule) checkFormatted(t *testing.T) {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(m.dir, "*.tf*"))
	for _, path := range paths {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := hclwrite.Format(src); !bytes.Equal(got, src) {
			t.Errorf("%s is not formatted as `terraform fmt` would (hclwrite.Format)", path)
		}
	}
}

// checkModuleCall checks that a module block passes every variable the
// module requires and nothing it does not declare.
func checkModuleCall(t *testing.T, call *hclsyntax.Block, sub *tfModule) {
	t.Helper()
	declared := map[string]bool{}
	for _, v := range sub.find("variable") {
		name := v.Labels[0]
		declared[name] = true
		if _, hasDefault := v.Body.Attributes["default"]; !hasDefault {
			if _, given := call.Body.Attributes[name]; !given {
				t.Errorf("module %s does not set %s, which has no default", call.Labels[0], name)
			}
		}
	}
	meta := map[string]bool{"source": true, "version": true, "providers": true, "count": true, "for_each": true, "depends_on": true}
	for name := range call.Body.Attributes {
		if !meta[name] && !declared[name] {
			t.Errorf("module %s sets %s, which the module does not declare", call.Labels[0], name)
		}
	}
}

var getenvName = regexp.MustCompile(`(?:getenv|boolVar|str)\("([A-Z][A-Z0-9_]+)"`)

// mailerEnvNames are the environment variables cmd/mailer reads.
func mailerEnvNames(t *testing.T) map[string]bool {
	t.Helper()
	src, err := os.ReadFile("../cmd/mailer/config.go")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, m := range getenvName.FindAllStringSubmatch(string(src), -1) {
		names[m[1]] = true
	}
	if len(names) < 10 {
		t.Fatalf("found only %d getenv names in cmd/mailer/config.go: the pattern no longer matches how it reads its environment", len(names))
	}
	return names
}

// objectKeys are the keys of an object constructor { KEY = value }.
func objectKeys(t *testing.T, e hclsyntax.Expression) map[string]hclsyntax.Expression {
	t.Helper()
	obj, ok := e.(*hclsyntax.ObjectConsExpr)
	if !ok {
		t.Fatalf("%s: not an object constructor", e.Range())
	}
	out := map[string]hclsyntax.Expression{}
	for _, item := range obj.Items {
		k, diags := item.KeyExpr.Value(nil)
		if diags.HasErrors() || k.Type() != cty.String {
			t.Fatalf("%s: key is not a plain name", item.KeyExpr.Range())
		}
		out[k.AsString()] = item.ValueExpr
	}
	return out
}

// findObjects returns every object constructor inside e that has all keys.
func findObjects(e hclsyntax.Expression, keys ...string) []*hclsyntax.ObjectConsExpr {
	var out []*hclsyntax.ObjectConsExpr
	hclsyntax.VisitAll(e, func(n hclsyntax.Node) hcl.Diagnostics {
		obj, ok := n.(*hclsyntax.ObjectConsExpr)
		if !ok {
			return nil
		}
		have := map[string]bool{}
		for _, item := range obj.Items {
			if k, diags := item.KeyExpr.Value(nil); !diags.HasErrors() && k.Type() == cty.String {
				have[k.AsString()] = true
			}
		}
		for _, k := range keys {
			if !have[k] {
				return nil
			}
		}
		out = append(out, obj)
		return nil
	})
	return out
}

// objectValue is the value expression of key in obj.
func objectValue(obj *hclsyntax.ObjectConsExpr, key string) hclsyntax.Expression {
	for _, item := range obj.Items {
		if k, diags := item.KeyExpr.Value(nil); !diags.HasErrors() && k.Type() == cty.String && k.AsString() == key {
			return item.ValueExpr
		}
	}
	return nil
}

// envVars are the names and value expressions of a Lambda environment's
// variables: an object constructor, a local holding one, merge() of those
// (later arguments win, as in Terraform), or a conditional between them
// (the names either branch may set).
func envVars(t *testing.T, d declarations, e hclsyntax.Expression) map[string]hclsyntax.Expression {
	t.Helper()
	switch x := e.(type) {
	case *hclsyntax.ObjectConsExpr:
		return objectKeys(t, x)
	case *hclsyntax.ScopeTraversalExpr:
		if p := strings.Split(traversalName(x.Traversal), "."); len(p) == 2 && p[0] == "local" && d.locals[p[1]] != nil {
			return envVars(t, d, d.locals[p[1]])
		}
	case *hclsyntax.ConditionalExpr:
		out := envVars(t, d, x.TrueResult)
		for k, v := range envVars(t, d, x.FalseResult) {
			out[k] = v
		}
		return out
	case *hclsyntax.FunctionCallExpr:
		if x.Name == "merge" {
			out := map[string]hclsyntax.Expression{}
			for _, arg := range x.Args {
				for k, v := range envVars(t, d, arg) {
					out[k] = v
				}
			}
			return out
		}
	}
	t.Fatalf("%s: not an object, a local holding one, or merge() of those", e.Range())
	return nil
}
