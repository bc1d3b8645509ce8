package render

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Phenom-earth/phenom-mailer/templates"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current templates")

// goldenData is fixed, fake sample data: golden files are committed, so
// nothing here may be a real address, code or password.
func goldenData(trigger string) Data {
	if t, _ := templates.Lookup(trigger); t.Kind == templates.Service {
		d := Example(trigger) // the registry's examples: made up
		d.Locale, d.Email = "en", "ada.lovelace+test@example.com"
		return d
	}
	d := Data{
		Trigger:  trigger,
		Locale:   "en",
		Email:    "ada.lovelace+test@example.com",
		Username: "8f14e45f-ceea-467a-9af0-000000000000",
		Code:     "123456",
	}
	switch trigger {
	case ForgotPassword:
		d.ClientID = "1example23456789example0ab" // the shape of a Cognito app client id, made up
	case AdminCreateUser:
		d.Username = "ada.lovelace"
		d.Code = "Tmp#Pass-2024&x"
	case AccountTakeOverNotification:
		d.Code = ""
		d.Takeover = &Takeover{
			EventID:            "00000000-0000-4000-8000-000000000001",
			LoginTime:          "2024-05-01 10:00:00 UTC",
			IPAddress:          "203.0.113.7",
			City:               "Springfield",
			Country:            "Freedonia",
			DeviceName:         "Chrome 124, macOS 14",
			Action:             "BLOCK",
			OneClickValidURL:   "https://auth.example.com/confirm?event=1&valid=true",
			OneClickInvalidURL: "https://auth.example.com/confirm?event=1&valid=false",
		}
	}
	return d
}

// TestGolden compares every template's rendering in every locale with
// testdata/golden/<locale>/<Trigger>.{subject,html,txt}, byte for byte.
// Refresh with
//
//	go test ./internal/render -update
func TestGolden(t *testing.T) {
	r := newRenderer(t)
	for _, loc := range r.Locales() {
		dir := filepath.Join("testdata", "golden", loc)
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for _, trigger := range Templates {
			t.Run(loc+"/"+trigger, func(t *testing.T) {
				d := goldenData(trigger)
				d.Locale = loc
				m, err := r.Render(d)
				if err != nil {
					t.Fatal(err)
				}
				for ext, got := range map[string]string{".subject": m.Subject, ".html": m.HTML, ".txt": m.Text} {
					path := filepath.Join(dir, trigger+ext)
					if *update {
						if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
							t.Fatal(err)
						}
						continue
					}
					want, err := os.ReadFile(path)
					if err != nil {
						t.Fatalf("%v (run go test ./internal/render -update to create it)", err)
					}
					if got != string(want) {
						t.Errorf("%s differs from the rendering at line %d (run go test ./internal/render -update and review the diff with git diff)",
							path, firstDiffLine(got, string(want)))
					}
				}
			})
		}
	}
}

// firstDiffLine is the 1-based number of the first line where a and b
// differ. Failures name the line rather than print it: a rendering is a
// mail body.
func firstDiffLine(a, b string) int {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return i + 1
		}
	}
	return min(len(la), len(lb)) + 1
}
