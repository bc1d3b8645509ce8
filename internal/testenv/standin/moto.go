package standin

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

// ErrMotoMissing means moto_server is not on PATH.
var ErrMotoMissing = errors.New("standin: moto_server not found on PATH")

// MotoOptions configures StartMoto.
type MotoOptions struct {
	// Fault, when set, sees every request before it is forwarded. If it
	// returns ok, the proxy answers with status and body (Content-Type
	// application/json) instead of forwarding. For SES v2 errors the body
	// carries the error type, which the AWS SDK reads from "__type", for
	// example {"__type":"TooManyRequestsException","message":"Maximum sending rate exceeded."}
	// with status 429. The request body has not been read; if Fault reads
	// it, it must put it back.
	Fault func(*http.Request) (status int, body string, ok bool)
	// Log, when set, receives moto_server's output.
	Log io.Writer
}

// Moto is a moto_server child process behind a correcting proxy, both on
// 127.0.0.1.
type Moto struct {
	// URL is the proxy ("http://127.0.0.1:PORT"): use it as AWS_ENDPOINT_URL.
	URL string
	// BackendURL is moto_server itself, without the corrections.
	BackendURL string

	cmd       *exec.Cmd
	waitDone  chan struct{}
	proxy     *http.Server
	proxyDone chan struct{}
	closeOnce sync.Once
	client    *http.Client
	// suppression emulates SES v2's suppression list (suppression.go).
	suppression *suppressionList
	// eventDests emulates SES v2 event destinations (eventdest.go).
	eventDests *eventDestinations
	// dynamoWrites makes DynamoDB's conditional writes atomic, as they are
	// in DynamoDB (dynamoatomic.go).
	dynamoWrites dynamoWrites
}

// StartMoto starts moto_server on a free 127.0.0.1 port and a proxy in
// front of it. ctx bounds the start only; Close stops both. An error
// wrapping ErrMotoMissing means moto_server is not installed.
//
// The proxy corrects what moto 5.2.1 answers differently from SES v2 in
// ways the AWS SDK for Go v2 (or the mailer's checks) trip over:
// DkimAttributes.LastKeyGenerationTimestamp in Create/GetEmailIdentity
// (moto: an ISO-8601 string; SES: epoch seconds), GetEmailIdentity's
// VerifiedForSendingStatus (moto: always false; here true when the identity
// exists), and GetAccount (moto: 404; here a production-access account).
// It emulates what moto lacks: the SES v2 suppression list and the
// account's suppression attributes (suppression.go). It also refuses, with
// SES's error shape, the SendEmail requests SES would refuse and moto
// accepts: lines over 1,000 characters, messages over 40 MB, no From or Date
// header, more than 50 recipients, a sender that is not a verified identity
// (sesrules.go).
func StartMoto(ctx context.Context, opts MotoOptions) (*Moto, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMotoMissing, err)
	}
	m := &Moto{client: &http.Client{Timeout: 30 * time.Second}, suppression: newSuppressionList()}

	// The port is picked by binding and releasing it; retry if moto loses
	// the race for it.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		lastErr = m.startChild(ctx, bin, port, opts.Log)
		if lastErr == nil {
			break
		}
		if ctx.Err() != nil {
			break
		}
	}
	if lastErr != nil {
		return nil, lastErr
	}

	backend, _ := url.Parse(m.BackendURL)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		m.stopChild()
		return nil, err
	}
	m.URL = "http://" + ln.Addr().String()
	m.proxy = &http.Server{
		Handler:           m.proxyHandler(backend, opts.Fault),
		ReadHeaderTimeout: 10 * time.Second,
	}
	m.proxyDone = make(chan struct{})
	go func() {
		defer close(m.proxyDone)
		_ = m.proxy.Serve(ln)
	}()
	return m, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (m *Moto) startChild(ctx context.Context, bin string, port int, logw io.Writer) error {
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	// Its own process group, so that Close stops whatever the pyenv shim
	// or moto_server started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	var outMu sync.Mutex
	w := io.Writer(&lockedWriter{mu: &outMu, w: &out})
	if logw != nil {
		w = io.MultiWriter(w, logw)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("standin: start moto_server: %w", err)
	}
	m.cmd = cmd
	m.waitDone = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(m.waitDone)
	}()
	m.BackendURL = fmt.Sprintf("http://127.0.0.1:%d", port)

	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.BackendURL+"/moto-api/", nil)
		resp, err := m.client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-m.waitDone:
			outMu.Lock()
			defer outMu.Unlock()
			return fmt.Errorf("standin: moto_server exited before answering: %s", strings.TrimSpace(out.String()))
		case <-ctx.Done():
			m.stopChild()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			m.stopChild()
			return errors.New("standin: moto_server did not answer GET /moto-api/ within 60s")
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (m *Moto) stopChild() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	pid := m.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-m.waitDone:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-m.waitDone
	}
	// Anything left in the group after the leader exited.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}

// Close stops the proxy and moto_server and waits for them.
func (m *Moto) Close() error {
	var err error
	m.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if m.proxy != nil {
			err = m.proxy.Shutdown(ctx)
			<-m.proxyDone
		}
		m.stopChild()
	})
	return err
}

// Reset clears all of moto's state (POST /moto-api/reset) and the
// emulated suppression list.
func (m *Moto) Reset() error {
	m.suppression.reset()
	resetMailFrom(m.BackendURL)
	resp, err := m.client.Post(m.BackendURL+"/moto-api/reset", "application/json", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("standin: moto reset: %s", resp.Status)
	}
	if m.eventDests != nil {
		m.eventDests.reset()
	}
	return nil
}

// SentEmail is one message moto accepted through SendEmail.
type SentEmail struct {
	// MessageID is the MessageId SendEmail returned.
	MessageID string
	// Source is the sender: FromEmailAddress, or the From of a Raw message
	// sent without one.
	Source string
	// Destinations are all recipients, each once: the SendEmail
	// Destination's To, Cc and Bcc, then (moto adds them for Raw sends) the
	// To, Cc and Bcc headers of the Raw message, as moto formats them
	// ("Name <addr>" when the header has a display name).
	Destinations []string
	// Raw is the MIME message of a Raw send, byte for byte. Nil for Simple
	// sends.
	Raw []byte
	// Subject and Body are set for Simple sends (Body is the HTML part if
	// there is one, else the text part: moto keeps only one).
	Subject string
	Body    string
}

// SentEmails lists the mail moto accepted, from GET /moto-api/data.json:
// Raw sends first (ses.RawMessage), then Simple sends (ses.Message), each
// in sending order. SES v2 sends are kept under "ses" (moto's v2 backend
// reuses v1's). Moto decodes Raw content as UTF-8, so a Raw message must be
// valid UTF-8 (the mailer's MIME is ASCII).
func (m *Moto) SentEmails() ([]SentEmail, error) {
	resp, err := m.client.Get(m.BackendURL + "/moto-api/data.json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("standin: moto data.json: %s", resp.Status)
	}
	var d struct {
		SES struct {
			RawMessage []struct {
				ID           string   `json:"id"`
				Source       string   `json:"source"`
				Destinations []string `json:"destinations"`
				RawData      string   `json:"raw_data"`
			} `json:"RawMessage"`
			Message []struct {
				ID           string              `json:"id"`
				Source       string              `json:"source"`
				Destinations map[string][]string `json:"destinations"`
				Subject      string              `json:"subject"`
				Body         string              `json:"body"`
			} `json:"Message"`
		} `json:"ses"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		return nil, fmt.Errorf("standin: moto data.json: %w", err)
	}
	var out []SentEmail
	for _, r := range d.SES.RawMessage {
		out = append(out, SentEmail{
			MessageID:    r.ID,
			Source:       r.Source,
			Destinations: dedupe(r.Destinations),
			Raw:          []byte(r.RawData),
		})
	}
	for _, s := range d.SES.Message {
		var dest []string
		for _, k := range []string{"ToAddresses", "CcAddresses", "BccAddresses"} {
			dest = append(dest, s.Destinations[k]...)
		}
		out = append(out, SentEmail{
			MessageID:    s.ID,
			Source:       s.Source,
			Destinations: dedupe(dest),
			Subject:      s.Subject,
			Body:         s.Body,
		})
	}
	return out, nil
}

func dedupe(xs []string) []string {
	seen := make(map[string]bool, len(xs))
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// SESClient is an SES v2 client for this stand-in (region us-east-1,
// static credentials test/test).
func (m *Moto) SESClient() *sesv2.Client {
	return sesv2.New(sesv2.Options{
		Region:       Region,
		BaseEndpoint: aws.String(m.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

// CreateDKIMIdentity creates the SES domain identity domain with
// bring-your-own DKIM signing attributes (a fresh RSA key), the only way
// moto reports its DKIM status SUCCESS.
func (m *Moto) CreateDKIMIdentity(ctx context.Context, domain string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	_, err = m.SESClient().CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{
		EmailIdentity: aws.String(domain),
		DkimSigningAttributes: &sestypes.DkimSigningAttributes{
			DomainSigningSelector:   aws.String("phenom"),
			DomainSigningPrivateKey: aws.String(base64.StdEncoding.EncodeToString(der)),
		},
	})
	if err != nil {
		return fmt.Errorf("standin: create SES identity %s: %w", domain, err)
	}
	return nil
}

// sesService reports whether a request is signed for SES (SigV4 scope
// ".../ses/aws4_request"). moto routes unsigned or other requests
// elsewhere (for example /v2/... to S3), so the corrections apply to SES
// requests only.
func sesService(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Authorization"), "/ses/aws4_request")
}

// accountJSON is a GetAccount answer of an account out of the sandbox.
const accountJSON = `{"DedicatedIpAutoWarmupEnabled":false,` +
	`"Details":{"MailType":"TRANSACTIONAL","WebsiteURL":"https://thephenom.app",` +
	`"ReviewDetails":{"CaseId":"00000000-standin","Status":"GRANTED"}},` +
	`"EnforcementStatus":"HEALTHY","ProductionAccessEnabled":true,` +
	`"SendQuota":{"Max24HourSend":50000.0,"MaxSendRate":14.0,"SentLast24Hours":0.0},` +
	`"SendingEnabled":true,"SuppressionAttributes":{"SuppressedReasons":["BOUNCE","COMPLAINT"]}}`

func (m *Moto) proxyHandler(backend *url.URL, fault func(*http.Request) (int, string, bool)) http.Handler {
	rp := httputil.NewSingleHostReverseProxy(backend)
	rp.ModifyResponse = func(resp *http.Response) error {
		if sqsJSONRequest(resp.Request) {
			return fixSQSResponse(resp)
		}
		return fixSESResponse(resp)
	}
	m.eventDests = newEventDestinations(backend, m.client)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fault != nil {
			if status, body, ok := fault(r); ok {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				io.WriteString(w, body)
				return
			}
		}
		// SES's documented SendEmail limits, which moto does not enforce
		// (sesrules.go).
		if isSendEmail(r) {
			if refusal := m.checkSendEmail(r); refusal != nil {
				refusal.write(w)
				return
			}
		}
		if m.suppression.serve(w, r) { // suppression list and GetAccount, emulated
			return
		}
		if m.eventDests.serve(w, r, rp) { // configuration-set event destinations (eventdest.go)
			return
		}
		if m.serveMailFrom(w, r, backend) { // mailfrom.go
			return
		}
		m.dynamoWrites.serialize(w, r, rp) // dynamoatomic.go
	})
}

// fixSESResponse corrects successful CreateEmailIdentity (POST
// /v2/email/identities) and GetEmailIdentity (GET
// /v2/email/identities/{id}) answers: the DKIM key generation time becomes
// epoch seconds in both, and GetEmailIdentity says the identity is verified
// for sending.
func fixSESResponse(resp *http.Response) error {
	r := resp.Request
	if resp.StatusCode != http.StatusOK || !sesService(r) {
		return nil
	}
	path := r.URL.Path
	isGet := r.Method == http.MethodGet && strings.HasPrefix(path, "/v2/email/identities/") &&
		!strings.Contains(strings.TrimPrefix(path, "/v2/email/identities/"), "/")
	isCreate := r.Method == http.MethodPost && strings.TrimSuffix(path, "/") == "/v2/email/identities"
	isConfigSet := r.Method == http.MethodGet && strings.HasPrefix(path, "/v2/email/configuration-sets/")
	if isConfigSet {
		return fixConfigurationSet(resp)
	}
	if !isGet && !isCreate {
		return nil
	}
	return rewriteJSON(resp, func(doc map[string]any) {
		if isGet {
			doc["VerifiedForSendingStatus"] = true
			fillEasyDKIMTokens(doc, strings.TrimPrefix(path, "/v2/email/identities/"))       // easydkim.go
			fillMailFrom(doc, r.URL.Host, strings.TrimPrefix(path, "/v2/email/identities/")) // mailfrom.go
		}
		if dkim, ok := doc["DkimAttributes"].(map[string]any); ok {
			if s, ok := dkim["LastKeyGenerationTimestamp"].(string); ok {
				if t, err := parseMotoTime(s); err == nil {
					dkim["LastKeyGenerationTimestamp"] = float64(t.UnixMilli()) / 1000
				} else {
					delete(dkim, "LastKeyGenerationTimestamp")
				}
			}
		}
	})
}

// rewriteJSON reads resp's JSON body, lets fix change it, and puts the
// result back; a body that is not a JSON object passes unchanged.
func rewriteJSON(resp *http.Response, fix func(doc map[string]any)) error {
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err == nil {
		fix(doc)
		if fixed, err := json.Marshal(doc); err == nil {
			body = fixed
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

func parseMotoTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("standin: unparsed moto time %q", s)
}

// fixConfigurationSet corrects moto's GetConfigurationSet answer, where
// members that SES sends as booleans (SendingOptions.SendingEnabled,
// ReputationOptions.ReputationMetricsEnabled, ...) come back as objects,
// which the AWS SDK for Go v2 cannot decode: moto nests the whole
// SendingOptions it was given inside SendingEnabled
// ({"SendingEnabled":{"SendingEnabled":true}}), which is unwrapped; other
// objects in boolean members are dropped. Options never set come back as
// {}, where SES leaves the member out: those are removed (an engine would
// otherwise see settings nobody made).
func fixConfigurationSet(resp *http.Response) error {
	return rewriteJSON(resp, func(doc map[string]any) {
		if sec, ok := doc["SendingOptions"].(map[string]any); ok {
			if inner, ok := sec["SendingEnabled"].(map[string]any); ok {
				if b, ok := inner["SendingEnabled"].(bool); ok {
					sec["SendingEnabled"] = b
				}
			}
		}
		for _, section := range []string{"TrackingOptions", "DeliveryOptions", "ReputationOptions", "SendingOptions", "SuppressionOptions", "VdmOptions"} {
			if sec, ok := doc[section].(map[string]any); ok && len(sec) == 0 {
				delete(doc, section)
			}
		}
		bools := map[string][]string{
			"SendingOptions":     {"SendingEnabled"},
			"ReputationOptions":  {"ReputationMetricsEnabled"},
			"VdmOptions":         nil,
			"SuppressionOptions": nil,
		}
		for section, members := range bools {
			sec, ok := doc[section].(map[string]any)
			if !ok {
				delete(doc, section)
				continue
			}
			for _, m := range members {
				if _, isBool := sec[m].(bool); !isBool {
					delete(sec, m)
				}
			}
		}
	})
}
