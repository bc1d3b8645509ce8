package standin

// SES v2 configuration-set event destinations, which moto 5.2.1 lacks (it
// answers their paths with a 404 HTML page). Emulated in the proxy from the
// SES API v2 reference, request, response and error shapes:
//
//	CreateConfigurationSetEventDestination  POST   /v2/email/configuration-sets/{ConfigurationSetName}/event-destinations
//	GetConfigurationSetEventDestinations    GET    /v2/email/configuration-sets/{ConfigurationSetName}/event-destinations
//	UpdateConfigurationSetEventDestination  PUT    /v2/email/configuration-sets/{ConfigurationSetName}/event-destinations/{EventDestinationName}
//	DeleteConfigurationSetEventDestination  DELETE /v2/email/configuration-sets/{ConfigurationSetName}/event-destinations/{EventDestinationName}
//
// The configuration set itself stays moto's: every call first asks moto for
// it (NotFoundException when it does not exist), and deleting the set through
// the proxy deletes its destinations. Moto.Reset clears them.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
)

// sesEventTypes are EventDestination.MatchingEventTypes' documented values
// (API_EventDestination).
var sesEventTypes = map[string]bool{
	"SEND": true, "REJECT": true, "BOUNCE": true, "COMPLAINT": true, "DELIVERY": true,
	"OPEN": true, "CLICK": true, "RENDERING_FAILURE": true, "DELIVERY_DELAY": true, "SUBSCRIPTION": true,
}

// maxEventDestinations is SES's quota of event destinations per
// configuration set (Service quotas in Amazon SES: 10); one more is
// LimitExceededException.
const maxEventDestinations = 10

// eventDestinationName is the documented form of an event destination's name
// (API_EventDestination, SES API v1, which v2 keeps): ASCII letters, digits,
// underscores and dashes, at most 64 characters.
var eventDestinationName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// snsTopicARN is the shape of SnsDestination.TopicArn.
var snsTopicARN = regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$`)

// destinationKinds are EventDestinationDefinition's destinations, of which a
// definition names exactly one.
var destinationKinds = []string{"KinesisFirehoseDestination", "CloudWatchDestination", "SnsDestination", "EventBridgeDestination", "PinpointDestination"}

type eventDestination struct {
	Name string
	// Definition is the EventDestinationDefinition as sent (its members are
	// the EventDestination members but Name).
	Definition map[string]any
}

type eventDestinations struct {
	backend *url.URL
	client  *http.Client

	mu   sync.Mutex
	sets map[string][]eventDestination // "<region>/<configuration set>" => destinations, in creation order
}

func newEventDestinations(backend *url.URL, client *http.Client) *eventDestinations {
	return &eventDestinations{backend: backend, client: client, sets: map[string][]eventDestination{}}
}

func (e *eventDestinations) reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sets = map[string][]eventDestination{}
}

// signingRegion is the region of a SigV4 Authorization header's scope
// (Credential=KEY/DATE/REGION/SERVICE/aws4_request).
func signingRegion(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	i := strings.Index(auth, "Credential=")
	if i < 0 {
		return ""
	}
	parts := strings.Split(strings.SplitN(auth[i+len("Credential="):], ",", 2)[0], "/")
	if len(parts) < 5 {
		return ""
	}
	return parts[2]
}

// serve handles the event-destination operations and reports whether r was
// one. A configuration-set deletion is forwarded with next and, when moto
// deleted the set, its destinations go too.
func (e *eventDestinations) serve(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
	if !sesService(r) {
		return false
	}
	const prefix = "/v2/email/configuration-sets/"
	p := r.URL.EscapedPath()
	if !strings.HasPrefix(p, prefix) {
		return false
	}
	segs := strings.Split(strings.TrimSuffix(strings.TrimPrefix(p, prefix), "/"), "/")
	for i, s := range segs {
		u, err := url.PathUnescape(s)
		if err != nil {
			sesError(w, http.StatusBadRequest, "BadRequestException", "malformed path")
			return true
		}
		segs[i] = u
	}
	key := signingRegion(r) + "/" + segs[0]

	switch {
	case len(segs) == 1 && r.Method == http.MethodDelete:
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == http.StatusOK {
			e.mu.Lock()
			delete(e.sets, key)
			e.mu.Unlock()
		}
		return true
	case len(segs) < 2 || segs[1] != "event-destinations" || len(segs) > 3:
		return false
	}

	if !e.configurationSetExists(w, r, segs[0]) {
		return true
	}
	switch {
	case len(segs) == 2 && r.Method == http.MethodPost:
		e.create(w, r, key)
	case len(segs) == 2 && r.Method == http.MethodGet:
		e.list(w, key)
	case len(segs) == 3 && r.Method == http.MethodPut:
		e.update(w, r, key, segs[2])
	case len(segs) == 3 && r.Method == http.MethodDelete:
		e.delete(w, key, segs[2])
	default:
		sesError(w, http.StatusMethodNotAllowed, "BadRequestException", r.Method+" is not an event-destination operation")
	}
	return true
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// configurationSetExists asks moto for the set (GetConfigurationSet, with
// the caller's signature: moto routes by it and does not verify it). When
// the set is missing or moto fails, it has written the error.
func (e *eventDestinations) configurationSetExists(w http.ResponseWriter, r *http.Request, name string) bool {
	u := *e.backend
	u.Path = "/v2/email/configuration-sets/" + name
	u.RawPath = "/v2/email/configuration-sets/" + url.PathEscape(name)
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, u.String(), nil)
	if err != nil {
		sesError(w, http.StatusInternalServerError, "InternalFailure", err.Error())
		return false
	}
	for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	resp, err := e.client.Do(req)
	if err != nil {
		sesError(w, http.StatusInternalServerError, "InternalFailure", "standin: moto: "+err.Error())
		return false
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	switch resp.StatusCode {
	case http.StatusOK:
		return true
	case http.StatusNotFound:
		sesError(w, http.StatusNotFound, "NotFoundException", fmt.Sprintf("Configuration set <%s> does not exist.", name))
	default:
		sesError(w, http.StatusInternalServerError, "InternalFailure", "standin: moto GetConfigurationSet: "+resp.Status)
	}
	return false
}

// readDefinition decodes and checks an EventDestinationDefinition. On a
// problem it writes BadRequestException and returns nil.
func readDefinition(w http.ResponseWriter, raw json.RawMessage) map[string]any {
	var def map[string]any
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		sesError(w, http.StatusBadRequest, "BadRequestException", "EventDestination is required.")
		return nil
	}
	if err := json.Unmarshal(raw, &def); err != nil {
		sesError(w, http.StatusBadRequest, "BadRequestException", "EventDestination is not a JSON object.")
		return nil
	}
	// Exactly one destination ("you must provide one, and only one,
	// destination").
	var kinds []string
	for _, k := range destinationKinds {
		if v, ok := def[k]; ok && v != nil {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) != 1 {
		sesError(w, http.StatusBadRequest, "BadRequestException", fmt.Sprintf("An event destination names one and only one destination; got %d (%s).", len(kinds), strings.Join(kinds, ", ")))
		return nil
	}
	if v, ok := def["Enabled"]; ok {
		if _, isBool := v.(bool); !isBool {
			sesError(w, http.StatusBadRequest, "BadRequestException", "Enabled is not a boolean.")
			return nil
		}
	}
	types, _ := def["MatchingEventTypes"].([]any)
	if len(types) == 0 {
		sesError(w, http.StatusBadRequest, "BadRequestException", "MatchingEventTypes must name at least one event type.")
		return nil
	}
	for _, t := range types {
		s, _ := t.(string)
		if !sesEventTypes[s] {
			sesError(w, http.StatusBadRequest, "BadRequestException", fmt.Sprintf("Invalid event type %v in MatchingEventTypes.", t))
			return nil
		}
	}
	if sns, ok := def["SnsDestination"]; ok && sns != nil {
		m, _ := sns.(map[string]any)
		arn, _ := m["TopicArn"].(string)
		if !snsTopicARN.MatchString(arn) {
			sesError(w, http.StatusBadRequest, "BadRequestException", fmt.Sprintf("SnsDestination.TopicArn %q is not an SNS topic ARN.", arn))
			return nil
		}
	}
	return def
}

func (e *eventDestinations) create(w http.ResponseWriter, r *http.Request, key string) {
	var in struct {
		EventDestinationName string
		EventDestination     json.RawMessage
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
		sesError(w, http.StatusBadRequest, "BadRequestException", "The request body is not JSON.")
		return
	}
	if !eventDestinationName.MatchString(in.EventDestinationName) {
		sesError(w, http.StatusBadRequest, "BadRequestException", "EventDestinationName must be 1 to 64 ASCII letters, digits, underscores or dashes.")
		return
	}
	def := readDefinition(w, in.EventDestination)
	if def == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, d := range e.sets[key] {
		if d.Name == in.EventDestinationName {
			sesError(w, http.StatusBadRequest, "AlreadyExistsException", fmt.Sprintf("Event destination %s already exists.", in.EventDestinationName))
			return
		}
	}
	if len(e.sets[key]) >= maxEventDestinations {
		sesError(w, http.StatusBadRequest, "LimitExceededException", fmt.Sprintf("A configuration set can have at most %d event destinations.", maxEventDestinations))
		return
	}
	e.sets[key] = append(e.sets[key], eventDestination{Name: in.EventDestinationName, Definition: def})
	sesJSON(w, struct{}{})
}

func (e *eventDestinations) list(w http.ResponseWriter, key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []map[string]any{}
	for _, d := range e.sets[key] {
		item := map[string]any{"Name": d.Name, "Enabled": false}
		for k, v := range d.Definition {
			item[k] = v
		}
		out = append(out, item)
	}
	sesJSON(w, map[string]any{"EventDestinations": out})
}

func (e *eventDestinations) update(w http.ResponseWriter, r *http.Request, key, name string) {
	var in struct{ EventDestination json.RawMessage }
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
		sesError(w, http.StatusBadRequest, "BadRequestException", "The request body is not JSON.")
		return
	}
	def := readDefinition(w, in.EventDestination)
	if def == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, d := range e.sets[key] {
		if d.Name == name {
			e.sets[key][i].Definition = def
			sesJSON(w, struct{}{})
			return
		}
	}
	sesError(w, http.StatusNotFound, "NotFoundException", fmt.Sprintf("Event destination %s does not exist.", name))
}

func (e *eventDestinations) delete(w http.ResponseWriter, key, name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ds := e.sets[key]
	for i, d := range ds {
		if d.Name == name {
			e.sets[key] = append(ds[:i:i], ds[i+1:]...)
			sesJSON(w, struct{}{})
			return
		}
	}
	sesError(w, http.StatusNotFound, "NotFoundException", fmt.Sprintf("Event destination %s does not exist.", name))
}
