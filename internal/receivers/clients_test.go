package receivers

import (
	"context"
	"path/filepath"
	"testing"
)

// TestClientSupportReport: caniemail's data flags a flex layout for
// Outlook on Windows, and leaves a plain styled paragraph alone; <style>
// blocks are not judged.
func TestClientSupportReport(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ClientSupport{Root: root}.Report(context.Background(), []string{
		`<html><body><div style="display:flex"><p>a</p><p>b</p></div></body></html>`,
		`<html><head><style>@media (max-width: 600px) { .x { display: flex } }</style></head><p style="color:#111827">Hello</p></html>`,
	})
	need(t, err)
	has := func(issues []ClientIssue, feature, client string) bool {
		for _, i := range issues {
			if i.Feature == feature && i.Client == client && i.Level == "unsupported" {
				return true
			}
		}
		return false
	}
	if !has(rep[0], "display:flex", "outlook.windows") {
		t.Errorf("flex: %+v, want display:flex unsupported by outlook.windows", rep[0])
	}
	for _, i := range rep[1] {
		if i.Level == "unsupported" {
			t.Errorf("a plain paragraph: %+v is reported unsupported", i)
		}
	}
}
