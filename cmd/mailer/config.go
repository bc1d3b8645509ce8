package main

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/cognito"
	"github.com/Phenom-earth/phenom-mailer/internal/delivery"
	"github.com/Phenom-earth/phenom-mailer/internal/render"
	"github.com/Phenom-earth/phenom-mailer/internal/send"
)

// Config is everything the Cognito sender reads from its environment,
// split by concern so that a command loads only what it uses (`mailer
// preview` loads RenderConfig and, for --send-to, SendConfig; it decrypts
// nothing).
type Config struct {
	DecryptConfig
	RenderConfig
	SendConfig
	IdempotencyTable string
	Timeout          time.Duration
	Environment      string
	// Read by `mailer doctor` only (the failed-events queue's URL, read by
	// doctor and trace, is Record.FailedEventsQueueURL).
	EventsDLQURL string
	SendDLQURL   string // the send service's dead-letter queue
	AlarmPrefix  string

	Record DeliveryConfig // MAILER_DELIVERY_TABLE, MAILER_DELIVERY_TTL
}

// DecryptConfig is what decrypting Cognito's codes needs: the pools' keys
// and which pools are served.
type DecryptConfig struct {
	KMSKeyARNs         []string
	AllowedPools       []string
	RequirePoolContext bool
	// PoolClients maps a user pool id to its default app client, the reset
	// link's cid when Cognito names no client (MAILER_POOL_CLIENTS).
	PoolClients map[string]string
}

// RenderConfig is what the renderer needs (render.Options).
type RenderConfig struct {
	ResetURL     string
	SupportEmail string
	// The welcome mail's links: the web app (default www.thephenom.app)
	// and the store pages (unset: that link is left out).
	WebAppURL, AppStoreURL, PlayStoreURL string
}

// SendConfig is what building and delivering a mail needs.
type SendConfig struct {
	From             string
	ConfigurationSet string
	RequireDKIM      bool
	Delivery         string // "ses" or "maildir:PATH"
	MaildirPath      string
	DKIMSelector     string
	DKIMDomain       string
	DKIMPrivateKey   []byte // never logged
	CheckSuppression bool
}

// ServiceConfig is what the send service (issue 12: the send queue, the
// function URL, `mailer send`) reads: rendering, sending, idempotency,
// the delivery record, and its own pacing. It decrypts nothing, so it
// needs no KMS key or pool.
type ServiceConfig struct {
	RenderConfig
	SendConfig
	// Enabled (MAILER_SERVICE=true): this bootstrap serves the send queue
	// and the function URL.
	Enabled          bool
	IdempotencyTable string
	Timeout          time.Duration
	Environment      string
	Record           DeliveryConfig
	// Concurrency is the send function's maximum concurrency
	// (MAILER_SERVICE_CONCURRENCY, default 1): one instance may use
	// Rate/Concurrency mails per second.
	Concurrency int
	// Rate is the account-wide mails per second the service may use
	// (MAILER_SERVICE_RATE); 0 = the account's SES MaxSendRate.
	Rate float64
	// BatchParallel is how many messages of one SQS batch are sent at once
	// (MAILER_SERVICE_BATCH_PARALLEL, 1 to 10, default 10).
	BatchParallel int
}

// maxBatchParallel is the largest useful MAILER_SERVICE_BATCH_PARALLEL: an
// SQS batch holds at most 10 messages (the event source mapping's
// batch_size).
const maxBatchParallel = 10

// envDoc documents every variable; `mailer help` prints it.
const envDoc = `Environment:
  MAILER_KMS_KEY_ARNS          comma-separated KMS key ARNs of the pools' Cognito keys (required; ARNs, not aliases)
  MAILER_ALLOWED_POOLS         comma-separated user pool ids this deployment serves (required)
  MAILER_REQUIRE_POOL_CONTEXT  refuse ciphertexts without a userpool-id encryption context (default true;
                               false only for emulators such as cognito-local)
  PASSWORD_RESET_URL           reset page for the ForgotPassword button (default https://www.thephenom.app/reset-password)
  MAILER_FROM                  From header (default "Phenom <noreply@thephenom.app>")
  MAILER_CONFIGURATION_SET     SES configuration set for every send (optional)
  MAILER_REQUIRE_DKIM          refuse to send unless SES reports the From domain's DKIM as SUCCESS and
                               signing enabled (default true; false only for stand-ins that cannot report it)
  MAILER_DELIVERY              "ses" (default) or "maildir:PATH" to write each mail into a local Maildir
  MAILER_TIMEOUT               bound on one invocation outside Lambda (default 30s)
  MAILER_ENVIRONMENT           value of the "environment" email tag, e.g. staging (optional)
  MAILER_SUPPORT_EMAIL         support address shown in the footer (default support@thephenom.app)
  MAILER_WEB_APP_URL           the web app the welcome mail links to (https; default https://www.thephenom.app)
  MAILER_APP_STORE_URL         the iOS app's App Store page for the welcome mail (https; optional: unset leaves
                               the link out)
  MAILER_PLAY_STORE_URL        the Android app's Google Play page for the welcome mail (https; optional, likewise)
  MAILER_DKIM_SELECTOR         with a private key: sign each mail with DKIM in the mailer itself (optional)
  MAILER_DKIM_DOMAIN           d= of that signature (default: the From domain)
  MAILER_DKIM_PRIVATE_KEY      PEM private key for that signature, or
  MAILER_DKIM_PRIVATE_KEY_FILE a file holding it
  MAILER_IDEMPOTENCY_TABLE     DynamoDB table (partition key "id" string, TTL attribute "expires_at") that
                               makes delivery at most once per event (optional; without it a repeated
                               delivery of the same event sends again)
  MAILER_CHECK_SUPPRESSION     ask SES whether the recipient is on the account's suppression list before
                               sending (SES delivery only; default true); a listed recipient gets no mail
                               (outcome suppressed), a failed look-up is logged and the mail is sent
  MAILER_EVENTS_DLQ_URL        URL of the SES events queue's dead-letter queue; mailer doctor reports what
                               waits in it (optional)
  MAILER_SEND_DLQ_URL          URL of the send service's dead-letter queue; mailer doctor reports what waits
                               in it and requires the send-dlq and send-errors alarms (optional; unset, the
                               send service is not checked)
  MAILER_FAILED_EVENTS_QUEUE_URL URL of the queue of Cognito events that failed every attempt (the
                               function's on-failure destination); mailer doctor reports them, mailer
                               trace finds them by request id or address (optional)
  MAILER_ALARM_PREFIX          prefix of the alarms deploy/terraform creates ("<name>-<environment>-");
                               mailer doctor checks they exist (optional)
  MAILER_POOL_CLIENTS          poolId=clientId,... each pool's default app client, the reset link's cid when the
                               event names no client (admin requests send CLIENT_ID_NOT_APPLICABLE); every pool
                               must be in MAILER_ALLOWED_POOLS (optional; without one the link has no cid)
  MAILER_DELIVERY_TABLE        DynamoDB table of the delivery record (partition key "pk", sort key "sk",
                               TTL "expires_at", index "by-recipient"): each attempt and every SES event,
                               read by "mailer trace" (optional; unset = no records). The events function
                               needs only this one (and the TTL)
  MAILER_DELIVERY_TTL          how long records live: a Go duration or days, e.g. 30d (default 30d)
  MAILER_SERVICE               true: this bootstrap is the send function too: it serves the send queue's SQS
                               batches and the function URL (POST /v1/send) (default false). The send
                               function needs no KMS key or pool; it reads the render, send, idempotency
                               and delivery-record variables above
  MAILER_SERVICE_CONCURRENCY   the send function's maximum concurrency (the event source mapping's
                               maximum_concurrency); each instance sends at most RATE/N mails per second
                               (integer >= 1, default 1)
  MAILER_SERVICE_RATE          mails per second the service may use account-wide (number > 0); the pace
                               is min(RATE, SES GetAccount MaxSendRate) (default: the account's MaxSendRate)
  MAILER_SERVICE_BATCH_PARALLEL messages of one SQS batch sent at once (1 to 10, default 10)
  AWS_REGION, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL_SESV2 and the other AWS SDK
                               variables configure the AWS clients as usual.
  GOGC                         the Go garbage collector's target, as in any Go program. Unset, the Lambda
                               (and "mailer invoke") run with 400 until the first event is handled, then
                               with Go's default 100; set, it holds from the start
`

// envReader reads variables and collects every problem.
type envReader struct {
	getenv func(string) string
	errs   []error
}

func (e *envReader) str(name string) string { return strings.TrimSpace(e.getenv(name)) }

func (e *envReader) boolVar(name string, def bool) bool {
	v := e.str(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q is not true or false", name, v))
		return def
	}
	return b
}

// loadConfig reads the environment and reports every problem at once.
func loadConfig(getenv func(string) string) (Config, error) {
	e := &envReader{getenv: getenv}
	c := Config{
		DecryptConfig:    e.decrypt(),
		RenderConfig:     e.render(),
		SendConfig:       e.send(),
		Timeout:          e.timeout(),
		Environment:      e.str("MAILER_ENVIRONMENT"),
		IdempotencyTable: e.str("MAILER_IDEMPOTENCY_TABLE"),
		EventsDLQURL:     e.str("MAILER_EVENTS_DLQ_URL"),
		SendDLQURL:       e.str("MAILER_SEND_DLQ_URL"),
		AlarmPrefix:      e.str("MAILER_ALARM_PREFIX"),
	}
	var err error
	if c.Record, err = loadDeliveryConfig(getenv); err != nil {
		e.errs = append(e.errs, err)
	}
	return c, e.err()
}

// loadServiceConfig reads what the send service needs, and reports every
// problem at once. It reads no KMS or pool variable.
func loadServiceConfig(getenv func(string) string) (ServiceConfig, error) {
	e := &envReader{getenv: getenv}
	c := ServiceConfig{
		RenderConfig:     e.render(),
		SendConfig:       e.send(),
		Enabled:          e.boolVar("MAILER_SERVICE", false),
		IdempotencyTable: e.str("MAILER_IDEMPOTENCY_TABLE"),
		Timeout:          e.timeout(),
		Environment:      e.str("MAILER_ENVIRONMENT"),
		Concurrency:      1,
		BatchParallel:    maxBatchParallel,
	}
	if v := e.str("MAILER_SERVICE_CONCURRENCY"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			e.errs = append(e.errs, fmt.Errorf("MAILER_SERVICE_CONCURRENCY=%q is not a whole number of at least 1 (the send function's maximum concurrency)", v))
		} else {
			c.Concurrency = n
		}
	}
	if v := e.str("MAILER_SERVICE_RATE"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(r) || math.IsInf(r, 0) || r <= 0 {
			e.errs = append(e.errs, fmt.Errorf("MAILER_SERVICE_RATE=%q is not a number of mails per second above 0, such as 14 or 0.5", v))
		} else {
			c.Rate = r
		}
	}
	if v := e.str("MAILER_SERVICE_BATCH_PARALLEL"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxBatchParallel {
			e.errs = append(e.errs, fmt.Errorf("MAILER_SERVICE_BATCH_PARALLEL=%q is not a whole number from 1 to %d", v, maxBatchParallel))
		} else {
			c.BatchParallel = n
		}
	}
	var err error
	if c.Record, err = loadDeliveryConfig(getenv); err != nil {
		e.errs = append(e.errs, err)
	}
	return c, e.err()
}

// timeout reads MAILER_TIMEOUT (default 30s).
func (e *envReader) timeout() time.Duration {
	v := e.str("MAILER_TIMEOUT")
	if v == "" {
		return 30 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		e.errs = append(e.errs, fmt.Errorf("MAILER_TIMEOUT=%q is not a positive duration such as 30s", v))
		return 30 * time.Second
	}
	return d
}

// loadRenderConfig reads only what the renderer needs.
func loadRenderConfig(getenv func(string) string) (RenderConfig, error) {
	e := &envReader{getenv: getenv}
	c := e.render()
	return c, e.err()
}

// loadSendConfig reads only what building and delivering needs.
func loadSendConfig(getenv func(string) string) (SendConfig, error) {
	e := &envReader{getenv: getenv}
	c := e.send()
	return c, e.err()
}

func (e *envReader) err() error {
	if len(e.errs) > 0 {
		return fmt.Errorf("configuration: %w", errors.Join(e.errs...))
	}
	return nil
}

// decrypt reads MAILER_KMS_KEY_ARNS, MAILER_ALLOWED_POOLS,
// MAILER_REQUIRE_POOL_CONTEXT and MAILER_POOL_CLIENTS.
func (e *envReader) decrypt() DecryptConfig {
	c := DecryptConfig{
		KMSKeyARNs:         splitList(e.getenv("MAILER_KMS_KEY_ARNS")),
		AllowedPools:       splitList(e.getenv("MAILER_ALLOWED_POOLS")),
		RequirePoolContext: e.boolVar("MAILER_REQUIRE_POOL_CONTEXT", true),
	}
	if len(c.KMSKeyARNs) == 0 {
		e.errs = append(e.errs, errors.New("MAILER_KMS_KEY_ARNS is required (comma-separated KMS key ARNs)"))
	}
	if len(c.AllowedPools) == 0 {
		e.errs = append(e.errs, errors.New("MAILER_ALLOWED_POOLS is required (comma-separated user pool ids)"))
	}
	c.PoolClients, e.errs = parsePoolClients(e.getenv("MAILER_POOL_CLIENTS"), c.AllowedPools, e.errs)
	return c
}

// render reads PASSWORD_RESET_URL and MAILER_SUPPORT_EMAIL.
func (e *envReader) render() RenderConfig {
	c := RenderConfig{
		ResetURL:     orDefault(e.getenv("PASSWORD_RESET_URL"), render.DefaultResetURL),
		SupportEmail: orDefault(e.getenv("MAILER_SUPPORT_EMAIL"), render.DefaultSupportEmail),
		WebAppURL:    orDefault(e.getenv("MAILER_WEB_APP_URL"), render.DefaultWebAppURL),
		AppStoreURL:  e.str("MAILER_APP_STORE_URL"),
		PlayStoreURL: e.str("MAILER_PLAY_STORE_URL"),
	}
	if u, err := url.Parse(c.ResetURL); err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		e.errs = append(e.errs, fmt.Errorf("PASSWORD_RESET_URL=%q is not an absolute http(s) URL", c.ResetURL))
	}
	for _, v := range []struct{ name, url string }{
		{"MAILER_WEB_APP_URL", c.WebAppURL}, {"MAILER_APP_STORE_URL", c.AppStoreURL}, {"MAILER_PLAY_STORE_URL", c.PlayStoreURL},
	} {
		if u, err := url.Parse(v.url); v.url != "" && (err != nil || u.Scheme != "https" || u.Host == "") {
			e.errs = append(e.errs, fmt.Errorf("%s=%q is not an absolute https URL", v.name, v.url))
		}
	}
	return c
}

// options are the renderer's options.
func (c RenderConfig) options() render.Options {
	return render.Options{ResetURL: c.ResetURL, SupportEmail: c.SupportEmail,
		WebAppURL: c.WebAppURL, AppStoreURL: c.AppStoreURL, PlayStoreURL: c.PlayStoreURL}
}

// send reads MAILER_FROM, MAILER_CONFIGURATION_SET, MAILER_REQUIRE_DKIM,
// MAILER_DELIVERY, the DKIM variables and MAILER_CHECK_SUPPRESSION.
func (e *envReader) send() SendConfig {
	c := SendConfig{
		From:             orDefault(e.getenv("MAILER_FROM"), send.DefaultFrom),
		ConfigurationSet: e.str("MAILER_CONFIGURATION_SET"),
		RequireDKIM:      e.boolVar("MAILER_REQUIRE_DKIM", true),
		Delivery:         orDefault(e.getenv("MAILER_DELIVERY"), "ses"),
		DKIMSelector:     e.str("MAILER_DKIM_SELECTOR"),
		DKIMDomain:       e.str("MAILER_DKIM_DOMAIN"),
		CheckSuppression: e.boolVar("MAILER_CHECK_SUPPRESSION", true),
	}
	from, err := send.ParseFrom(c.From)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("MAILER_FROM: %w", err))
	}
	switch {
	case c.Delivery == "ses":
	case strings.HasPrefix(c.Delivery, "maildir:") && len(c.Delivery) > len("maildir:"):
		c.MaildirPath = strings.TrimPrefix(c.Delivery, "maildir:")
	default:
		e.errs = append(e.errs, fmt.Errorf(`MAILER_DELIVERY=%q: want "ses" or "maildir:PATH"`, c.Delivery))
	}
	key := e.getenv("MAILER_DKIM_PRIVATE_KEY")
	if f := e.getenv("MAILER_DKIM_PRIVATE_KEY_FILE"); f != "" {
		if key != "" {
			e.errs = append(e.errs, errors.New("set MAILER_DKIM_PRIVATE_KEY or MAILER_DKIM_PRIVATE_KEY_FILE, not both"))
		}
		b, err := os.ReadFile(f)
		if err != nil {
			e.errs = append(e.errs, fmt.Errorf("MAILER_DKIM_PRIVATE_KEY_FILE: %w", err))
		}
		key = string(b)
	}
	c.DKIMPrivateKey = []byte(key)
	switch {
	case c.DKIMSelector != "" && key == "":
		e.errs = append(e.errs, errors.New("MAILER_DKIM_SELECTOR is set but no MAILER_DKIM_PRIVATE_KEY(_FILE)"))
	case c.DKIMSelector == "" && key != "":
		e.errs = append(e.errs, errors.New("a DKIM private key is set but no MAILER_DKIM_SELECTOR"))
	}
	if c.DKIMDomain == "" && err == nil {
		c.DKIMDomain = send.Domain(from.Address)
	}
	return c
}

// parsePoolClients reads MAILER_POOL_CLIENTS, "poolId=clientId,...",
// strictly: each entry one pool of allowed, once, and a client id of the
// shape Cognito documents. Every problem is appended to errs.
func parsePoolClients(v string, allowed []string, errs []error) (map[string]string, []error) {
	if strings.TrimSpace(v) == "" {
		return nil, errs
	}
	const name = "MAILER_POOL_CLIENTS"
	out := map[string]string{}
	for i, entry := range strings.Split(v, ",") {
		entry = strings.TrimSpace(entry)
		pool, client, ok := strings.Cut(entry, "=")
		pool, client = strings.TrimSpace(pool), strings.TrimSpace(client)
		switch {
		case entry == "":
			errs = append(errs, fmt.Errorf("%s: entry %d is empty (want poolId=clientId,poolId=clientId)", name, i+1))
			continue
		case !ok || pool == "" || client == "" || strings.Contains(client, "="):
			errs = append(errs, fmt.Errorf("%s: entry %d %q is not poolId=clientId", name, i+1, entry))
			continue
		}
		if !slices.Contains(allowed, pool) {
			errs = append(errs, fmt.Errorf("%s: pool %q is not in MAILER_ALLOWED_POOLS", name, pool))
		}
		if _, dup := out[pool]; dup {
			errs = append(errs, fmt.Errorf("%s: pool %q is given more than once", name, pool))
		}
		if !cognito.ValidClientID(client) {
			errs = append(errs, fmt.Errorf("%s: %q is not an app client id (Cognito's pattern [\\w+]+, 1 to 128 characters; not %s)", name, client, cognito.ClientIDNotApplicable))
		}
		out[pool] = client
	}
	return out, errs
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func orDefault(v, def string) string {
	if v = strings.TrimSpace(v); v != "" {
		return v
	}
	return def
}

// DeliveryConfig is what the delivery record needs from the environment:
// all the events function and `mailer trace` read (they start without the
// Cognito sender's variables).
type DeliveryConfig struct {
	Table string        // MAILER_DELIVERY_TABLE; "" = no records
	TTL   time.Duration // MAILER_DELIVERY_TTL
	// FailedEventsQueueURL is the on-failure destination's queue
	// (MAILER_FAILED_EVENTS_QUEUE_URL), read by doctor and trace; "" = not watched.
	FailedEventsQueueURL string
}

// loadDeliveryConfig reads MAILER_DELIVERY_TABLE, MAILER_DELIVERY_TTL and
// MAILER_FAILED_EVENTS_QUEUE_URL.
func loadDeliveryConfig(getenv func(string) string) (DeliveryConfig, error) {
	c := DeliveryConfig{Table: strings.TrimSpace(getenv("MAILER_DELIVERY_TABLE")), TTL: delivery.DefaultTTL,
		FailedEventsQueueURL: strings.TrimSpace(getenv("MAILER_FAILED_EVENTS_QUEUE_URL"))}
	if v := strings.TrimSpace(getenv("MAILER_DELIVERY_TTL")); v != "" {
		d, err := parseDays(v)
		if err != nil || d <= 0 {
			return c, fmt.Errorf("MAILER_DELIVERY_TTL=%q is not a positive duration such as 720h or 30d", v)
		}
		c.TTL = d
	}
	return c, nil
}

// parseDays parses a Go duration or a whole number of days ("30d", "7d").
func parseDays(v string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 100*365 {
			return 0, errors.New("bad number of days")
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(v)
}
