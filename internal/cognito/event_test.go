package cognito

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestEventFixturesRoundTrip decodes the fixture of every trigger and encodes
// it again: the model must keep every field Cognito sends, nulls included.
func TestEventFixturesRoundTrip(t *testing.T) {
	for _, trig := range TriggerSources {
		t.Run(trig.Name(), func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("..", "..", "testdata", "events", trig.Name()+".json"))
			if err != nil {
				t.Fatal(err)
			}
			ev, err := Decode(in)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Trigger() != trig {
				t.Fatalf("triggerSource = %q, want %q", ev.TriggerSource, trig)
			}
			if trig.HasCode() != (ev.Ciphertext() != "") {
				t.Errorf("code presence = %v, want %v", ev.Ciphertext() != "", trig.HasCode())
			}
			if ev.Attr("email") == "" || ev.UserPoolID == "" || ev.CallerContext.ClientID == "" {
				t.Errorf("fields lost: %+v", ev.Header)
			}
			out, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			var want, got any
			if err := json.Unmarshal(in, &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			wb, _ := json.Marshal(want)
			gb, _ := json.Marshal(got)
			if string(wb) != string(gb) {
				t.Errorf("round trip changed the event:\nwant %s\ngot  %s", wb, gb)
			}
		})
	}
}

func TestEventNulls(t *testing.T) {
	ev, err := Decode([]byte(`{"triggerSource":"CustomEmailSender_AccountTakeOverNotification",
		"callerContext":{"clientId":null},"request":{"code":null,"clientMetadata":null,"userAttributes":{"email":"a@b.co"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Ciphertext() != "" || ev.Request.ClientMetadata != nil || ev.CallerContext.ClientID != "" {
		t.Errorf("nulls not tolerated: %+v", ev)
	}
	if _, err := Decode([]byte(`{"request":{"userAttributes":{"email":true}}}`)); err == nil {
		t.Error("a non-string attribute was accepted")
	}
}

func TestTriggerSources(t *testing.T) {
	if len(TriggerSources) != 8 {
		t.Fatalf("%d trigger sources, want 8", len(TriggerSources))
	}
	if TriggerForgotPassword.Name() != "ForgotPassword" || !TriggerForgotPassword.Known() || TriggerSource("CustomMessage_SignUp").Known() {
		t.Error("Name/Known wrong")
	}
	if TriggerAccountTakeOverNotification.HasCode() || !TriggerAuthentication.HasCode() {
		t.Error("HasCode wrong")
	}
}

func FuzzDecodeAndHandle(f *testing.F) {
	for _, trig := range TriggerSources {
		if b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "events", trig.Name()+".json")); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"request":{"code":null}}`))
	f.Add([]byte(`{"triggerSource":"CustomEmailSender_SignUp","userPoolId":"p","request":{"code":"x","userAttributes":{"email":"a\r\n@b"}}}`))
	f.Add([]byte(`{"triggerSource":"CustomEmailSender_ForgotPassword","userPoolId":"us-east-1_n8gO6SbP6","callerContext":{"clientId":"a&cid=b"},"request":{"code":"ct-code","userAttributes":{"email":"a@b.c"}}}`))
	fx := newFixture(f)
	fx.h.Logger = nil
	fx.h.PoolClients = map[string]string{"us-east-1_n8gO6SbP6": "6sjjnkaeagnqgkmbl1mr5rtfsr"}
	f.Fuzz(func(t *testing.T, data []byte) {
		fx.snd.sent = fx.snd.sent[:0]
		res := fx.h.HandleJSON(t.Context(), data)
		switch res.Outcome {
		case OutcomeSent, OutcomeRefused, OutcomeFailed:
		default:
			t.Fatalf("outcome %q", res.Outcome)
		}
		if res.Outcome != OutcomeSent && len(fx.snd.sent) != 0 {
			t.Fatal("mail sent on a non-sent outcome")
		}
		// Whatever the event's client id, the reset link names at most one
		// client, of Cognito's shape.
		if res.Outcome == OutcomeSent && fx.rend.last.Trigger == "ForgotPassword" {
			if cid := fx.rend.last.ClientID; cid != "" && !ValidClientID(cid) {
				t.Fatalf("reset link cid %q is not a client id", cid)
			}
		}
	})
}
