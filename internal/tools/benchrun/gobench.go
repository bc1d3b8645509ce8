package benchrun

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// GoBench is every run of one Go benchmark: each unit ("ns/op", "B/op",
// "allocs/op" and custom metrics such as "own-ms/op") with one value per run.
type GoBench struct {
	Pkg   string // import path
	Name  string // BenchmarkX
	About string // first sentence of the benchmark's doc comment
	Units []string
	Runs  map[string][]float64
}

// Median is the median over the runs of unit, and whether it was reported.
func (g *GoBench) Median(unit string) (float64, bool) {
	v, ok := g.Runs[unit]
	if !ok || len(v) == 0 {
		return 0, false
	}
	return Median(v), true
}

// Count is how many runs reported ns/op.
func (g *GoBench) Count() int { return len(g.Runs["ns/op"]) }

var (
	benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)
	pkgLine   = regexp.MustCompile(`^pkg: (\S+)`)
	okLine    = regexp.MustCompile(`^(?:ok|FAIL|\?)\s+(\S+)`)
)

// ParseBenchOutput reads `go test -bench` output. Results are keyed by
// package and name, in the order first seen.
func ParseBenchOutput(out []byte) []*GoBench {
	var order []*GoBench
	byKey := map[string]*GoBench{}
	pkg := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if m := pkgLine.FindStringSubmatch(l); m != nil {
			pkg = m[1]
			continue
		}
		m := benchLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		key := pkg + "." + m[1]
		g := byKey[key]
		if g == nil {
			g = &GoBench{Pkg: pkg, Name: m[1], Runs: map[string][]float64{}}
			byKey[key] = g
			order = append(order, g)
		}
		f := strings.Fields(m[2])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			unit := f[i+1]
			if _, seen := g.Runs[unit]; !seen {
				g.Units = append(g.Units, unit)
			}
			g.Runs[unit] = append(g.Runs[unit], v)
		}
	}
	return order
}

// ParseBenchList reads `go test -list '^Benchmark' PKGS` output: the
// benchmark names of each package (the names come before the package's
// "ok" line).
func ParseBenchList(out []byte) map[string][]string {
	res := map[string][]string{}
	var pending []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "Benchmark") && !strings.ContainsAny(l, " \t") {
			pending = append(pending, l)
			continue
		}
		if m := okLine.FindStringSubmatch(l); m != nil {
			if len(pending) > 0 {
				res[m[1]] = append(res[m[1]], pending...)
			}
			pending = nil
		}
	}
	return res
}

// goTool runs the go command in dir, its output copied to log, and returns
// stdout.
func goTool(ctx context.Context, goCmd, dir string, env []string, log io.Writer, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = env
	}
	var out bytes.Buffer
	cmd.Stdout = io.MultiWriter(&out, log)
	cmd.Stderr = log
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("%s %s: %w", goCmd, strings.Join(args, " "), err)
	}
	return out.Bytes(), nil
}

// benchDocs returns the first sentence of the doc comment of every
// Benchmark function in the _test.go files of dir.
func benchDocs(dir string) map[string]string {
	res := map[string]string{}
	files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
	fset := token.NewFileSet()
	var p doc.Package
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			continue
		}
		for _, d := range af.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !strings.HasPrefix(fn.Name.Name, "Benchmark") || fn.Doc == nil {
				continue
			}
			text := strings.Join(strings.Fields(fn.Doc.Text()), " ")
			// "BenchmarkX is one thing." → "One thing."
			syn := p.Synopsis(text)
			for _, pre := range []string{fn.Name.Name + " is ", fn.Name.Name + " "} {
				if rest, ok := strings.CutPrefix(syn, pre); ok && rest != "" {
					syn = strings.ToUpper(rest[:1]) + rest[1:]
					break
				}
			}
			res[fn.Name.Name] = syn
		}
	}
	return res
}

// benchRegexp matches exactly the given benchmark names.
func benchRegexp(names []string) string {
	s := append([]string(nil), names...)
	sort.Strings(s)
	for i := range s {
		s[i] = regexp.QuoteMeta(strings.TrimPrefix(s[i], "Benchmark"))
	}
	return "^Benchmark(" + strings.Join(s, "|") + ")$"
}

// pkgDir is the directory of an import path of this module.
func pkgDir(root, module, pkg string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
	return filepath.Join(root, filepath.FromSlash(rel))
}

// dirExists reports whether p is a directory.
func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
