package deploy

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// TestLambdaZipReproducible copies the source (tracked files and untracked
// ones that are not ignored, as a commit of the working tree would have them)
// into two folders with different paths, file modes and timestamps, runs
// `make lambda` in each and requires the two dist/lambda.zip to be the same
// bytes. Both builds share the Go build cache, so the second costs little.
func TestLambdaZipReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the Lambda zip twice; skipped with -short")
	}
	for _, tool := range []string{"git", "make"} {
		if _, err := exec.LookPath(tool); err != nil {
			standin.SkipOrFail(t, err)
		}
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		standin.SkipOrFail(t, errors.New("not a git checkout: cannot tell tracked files"))
	}
	files := strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")

	tmp := t.TempDir()
	a := filepath.Join(tmp, "a", "phenom-mailer")
	b := filepath.Join(tmp, "b", "elsewhere", "deeper", "checkout")
	copyTree(t, root, a, files, 0, time.Now())
	copyTree(t, root, b, files, 0o077, time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC))

	zipA, reportA := makeLambda(t, a)
	zipB, _ := makeLambda(t, b)
	sumA, sumB := sha256.Sum256(zipA), sha256.Sum256(zipB)
	if sumA != sumB {
		binA, binB := bootstrapOf(t, zipA), bootstrapOf(t, zipB)
		t.Fatalf("two clean builds differ: sha256 %x (%d bytes) in %s, %x (%d bytes) in %s; the bootstrap binaries themselves are equal: %v",
			sumA, len(zipA), a, sumB, len(zipB), b, bytes.Equal(binA, binB))
	}
	hexSum := hex.EncodeToString(sumA[:])
	if !strings.Contains(reportA, hexSum) {
		t.Errorf("make lambda does not report the zip's SHA-256 %s:\n%s", hexSum, reportA)
	}
	t.Logf("dist/lambda.zip: %d bytes, sha256 %s, the same from both copies", len(zipA), hexSum)

	checkLambdaZip(t, zipA)
}

// copyTree copies files (paths relative to src) into dst with modes narrowed
// by umask and every modification time set to mtime.
func copyTree(t *testing.T, src, dst string, files []string, umask os.FileMode, mtime time.Time) {
	t.Helper()
	for _, f := range files {
		if f == "" {
			continue
		}
		from := filepath.Join(src, f)
		fi, err := os.Lstat(from)
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted in the working tree
		}
		if err != nil {
			t.Fatal(err)
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		to := filepath.Join(dst, f)
		if err := os.MkdirAll(filepath.Dir(to), 0o755&^umask); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, data, fi.Mode().Perm()&^umask); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(to, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
}

// makeLambda runs `make lambda` in dir and returns dist/lambda.zip and what
// make printed.
func makeLambda(t *testing.T, dir string) ([]byte, string) {
	t.Helper()
	start := time.Now()
	cmd := exec.Command("make", "--no-print-directory", "lambda")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make lambda in %s: %v\n%s", dir, err, out)
	}
	t.Logf("make lambda in %s: %s", dir, time.Since(start).Round(time.Millisecond))
	zipData, err := os.ReadFile(filepath.Join(dir, "dist", "lambda.zip"))
	if err != nil {
		t.Fatal(err)
	}
	return zipData, string(out)
}

func bootstrapOf(t *testing.T, zipData []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(zipData), int64(len(zipData)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name == "bootstrap" {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			data, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			return data
		}
	}
	t.Fatal("no bootstrap in the zip")
	return nil
}

// checkLambdaZip checks what provided.al2023 on arm64 needs and what the
// build promises: one executable bootstrap with fixed metadata, a stripped
// linux/arm64 binary built with the Lambda build's tags, -trimpath, no VCS stamp and no
// build id.
func checkLambdaZip(t *testing.T, zipData []byte) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(zipData), int64(len(zipData)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" {
		var names []string
		for _, f := range zr.File {
			names = append(names, f.Name)
		}
		t.Fatalf("zip holds %q, want only bootstrap", names)
	}
	h := zr.File[0].FileHeader
	if m := h.Mode(); m != 0o755 {
		t.Errorf("bootstrap mode %v, want -rwxr-xr-x", m)
	}
	if !h.Modified.Equal(time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("bootstrap modified %v, want the fixed 1980-01-01", h.Modified)
	}

	bin := bootstrapOf(t, zipData)
	path := filepath.Join(t.TempDir(), "bootstrap")
	if err := os.WriteFile(path, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	ef, err := elf.Open(path)
	if err != nil {
		t.Fatalf("bootstrap is not an ELF binary: %v", err)
	}
	defer ef.Close()
	if ef.Machine != elf.EM_AARCH64 || ef.Class != elf.ELFCLASS64 {
		t.Errorf("bootstrap is %v %v, want arm64 (EM_AARCH64, 64-bit)", ef.Machine, ef.Class)
	}
	for _, s := range ef.Sections {
		if s.Name == ".symtab" || strings.HasPrefix(s.Name, ".debug_") || strings.HasPrefix(s.Name, ".zdebug_") {
			t.Errorf("bootstrap is not stripped: it has section %s", s.Name)
		}
	}
	if s := ef.Section(".note.go.buildid"); s != nil {
		note, err := s.Data()
		if err != nil {
			t.Fatal(err)
		}
		// ELF note: namesz, descsz, type (4 bytes each), "Go\x00\x00", desc.
		if len(note) >= 16 && string(note[12:14]) == "Go" {
			desc := bytes.TrimRight(note[16:], "\x00")
			if len(desc) > 0 {
				t.Errorf("bootstrap has a Go build id %q, want none (-buildid=)", desc)
			}
		}
	}

	info, err := buildinfo.ReadFile(path)
	if err != nil {
		t.Fatalf("build info: %v", err)
	}
	if info.Path != "github.com/Phenom-earth/phenom-mailer/cmd/mailer" {
		t.Errorf("bootstrap is %s, want cmd/mailer", info.Path)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
		if strings.HasPrefix(s.Key, "vcs") {
			t.Errorf("bootstrap carries VCS stamp %s=%s", s.Key, s.Value)
		}
	}
	for k, want := range map[string]string{
		"GOOS": "linux", "GOARCH": "arm64", "CGO_ENABLED": "0",
		"-tags": standin.LambdaBuildTags, "-trimpath": "true",
	} {
		if settings[k] != want {
			t.Errorf("build setting %s=%q, want %q", k, settings[k], want)
		}
	}
	// -trimpath keeps -ldflags out of the build info: the sections and the
	// build id note above are the evidence for -s -w -buildid=.
}

// cliOnly are packages only a person's commands need (the preview gallery
// and its live-reload server, the receivers' judges, the doctor with its DNS
// client, CloudWatch and SQS look-ups, `mailer trace`) and the test and
// bench support: none may be linked into the Lambda's bootstrap.
var cliOnly = []string{
	"github.com/Phenom-earth/phenom-mailer/internal/preview",
	"github.com/Phenom-earth/phenom-mailer/internal/receivers",
	"github.com/Phenom-earth/phenom-mailer/internal/doctor",
	"github.com/Phenom-earth/phenom-mailer/internal/trace",
	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin",
	"github.com/Phenom-earth/phenom-mailer/internal/tools/benchrun",
	"github.com/chromedp/chromedp",
	"github.com/miekg/dns",
	"github.com/fsnotify/fsnotify",
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch",
	"github.com/aws/aws-sdk-go-v2/service/sqs",
	"github.com/inbucket/html2text",     // enmime's, for the receivers' judges
	"github.com/olekukonko/tablewriter", // html2text's
}

// oracleOnly are go-premailer and the libraries it brings: the tests hold
// the renderer's CSS cascade to it, and no command links it. Their package
// initialisation (gorilla/css's scanner compiles its expressions, and
// html2text brings tablewriter, which fills its width tables) cost the
// Lambda about 4 ms and 0.8 MB of every cold start, a GC cycle included.
var oracleOnly = []string{
	"github.com/vanng822/go-premailer/premailer",
	"github.com/vanng822/css",
	"github.com/gorilla/css/scanner",
	"github.com/PuerkitoBio/goquery",
}

// TestLambdaBuildLinksNoCLICode lists the packages of the Lambda build
// (make lambda's target and tags) and requires none of cliOnly among them,
// while the mailer CLI, built without the tag, still has the commands that
// need them.
func TestLambdaBuildLinksNoCLICode(t *testing.T) {
	deps := func(tags string) map[string]bool {
		t.Helper()
		args := []string{"list", "-deps"}
		if tags != "" {
			args = append(args, "-tags", tags)
		}
		cmd := exec.Command("go", append(args, "../cmd/mailer")...)
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go %s: %v", strings.Join(args, " "), err)
		}
		set := map[string]bool{}
		for _, p := range strings.Fields(string(out)) {
			set[p] = true
		}
		return set
	}
	lambdaDeps := deps(standin.LambdaBuildTags)
	for _, p := range []string{
		"github.com/Phenom-earth/phenom-mailer/internal/cognito",
		"github.com/Phenom-earth/phenom-mailer/internal/sesevents",
		"github.com/aws/aws-lambda-go/lambda",
	} {
		if !lambdaDeps[p] {
			t.Errorf("the Lambda build does not link %s: it cannot serve the trigger", p)
		}
	}
	for _, p := range cliOnly {
		if lambdaDeps[p] {
			t.Errorf("the Lambda build links %s, which only the CLI needs", p)
		}
	}
	cliDeps := deps("")
	for _, p := range oracleOnly {
		if lambdaDeps[p] || cliDeps[p] {
			t.Errorf("the mailer links %s, which only the renderer's tests need", p)
		}
	}
	// The Lambda build's commands for people answer that they are not there.
	bin := filepath.Join(t.TempDir(), "bootstrap")
	build := exec.Command("go", "build", "-tags", standin.LambdaBuildTags, "-o", bin, "../cmd/mailer")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the Lambda binary: %v\n%s", err, out)
	}
	for _, command := range []string{"doctor", "preview", "trace"} {
		cmd := exec.Command(bin, command)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "not in the Lambda build") {
			t.Errorf("the Lambda binary's %s: %v, output %q; want exit 2 and \"not in the Lambda build\"", command, err, out)
		}
	}
	if out, err := exec.Command(bin, "help").CombinedOutput(); err != nil || !strings.Contains(string(out), "mailer invoke") {
		t.Errorf("the Lambda binary's help: %v, output %q", err, out)
	}

	// cliDeps is the CLI build's, listed above.
	for _, p := range []string{
		"github.com/Phenom-earth/phenom-mailer/internal/preview",
		"github.com/Phenom-earth/phenom-mailer/internal/doctor",
		"github.com/Phenom-earth/phenom-mailer/internal/trace",
		"github.com/aws/aws-sdk-go-v2/service/cloudwatch",
	} {
		if !cliDeps[p] {
			t.Errorf("the mailer CLI does not link %s: a command went missing", p)
		}
	}
}
