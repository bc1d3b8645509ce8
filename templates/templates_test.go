package templates_test

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"github.com/Phenom-earth/phenom-mailer/internal/render"
	"github.com/Phenom-earth/phenom-mailer/templates"
)

func TestFSHoldsEveryTemplate(t *testing.T) {
	want := []string{"layout.html", "layout.txt"}
	for _, trigger := range render.Triggers {
		want = append(want, trigger+".tmpl")
	}
	for _, name := range want {
		if _, err := fs.Stat(templates.FS, name); err != nil {
			t.Errorf("FS lacks %s: %v", name, err)
		}
	}
	if _, err := render.New(templates.FS, render.Options{}); err != nil {
		t.Fatalf("render.New over the embedded templates: %v", err)
	}
}

// TestNoRemoteContent keeps remote images, fonts, stylesheets, scripts and
// tracking pixels out of the templates, and user data out of raw HTML.
func TestNoRemoteContent(t *testing.T) {
	banned := regexp.MustCompile(`(?i)<img|<link|<script|<iframe|<object|@import|@font-face|url\(|src=|\bsafeHTML\b|template\.HTML`)
	err := fs.WalkDir(templates.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templates.FS, path)
		if err != nil {
			return err
		}
		if m := banned.Find(b); m != nil {
			t.Errorf("%s contains %q", path, m)
		}
		if strings.Contains(string(b), "\r") {
			t.Errorf("%s has CR line endings", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
