package render

import (
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/Phenom-earth/phenom-mailer/templates"
)

// A lazy renderer renders exactly what an eager one does, every template
// in every locale from every sample, also when the first renders of each
// template race.
func TestLazyRendersAsNew(t *testing.T) {
	eager, err := New(templates.FS, Options{})
	if err != nil {
		t.Fatal(err)
	}
	lazy, err := New(templates.FS, Options{Lazy: true})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, trigger := range Templates {
		for _, loc := range eager.Locales() {
			for _, d := range Samples(trigger) {
				d.Locale = loc
				want, werr := eager.Render(d)
				for i := 0; i < 3; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						got, gerr := lazy.Render(d)
						if (gerr == nil) != (werr == nil) || got != want {
							t.Errorf("%s in %q: the lazy render differs (error %v, want %v)", trigger, loc, gerr, werr)
						}
					}()
				}
			}
		}
	}
	wg.Wait()
	if _, err := lazy.Render(Data{Trigger: "Nope", Email: testEmail}); err == nil || !strings.Contains(err.Error(), ErrUnknownTrigger.Error()) {
		t.Errorf("unknown trigger: %v", err)
	}
}

// Under Lazy a broken template does not fail New: it fails its own first
// Render, naming its file, every time, and leaves the other templates alone.
func TestLazyBrokenTemplate(t *testing.T) {
	m := mapFS(t)
	m["SignUp.tmpl"] = &fstest.MapFile{Data: []byte(`{{define "subject"}}x{{end}}{{define "html"}}{{if}}{{end}}`)}
	r, err := New(m, Options{Lazy: true})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for i := 0; i < 2; i++ {
		_, err := r.Render(Data{Trigger: SignUp, Email: testEmail, Code: "123456"})
		if err == nil || !strings.Contains(err.Error(), "SignUp.tmpl") {
			t.Fatalf("render %d of the broken template: %v, want an error naming SignUp.tmpl", i, err)
		}
	}
	if _, err := r.Render(Data{Trigger: ForgotPassword, Email: testEmail, Code: "123456"}); err != nil {
		t.Fatalf("an intact template: %v", err)
	}
}

// Prepare renders a sample once per trigger and locale, and a Render after
// it gives what a Render without it does.
func TestPrepare(t *testing.T) {
	eager, err := New(templates.FS, Options{})
	if err != nil {
		t.Fatal(err)
	}
	lazy, err := New(templates.FS, Options{Lazy: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, trigger := range Templates {
		lazy.Prepare(trigger, "es")
		lazy.Prepare(trigger, "es")
		d := Samples(trigger)[0]
		d.Locale = "es"
		want, _ := eager.Render(d)
		if got, _ := lazy.Render(d); got != want {
			t.Errorf("%s: the render after Prepare differs", trigger)
		}
	}
	n := 0
	lazy.prepared.Range(func(_, _ any) bool { n++; return true })
	if n != len(Templates) {
		t.Errorf("%d prepared, want one per trigger (%d)", n, len(Templates))
	}
	lazy.Prepare("Nope", "") // an unknown trigger: nothing, no panic
}
