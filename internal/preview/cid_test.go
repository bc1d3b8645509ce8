package preview

import (
	"strings"
	"testing"

	"github.com/Phenom-earth/phenom-mailer/internal/render"
	"github.com/Phenom-earth/phenom-mailer/templates"
)

// The sample reset link names its app client, as a real one does.
func TestSampleResetLinkHasClientID(t *testing.T) {
	r, err := render.New(templates.FS, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range Samples(r.Locales()) {
		m, err := r.Render(s.Data)
		if err != nil {
			t.Fatal(err)
		}
		has := strings.Contains(m.Text, "&cid="+SampleClientID+"\n") && strings.Contains(m.HTML, "&amp;cid="+SampleClientID+`"`)
		if s.Trigger == render.ForgotPassword {
			n++
			if !has {
				t.Errorf("%s: the reset link lacks cid=%s", s.Name(), SampleClientID)
			}
		} else if strings.Contains(m.Text+m.HTML, "cid=") {
			t.Errorf("%s carries a cid", s.Name())
		}
	}
	if n != len(r.Locales()) {
		t.Errorf("%d ForgotPassword samples, want one per locale", n)
	}
}
