package render

import (
	"testing"

	"github.com/Phenom-earth/phenom-mailer/templates"
)

// BenchmarkNew is the renderer's share of a cold start: parse every
// template in every locale and trial-render each once.
func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		if _, err := New(templates.FS, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInline is CSS inlining of one mail whose structure the
// inliner has seen: scan the document and apply the plan.
func BenchmarkInline(b *testing.B) {
	r := newRenderer(b)
	r.inline = func(s string) (string, error) { return s, nil }
	m, err := r.Render(goldenData(ForgotPassword))
	if err != nil {
		b.Fatal(err)
	}
	var in inliner
	if _, err := in.inline(m.HTML); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := in.inline(m.HTML); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInlineLearn is the first mail of a structure: scan, the
// cascade over the whole document (parse it, read the stylesheet, match
// every selector) and the plan applied.
func BenchmarkInlineLearn(b *testing.B) {
	r := newRenderer(b)
	r.inline = func(s string) (string, error) { return s, nil }
	m, err := r.Render(goldenData(ForgotPassword))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var in inliner
		if _, err := in.inline(m.HTML); err != nil {
			b.Fatal(err)
		}
	}
}
