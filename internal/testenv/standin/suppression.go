package standin

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/mail"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// EMULATED: moto 5.2.1 has none of SES v2's suppression-list operations
// (it answers them with a 404 HTML page), so the stand-in's proxy serves
// them itself, from the SES API v2 reference
// (https://docs.aws.amazon.com/ses/latest/APIReference-V2/):
//
//	PutSuppressedDestination        PUT    /v2/email/suppression/addresses            {"EmailAddress","Reason"} → 200 {}
//	GetSuppressedDestination        GET    /v2/email/suppression/addresses/{EmailAddress}
//	                                       → 200 {"SuppressedDestination":{"EmailAddress","Reason","LastUpdateTime"}}
//	ListSuppressedDestinations      GET    /v2/email/suppression/addresses?Reason=&StartDate=&EndDate=&NextToken=&PageSize=
//	                                       → 200 {"SuppressedDestinationSummaries":[...],"NextToken"}
//	DeleteSuppressedDestination     DELETE /v2/email/suppression/addresses/{EmailAddress} → 200, empty body
//	PutAccountSuppressionAttributes PUT    /v2/email/account/suppression              {"SuppressedReasons":[...]} → 200 {}
//	GetAccount                      GET    /v2/email/account → ... "SuppressionAttributes":{"SuppressedReasons":[...]}
//
// Errors have SES's REST-JSON shape (status, X-Amzn-Errortype header and a
// {"message"} body, which is how the AWS SDKs find the error type):
// NotFoundException 404 for an address not on the list (Get, Delete),
// BadRequestException 400 for a missing or malformed address, a reason other
// than BOUNCE or COMPLAINT, a malformed date or page size, and
// InvalidNextTokenException 400 for a token this list did not issue.
// LastUpdateTime is epoch seconds, as the SDKs decode it. Addresses are
// kept with their case and matched exactly, as the developer guide says of
// the API ("API calls for suppression list management require an exact case
// match", https://docs.aws.amazon.com/ses/latest/dg/sending-email-suppression-list-tenant-level-manage.html);
// a Put of an address already listed replaces its reason and time. The reference
// gives no PageSize range; the stand-in accepts 1 to 1000 (an assumption,
// the strictest reading of SES's "MaxItems" usage elsewhere) and pages 1000
// by default.

// SuppressionReasons are SES's two SuppressionListReason values.
var SuppressionReasons = []string{"BOUNCE", "COMPLAINT"}

const (
	suppressionPath        = "/v2/email/suppression/addresses"
	accountSuppressionPath = "/v2/email/account/suppression"
	maxSuppressionPageSize = 1000
)

type suppressedEntry struct {
	Address string
	Reason  string
	Updated time.Time
}

// suppressionList is the account-level suppression list and its settings.
type suppressionList struct {
	mu      sync.Mutex
	entries map[string]suppressedEntry // by address, case kept
	reasons []string                   // the account's SuppressedReasons
}

func newSuppressionList() *suppressionList {
	return &suppressionList{entries: map[string]suppressedEntry{}, reasons: append([]string(nil), SuppressionReasons...)}
}

// reset forgets every entry and restores the default settings (both
// reasons), as a new account has them.
func (s *suppressionList) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries = map[string]suppressedEntry{}
	s.reasons = append([]string(nil), SuppressionReasons...)
}

// serve answers r when it is one of the emulated operations.
func (s *suppressionList) serve(w http.ResponseWriter, r *http.Request) bool {
	if !sesService(r) {
		return false
	}
	p := r.URL.EscapedPath()
	switch {
	case p == suppressionPath || p == suppressionPath+"/":
		switch r.Method {
		case http.MethodPut:
			s.put(w, r)
		case http.MethodGet:
			s.list(w, r)
		default:
			return false
		}
	case strings.HasPrefix(p, suppressionPath+"/"):
		addr, err := url.PathUnescape(strings.TrimPrefix(p, suppressionPath+"/"))
		if err != nil || addr == "" || strings.Contains(addr, "/") {
			sesError(w, http.StatusBadRequest, "BadRequestException", "Invalid email address.")
			return true
		}
		switch r.Method {
		case http.MethodGet:
			s.get(w, addr)
		case http.MethodDelete:
			s.delete(w, addr)
		default:
			return false
		}
	case p == accountSuppressionPath && r.Method == http.MethodPut:
		s.putAccount(w, r)
	case p == "/v2/email/account" && r.Method == http.MethodGet:
		s.getAccount(w)
	default:
		return false
	}
	return true
}

func (s *suppressionList) put(w http.ResponseWriter, r *http.Request) {
	var in struct {
		EmailAddress *string
		Reason       *string
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&in); err != nil {
		sesError(w, http.StatusBadRequest, "BadRequestException", "Request body is not valid JSON.")
		return
	}
	if in.EmailAddress == nil || in.Reason == nil {
		sesError(w, http.StatusBadRequest, "BadRequestException", "EmailAddress and Reason are required.")
		return
	}
	if !validReason(*in.Reason) {
		sesError(w, http.StatusBadRequest, "BadRequestException", fmt.Sprintf("Invalid Reason %q: must be BOUNCE or COMPLAINT.", *in.Reason))
		return
	}
	if !validAddress(*in.EmailAddress) {
		sesError(w, http.StatusBadRequest, "BadRequestException", "Invalid email address.")
		return
	}
	s.mu.Lock()
	s.entries[*in.EmailAddress] = suppressedEntry{Address: *in.EmailAddress, Reason: *in.Reason, Updated: time.Now().UTC()}
	s.mu.Unlock()
	sesJSON(w, map[string]any{})
}

func (s *suppressionList) get(w http.ResponseWriter, addr string) {
	if !validAddress(addr) {
		sesError(w, http.StatusBadRequest, "BadRequestException", "Invalid email address.")
		return
	}
	s.mu.Lock()
	e, ok := s.entries[addr]
	s.mu.Unlock()
	if !ok {
		sesError(w, http.StatusNotFound, "NotFoundException", "Email address is not on the suppression list for your account.")
		return
	}
	sesJSON(w, map[string]any{"SuppressedDestination": map[string]any{
		"EmailAddress":   e.Address,
		"Reason":         e.Reason,
		"LastUpdateTime": epochSeconds(e.Updated),
	}})
}

func (s *suppressionList) delete(w http.ResponseWriter, addr string) {
	if !validAddress(addr) {
		sesError(w, http.StatusBadRequest, "BadRequestException", "Invalid email address.")
		return
	}
	s.mu.Lock()
	_, ok := s.entries[addr]
	delete(s.entries, addr)
	s.mu.Unlock()
	if !ok {
		sesError(w, http.StatusNotFound, "NotFoundException", "Email address is not on the suppression list for your account.")
		return
	}
	w.Header().Set("X-Amzn-Requestid", "standin-suppression")
	w.WriteHeader(http.StatusOK)
}

// listToken is the opaque NextToken: the last address of the previous page.
type listToken struct {
	After string `json:"after"`
}

func (s *suppressionList) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	reasons := map[string]bool{}
	for _, v := range q["Reason"] {
		if !validReason(v) {
			sesError(w, http.StatusBadRequest, "BadRequestException", fmt.Sprintf("Invalid Reason %q: must be BOUNCE or COMPLAINT.", v))
			return
		}
		reasons[v] = true
	}
	var start, end time.Time
	for name, dst := range map[string]*time.Time{"StartDate": &start, "EndDate": &end} {
		if v := q.Get(name); v != "" {
			t, err := parseAPITime(v)
			if err != nil {
				sesError(w, http.StatusBadRequest, "BadRequestException", fmt.Sprintf("Invalid %s.", name))
				return
			}
			*dst = t
		}
	}
	size := maxSuppressionPageSize
	if v := q.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxSuppressionPageSize {
			sesError(w, http.StatusBadRequest, "BadRequestException", fmt.Sprintf("PageSize must be between 1 and %d.", maxSuppressionPageSize))
			return
		}
		size = n
	}
	after := ""
	if v := q.Get("NextToken"); v != "" {
		var tok listToken
		b, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || json.Unmarshal(b, &tok) != nil || tok.After == "" {
			sesError(w, http.StatusBadRequest, "InvalidNextTokenException", "The NextToken is invalid or expired.")
			return
		}
		after = tok.After
	}

	s.mu.Lock()
	var match []suppressedEntry
	for key, e := range s.entries {
		switch {
		case len(reasons) > 0 && !reasons[e.Reason],
			!start.IsZero() && e.Updated.Before(start),
			!end.IsZero() && e.Updated.After(end),
			after != "" && key <= after:
			continue
		}
		match = append(match, e)
	}
	s.mu.Unlock()
	sort.Slice(match, func(i, j int) bool { return match[i].Address < match[j].Address })

	out := map[string]any{}
	summaries := []map[string]any{}
	for i, e := range match {
		if i == size {
			b, _ := json.Marshal(listToken{After: match[i-1].Address})
			out["NextToken"] = base64.RawURLEncoding.EncodeToString(b)
			break
		}
		summaries = append(summaries, map[string]any{"EmailAddress": e.Address, "Reason": e.Reason, "LastUpdateTime": epochSeconds(e.Updated)})
	}
	out["SuppressedDestinationSummaries"] = summaries
	sesJSON(w, out)
}

func (s *suppressionList) putAccount(w http.ResponseWriter, r *http.Request) {
	var in struct {
		SuppressedReasons *[]string
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&in); err != nil {
		sesError(w, http.StatusBadRequest, "BadRequestException", "Request body is not valid JSON.")
		return
	}
	reasons := []string{}
	if in.SuppressedReasons != nil {
		seen := map[string]bool{}
		for _, v := range *in.SuppressedReasons {
			if !validReason(v) {
				sesError(w, http.StatusBadRequest, "BadRequestException", fmt.Sprintf("Invalid SuppressedReasons value %q: must be BOUNCE or COMPLAINT.", v))
				return
			}
			if !seen[v] {
				seen[v] = true
				reasons = append(reasons, v)
			}
		}
	}
	s.mu.Lock()
	s.reasons = reasons
	s.mu.Unlock()
	sesJSON(w, map[string]any{})
}

// getAccount is the stand-in's GetAccount (moto has none): an account out
// of the sandbox, with the suppression settings PutAccountSuppressionAttributes
// last set.
func (s *suppressionList) getAccount(w http.ResponseWriter) {
	var doc map[string]any
	_ = json.Unmarshal([]byte(accountJSON), &doc) // a constant that parses
	s.mu.Lock()
	doc["SuppressionAttributes"] = map[string]any{"SuppressedReasons": append([]string{}, s.reasons...)}
	s.mu.Unlock()
	sesJSON(w, doc)
}

func validReason(r string) bool {
	for _, v := range SuppressionReasons {
		if r == v {
			return true
		}
	}
	return false
}

func validAddress(a string) bool {
	if a == "" || len(a) > 320 || strings.ContainsAny(a, "\r\n") {
		return false
	}
	p, err := mail.ParseAddress(a)
	return err == nil && p.Address == a
}

// parseAPITime reads a timestamp query parameter: epoch seconds (what the
// reference's "Unix time format" says) or RFC 3339 (what REST-JSON SDKs
// put in query strings by default).
func parseAPITime(v string) (time.Time, error) {
	if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	return time.Parse(time.RFC3339Nano, v)
}

func epochSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }
