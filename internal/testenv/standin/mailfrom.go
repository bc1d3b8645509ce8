package standin

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// moto 5.2.1 has no PutEmailIdentityMailFromAttributes (it answers 404) and
// no MailFromAttributes in GetEmailIdentity. The proxy emulates both from
// SES v2's API reference:
//
//   - PUT /v2/email/identities/{EmailIdentity}/mail-from with
//     {"MailFromDomain", "BehaviorOnMxFailure"} answers 200 {}; an unknown
//     identity is NotFoundException (404), a BehaviorOnMxFailure other than
//     USE_DEFAULT_VALUE or REJECT_MESSAGE is BadRequestException (400), and
//     so is a MAIL FROM domain that is not a subdomain of the identity
//     ("It has to be a subdomain of the verified identity", SES developer
//     guide, "Using a custom MAIL FROM domain"). An empty MailFromDomain
//     removes the custom domain.
//   - GetEmailIdentity then carries MailFromAttributes {MailFromDomain,
//     MailFromDomainStatus, BehaviorOnMxFailure}. The status is PENDING, as
//     SES reports until it finds the domain's MX record; a test sets what
//     SES would find with SetMailFromStatus.
//
// Not emulated: SendEmail's MailFromDomainNotVerifiedException for a
// REJECT_MESSAGE identity whose MAIL FROM domain is not verified.

type mailFromAttrs struct {
	Domain   string `json:"MailFromDomain"`
	Status   string `json:"MailFromDomainStatus"`
	Behavior string `json:"BehaviorOnMxFailure"`
}

// mailFroms: moto backend host -> identity -> its custom MAIL FROM.
var mailFroms = struct {
	sync.Mutex
	m map[string]map[string]*mailFromAttrs
}{m: map[string]map[string]*mailFromAttrs{}}

// SetMailFromStatus sets what SES found for identity's custom MAIL FROM
// domain: PENDING, SUCCESS, FAILED or TEMPORARY_FAILURE.
func (m *Moto) SetMailFromStatus(identity, status string) error {
	switch status {
	case "PENDING", "SUCCESS", "FAILED", "TEMPORARY_FAILURE":
	default:
		return fmt.Errorf("standin: MAIL FROM status %q", status)
	}
	u, err := url.Parse(m.BackendURL)
	if err != nil {
		return err
	}
	mailFroms.Lock()
	defer mailFroms.Unlock()
	a := mailFroms.m[u.Host][strings.ToLower(identity)]
	if a == nil {
		return fmt.Errorf("standin: %s has no custom MAIL FROM domain", identity)
	}
	a.Status = status
	return nil
}

func resetMailFrom(backendURL string) {
	if u, err := url.Parse(backendURL); err == nil {
		mailFroms.Lock()
		delete(mailFroms.m, u.Host)
		mailFroms.Unlock()
	}
}

// serveMailFrom answers PutEmailIdentityMailFromAttributes; false when r is
// another request.
func (m *Moto) serveMailFrom(w http.ResponseWriter, r *http.Request, backend *url.URL) bool {
	rest, ok := strings.CutPrefix(r.URL.Path, "/v2/email/identities/")
	if !ok || r.Method != http.MethodPut || !sesService(r) {
		return false
	}
	identity, ok := strings.CutSuffix(rest, "/mail-from")
	if !ok || identity == "" || strings.Contains(identity, "/") {
		return false
	}
	var in struct {
		MailFromDomain      string
		BehaviorOnMxFailure string
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&in); err != nil {
		sesError(w, http.StatusBadRequest, "BadRequestException", "The request body is not valid JSON.")
		return true
	}
	// The identity must exist: ask moto, with the caller's (unchecked) signature.
	get, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, backend.String()+"/v2/email/identities/"+url.PathEscape(identity), nil)
	get.Header.Set("Authorization", r.Header.Get("Authorization"))
	resp, err := m.client.Do(get)
	if err != nil {
		sesError(w, http.StatusInternalServerError, "InternalFailure", err.Error())
		return true
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		sesError(w, http.StatusNotFound, "NotFoundException", fmt.Sprintf("Email identity %s does not exist.", identity))
		return true
	}
	behavior := in.BehaviorOnMxFailure
	if behavior == "" {
		behavior = "USE_DEFAULT_VALUE"
	}
	if behavior != "USE_DEFAULT_VALUE" && behavior != "REJECT_MESSAGE" {
		sesError(w, http.StatusBadRequest, "BadRequestException", fmt.Sprintf("Invalid BehaviorOnMxFailure %q.", in.BehaviorOnMxFailure))
		return true
	}
	domain := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(in.MailFromDomain), "."))
	id := strings.ToLower(identity)
	if domain != "" && !strings.HasSuffix(domain, "."+id) {
		sesError(w, http.StatusBadRequest, "BadRequestException",
			fmt.Sprintf("Invalid MAIL FROM domain %s: it has to be a subdomain of the verified identity %s.", domain, identity))
		return true
	}
	mailFroms.Lock()
	if mailFroms.m[backend.Host] == nil {
		mailFroms.m[backend.Host] = map[string]*mailFromAttrs{}
	}
	if domain == "" {
		delete(mailFroms.m[backend.Host], id)
	} else {
		mailFroms.m[backend.Host][id] = &mailFromAttrs{Domain: domain, Status: "PENDING", Behavior: behavior}
	}
	mailFroms.Unlock()
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, "{}")
	return true
}

// fillMailFrom adds MailFromAttributes to a GetEmailIdentity answer.
func fillMailFrom(doc map[string]any, backendHost, identity string) {
	mailFroms.Lock()
	a := mailFroms.m[backendHost][strings.ToLower(identity)]
	var copied mailFromAttrs
	if a != nil {
		copied = *a
	}
	mailFroms.Unlock()
	if a != nil {
		doc["MailFromAttributes"] = copied
	}
}
