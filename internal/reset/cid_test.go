package reset

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// The round trip checks that the reset link names the client it requested
// the reset through: a match passes, another client fails before the code
// is used, a link without cid is reported and passes.
func TestRunChecksLinkClientID(t *testing.T) {
	for _, c := range []struct {
		name     string
		cid      string
		wantLink string
		wantErr  bool
	}{
		{"match", clientID, "match", false},
		{"absent", "", "absent", false},
		{"mismatch", "8uun49ru7f3fdvmlc12vqig3ab", "mismatch", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, cfg := newFake(t, true)
			cid := c.cid
			f.linkCID = &cid
			cfg.Auth = AuthPassword
			var stages []Stage
			cfg.Progress = func(s Stage) { stages = append(stages, s) }
			rep, err := Run(context.Background(), cfg)
			if rep.LinkClient != c.wantLink {
				t.Errorf("link_client %q, want %q", rep.LinkClient, c.wantLink)
			}
			b, _ := json.Marshal(rep)
			if !strings.Contains(string(b), `"link_client":"`+c.wantLink+`"`) {
				t.Errorf("the JSON report lacks link_client: %s", b)
			}
			mail := stages[1]
			if mail.Name != StageMail {
				t.Fatalf("stage 2 is %s", mail.Name)
			}
			if !c.wantErr {
				if err != nil {
					t.Fatalf("round trip: %v", err)
				}
				if c.wantLink == "absent" && !strings.Contains(mail.Detail, "cid absent") {
					t.Errorf("the mail stage does not report the missing cid: %q", mail.Detail)
				}
				return
			}
			var me *ClientMismatchError
			if !errors.As(err, &me) || me.Link != c.cid || me.Want != clientID {
				t.Fatalf("want a ClientMismatchError, got %v", err)
			}
			if mail.OK || !strings.Contains(mail.Detail, c.cid) || !strings.Contains(mail.Detail, clientID) {
				t.Errorf("mail stage %+v: want a failure naming both clients", mail)
			}
			if len(stages) != 2 || f.confirmCalls != 0 {
				t.Errorf("the run went on after the mismatch: %d stages, %d confirm calls", len(stages), f.confirmCalls)
			}
		})
	}
}
