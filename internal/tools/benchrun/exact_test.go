package benchrun

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The exact proxy asks the stand-in once per kind of call, answers every
// later call of that kind with the recording, never sooner than its
// latency, and asks again after a 5xx.
func TestExactProxy(t *testing.T) {
	var calls atomic.Int32
	fail := atomic.Bool{}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if fail.Load() {
			http.Error(w, "moto fell over", http.StatusInternalServerError)
			return
		}
		w.Header().Set("X-Amzn-Requestid", "req-1")
		if strings.HasPrefix(r.URL.Path, "/v2/email/suppression/") {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"message":"not on the list"}`)
			return
		}
		io.WriteString(w, `{"path":"`+r.URL.Path+`"}`)
	}))
	defer backend.Close()
	const latency = 30 * time.Millisecond
	p, err := startExactProxy(backend.URL, latency)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	do := func(method, path string) (int, string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(method, p.URL+path, strings.NewReader(`{"Content":{}}`))
		t0 := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if d := time.Since(t0); d < latency {
			t.Errorf("%s %s answered after %v, before the %v latency", method, path, d, latency)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}

	for i := 0; i < 3; i++ {
		if code, body, h := do(http.MethodPost, "/v2/email/outbound-emails"); code != 200 || body != `{"path":"/v2/email/outbound-emails"}` || h.Get("X-Amzn-Requestid") != "req-1" {
			t.Fatalf("SendEmail %d: %d %q %v", i, code, body, h)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the stand-in saw %d SendEmail calls, want 1 (the rest replayed)", n)
	}
	if n := p.Replayed(sendEmailKind); n != 2 {
		t.Errorf("Replayed(SendEmail) = %d, want 2", n)
	}
	// Another kind of call is asked for once too; a 4xx is an answer.
	for i := 0; i < 2; i++ {
		if code, body, _ := do(http.MethodGet, "/v2/email/suppression/addresses/a%40b.example"); code != 404 || !strings.Contains(body, "not on the list") {
			t.Fatalf("GetSuppressedDestination %d: %d %q", i, code, body)
		}
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("the stand-in saw %d calls, want 2", n)
	}
	// A 5xx is not recorded: the next call of that kind asks again.
	fail.Store(true)
	if code, _, _ := do(http.MethodGet, "/v2/email/identities/thephenom.app"); code != 500 {
		t.Fatalf("first GetEmailIdentity: %d, want the stand-in's 500", code)
	}
	fail.Store(false)
	if code, body, _ := do(http.MethodGet, "/v2/email/identities/thephenom.app"); code != 200 || !strings.Contains(body, "identities") {
		t.Fatalf("GetEmailIdentity after a 500: %d %q, want the stand-in asked again", code, body)
	}
	if n := calls.Load(); n != 4 {
		t.Errorf("the stand-in saw %d calls, want 4", n)
	}
}
