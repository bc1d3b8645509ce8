package benchrun

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// TestInitFloorLinksOnlyWhatTheLambdaLinks: every package initfloor
// imports is linked into the Lambda build, so that its initialisation is a
// floor under the Lambda binary's, never a figure inflated by a library
// the Lambda does not ship.
func TestInitFloorLinksOnlyWhatTheLambdaLinks(t *testing.T) {
	list := func(args ...string) map[string]bool {
		t.Helper()
		cmd := exec.Command("go", append([]string{"list"}, args...)...)
		cmd.Dir = "../../.."
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		set := map[string]bool{}
		for _, p := range strings.Fields(string(out)) {
			set[p] = true
		}
		return set
	}
	floor := list("-f", `{{join .Imports "\n"}}`, "./"+InitFloorPackage)
	lambda := list("-tags", standin.LambdaBuildTags, "-deps", "./cmd/mailer")
	if len(floor) < 5 {
		t.Fatalf("initfloor imports %d packages: %v", len(floor), floor)
	}
	for p := range floor {
		if !lambda[p] {
			t.Errorf("initfloor imports %s, which the Lambda build does not link", p)
		}
	}
}
