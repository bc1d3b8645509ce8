// Command mailer is Phenom's Cognito custom email sender.
//
// Under Lambda (AWS_LAMBDA_RUNTIME_API set) it serves the trigger. Otherwise
// it is a CLI:
//
//	mailer invoke --event FILE   run the same handler once on an event (- for stdin)
//	mailer send --template NAME --to ADDRESS   send one service mail (also --data, --locale, ...)
//	mailer trace --to ADDRESS    what became of the mails to ADDRESS (also --message-id, --request-id)
//	mailer doctor [--json]       check that the live environment can send
//	mailer help                  usage and the environment it reads
//
// Configuration comes from the environment (see `mailer help`).
//
// It only wires: flags and the environment into Config, AWS clients into the
// internal packages' interfaces, the logger, and output and exit codes. What
// the mailer does lives in internal/ (the path of one mail:
// internal/cognito).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/Phenom-earth/phenom-mailer/internal/awsretry"
	"github.com/Phenom-earth/phenom-mailer/internal/cli"
	"github.com/Phenom-earth/phenom-mailer/internal/cognito"
	"github.com/Phenom-earth/phenom-mailer/internal/decrypt"
	"github.com/Phenom-earth/phenom-mailer/internal/idempotency"
	"github.com/Phenom-earth/phenom-mailer/internal/metrics"
	"github.com/Phenom-earth/phenom-mailer/internal/render"
	"github.com/Phenom-earth/phenom-mailer/internal/sesevents"
	"github.com/Phenom-earth/phenom-mailer/templates"
)

// Exit codes of `mailer invoke`.
const (
	exitOK        = 0
	exitUsage     = 2
	exitRefused   = 3
	exitRetryable = 4
	exitSetup     = 1
)

const usage = `usage:
  mailer invoke --event FILE   run the handler once on a custom email sender event
                               (FILE "-" reads stdin); prints one JSON outcome line,
                               logs on stderr; exit 0 sent or duplicate, 3 refused or
                               suppressed, 4 retryable failure, 2 usage error. On an SQS
                               event of SES notifications it records them
                               (MAILER_DELIVERY_TABLE) and prints one JSON line (received,
                               recorded, duplicates, ignored, failed, batchItemFailures);
                               exit 0, or 4 when any record failed. With MAILER_SERVICE=true,
                               on an SQS event of send requests or a function URL event
                               (payload format 2.0) it runs the send service and prints what
                               the Lambda returns: {"batchItemFailures":[...]} (exit 4 when
                               any), or {"statusCode":...,"headers":...,"body":...} (exit 0
                               2xx, 3 refused, 4 for 409, 429 and 5xx); examples in
                               testdata/service
  mailer send --template NAME --to ADDRESS [--locale L] [--data FILE|-]
              [--idempotency-key K] [--tag NAME=VALUE ...] [--json]
                               send one mail of a service template (notice, welcome) through
                               the send service's pipeline and the configured delivery; --data
                               is the template's data as one JSON object (- for stdin); prints
                               one JSON outcome line (and, without --json, one line for people
                               on stderr); exit 0 sent or duplicate, 3 refused or suppressed,
                               4 retryable failure, 2 usage error. mailer send --help has an
                               example
  mailer trace --to ADDRESS [--since 7d] | --message-id ID | --request-id ID [--json]
                               what became of each matching mail: the invocation, SES's
                               events, the suppression list, and an event that failed every
                               attempt (MAILER_FAILED_EVENTS_QUEUE_URL); exit 0 found, 3
                               nothing found
  mailer doctor [--json] [--resolver HOST:PORT]
                               check the live environment (SES account, From identity and
                               DKIM, KMS keys, configuration set, idempotency table; the
                               delivery set-up: event destination, suppression list, delivery
                               table, dead-letter queues, alarms; and in DNS: DMARC and DKIM
                               alignment, MAIL FROM SPF, Easy DKIM CNAMEs); exit 1 with what
                               to fix when something fails
  mailer preview --out DIR | --serve 127.0.0.1:PORT | --send-to ADDRESS [--templates DIR]
                               render every mail in every language from sample data: files
                               and a gallery, a live-reloading gallery server, or real mail
  mailer help                  this text

Under AWS Lambda (AWS_LAMBDA_RUNTIME_API set) the binary serves the trigger, the SES
events queue, or (MAILER_SERVICE=true) the send queue and the function URL (POST /v1/send):
each invocation goes to the handler its event's shape belongs to.

`

// exitError carries an exit code out of run (one type for both commands).
type exitError = cli.ExitError

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		code := exitSetup
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.Code
		}
		if ee == nil || ee.Err.Error() != "" {
			fmt.Fprintln(os.Stderr, "mailer:", err)
		}
		os.Exit(code)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if getenv("AWS_LAMBDA_RUNTIME_API") != "" && len(args) == 0 {
		return runLambda(ctx, getenv, stdout)
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &exitError{Code: exitUsage, Err: errors.New("no command given")}
	}
	switch args[0] {
	case "invoke":
		return runInvoke(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "send":
		return runSend(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "doctor":
		return runDoctor(ctx, args[1:], getenv, stdout, stderr)
	case "preview":
		return runPreview(ctx, args[1:], getenv, stdout, stderr)
	case "trace":
		return runTrace(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage, envDoc)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return &exitError{Code: exitUsage, Err: fmt.Errorf("unknown command %q", args[0])}
	}
}

// runLambda serves the trigger, or the SES events queue, through the Lambda
// Runtime API (see server.handle).
func runLambda(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	restoreGC := coldGC(getenv)
	logger := newLogger(stdout, getenv)
	srv, err := newServer(ctx, getenv, logger, stdout)
	if err != nil {
		logger.Error("mailer cannot start", "error", err.Error())
		return err
	}
	lambda.StartWithOptions(func(ctx context.Context, event json.RawMessage) (any, error) {
		defer restoreGC()
		return srv.handle(ctx, event)
	}, lambda.WithContext(ctx))
	return nil
}

// lambdaReserve is kept back from Lambda's deadline so that the handler can
// settle its idempotency claim and log its line before Lambda stops it.
const lambdaReserve = 1500 * time.Millisecond

// reserveTime moves ctx's deadline r earlier, when there is room for it.
func reserveTime(ctx context.Context, r time.Duration) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) > 2*r {
		return context.WithDeadline(ctx, dl.Add(-r))
	}
	return ctx, func() {}
}

func runInvoke(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	eventPath := fs.String("event", "", "event JSON file (- for stdin): a custom email sender event, an SQS event (SES notifications, or send requests), or a function URL event")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: mailer invoke --event FILE\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return &exitError{Code: exitUsage, Err: errors.New("")}
	}
	if *eventPath == "" || fs.NArg() > 0 {
		fs.Usage()
		return &exitError{Code: exitUsage, Err: errors.New("invoke needs --event FILE and nothing else")}
	}
	// One event, as a cold Lambda's first: the same garbage collector
	// target (coldGC).
	defer coldGC(getenv)()
	var r io.Reader = stdin
	if *eventPath != "-" {
		f, err := os.Open(*eventPath)
		if err != nil {
			return &exitError{Code: exitUsage, Err: fmt.Errorf("event: %w", err)}
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, sesevents.MaxBatchBytes+1))
	if err != nil {
		return &exitError{Code: exitUsage, Err: fmt.Errorf("event: %w", err)}
	}
	switch shape := eventShapeOf(data); shape {
	case shapeSESEvents:
		return runInvokeEvents(ctx, data, getenv, stdout, stderr)
	case shapeSendQueue, shapeFuncURL:
		// As the bootstrap (server.handle): the send service with
		// MAILER_SERVICE=true; without it a send-queue event goes to the
		// SES events handler and a function URL event is an error.
		sc, err := loadServiceConfig(getenv)
		if err != nil {
			return &exitError{Code: exitUsage, Err: err}
		}
		switch {
		case sc.Enabled:
			return runInvokeService(ctx, shape, data, sc, getenv, stdout, stderr)
		case shape == shapeSendQueue && sc.Record.Table != "":
			return runInvokeEvents(ctx, data, getenv, stdout, stderr)
		}
		return &exitError{Code: exitUsage, Err: errors.New("a send-queue SQS event or a function URL event: the send service runs with MAILER_SERVICE=true, as on the send function")}
	}

	logger := newLogger(stderr, getenv)
	cfg, err := loadConfig(getenv)
	if err != nil {
		return &exitError{Code: exitUsage, Err: err}
	}
	h, err := newHandler(ctx, cfg, logger, true)
	if err != nil {
		return &exitError{Code: exitSetup, Err: err}
	}
	logStart(ctx, logger, cfg)
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	res := h.HandleJSON(withRequestID(ctx), data)
	writeMetrics(stderr, res)
	if err := json.NewEncoder(stdout).Encode(res); err != nil {
		return err
	}
	switch res.Outcome {
	case cognito.OutcomeSent, cognito.OutcomeDuplicate:
		return nil
	case cognito.OutcomeRefused, cognito.OutcomeSuppressed:
		return &exitError{Code: exitRefused, Err: errors.New("")}
	default:
		return &exitError{Code: exitRetryable, Err: errors.New("")}
	}
}

// newHandler wires the real decrypter, renderer and sender from cfg. With
// warm, the sender's DKIM check starts as soon as the sender exists
// (cognito.Handler.Warm), so that it runs during the rest of the setup and
// the first event's decrypt instead of after them.
func newHandler(ctx context.Context, cfg Config, logger *slog.Logger, warm bool) (*cognito.Handler, error) {
	awsCfg, err := loadAWSConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	sender, err := newSender(cfg.SendConfig, awsCfg)
	if err != nil {
		return nil, err
	}
	h := &cognito.Handler{
		Sender:      sender,
		Environment: cfg.Environment,
		Logger:      logger,
		PoolClients: cfg.PoolClients,
	}
	if warm {
		h.Warm(ctx)
	}
	kmsClient := kms.NewFromConfig(awsCfg, func(o *kms.Options) {
		o.Retryer = awsretry.Repeatable(5, 2*time.Second)
	})
	if h.Decrypter, err = decrypt.New(kmsClient, decrypt.Config{
		KeyARNs:            cfg.KMSKeyARNs,
		AllowedPools:       cfg.AllowedPools,
		RequirePoolContext: cfg.RequirePoolContext,
	}); err != nil {
		return nil, err
	}
	// Lazy: a cold start parses the one template its first event needs,
	// not all of them (the tests render every template in every locale).
	ropts := cfg.RenderConfig.options()
	ropts.Lazy = true
	if h.Renderer, err = render.New(templates.FS, ropts); err != nil {
		return nil, err
	}
	if cfg.CheckSuppression && cfg.MaildirPath == "" {
		h.Suppression = newSuppressionList(awsCfg)
	}
	if cfg.IdempotencyTable != "" {
		h.Deduper = &idempotency.Store{
			Client: dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
				o.Retryer = awsretry.Repeatable(5, 2*time.Second)
			}),
			Table: cfg.IdempotencyTable,
		}
	}
	if st := newDeliveryStore(awsCfg, cfg.Record); st != nil {
		h.Recorder = st
	}
	return h, nil
}

func logStart(ctx context.Context, logger *slog.Logger, cfg Config) {
	attrs := []slog.Attr{
		slog.String("delivery", cfg.Delivery),
		slog.String("pools", strings.Join(cfg.AllowedPools, ",")),
		slog.Int("kms_keys", len(cfg.KMSKeyARNs)),
		slog.Bool("require_pool_context", cfg.RequirePoolContext),
		slog.Bool("require_dkim", cfg.RequireDKIM),
		slog.Bool("dkim_signing", cfg.DKIMSelector != ""),
		slog.String("configuration_set", cfg.ConfigurationSet),
		slog.Bool("check_suppression", cfg.CheckSuppression && cfg.MaildirPath == ""),
	}
	attrs = append(attrs, slog.String("delivery_table", cfg.Record.Table))
	if cfg.IdempotencyTable != "" {
		attrs = append(attrs, slog.String("idempotency_table", cfg.IdempotencyTable))
	} else {
		attrs = append(attrs, slog.String("idempotency_table", ""),
			slog.String("warning", "no MAILER_IDEMPOTENCY_TABLE: duplicates are possible (a repeated delivery of the same event sends again)"))
	}
	logger.LogAttrs(ctx, slog.LevelInfo, "mailer ready", attrs...)
}

// writeMetrics writes the invocation's CloudWatch EMF record: to stdout in
// Lambda (CloudWatch Logs extracts it), to stderr under `mailer invoke` so
// that stdout stays one outcome line.
func writeMetrics(w io.Writer, res cognito.Result) {
	_ = metrics.Write(w, metrics.Record{
		Outcome: res.Outcome, Reason: res.Reason, Trigger: res.Trigger, Pool: res.Pool,
		LatencyMS: res.DurationMS, Time: time.Now(),
		SuppressionCheckFailed: res.SuppressionCheckFailed,
	})
	if res.DeliveryRecord == cognito.RecordFailed {
		_ = metrics.WriteCount(w, metrics.DeliveryRecordErrors, 1, time.Now())
	}
}

// newLogger logs JSON to w, with Lambda's key names and the request id of
// the invocation when there is one. AWS_LAMBDA_LOG_LEVEL sets the level.
func newLogger(w io.Writer, getenv func(string) string) *slog.Logger {
	level := slog.LevelInfo
	if v := getenv("AWS_LAMBDA_LOG_LEVEL"); v != "" {
		_ = level.UnmarshalText([]byte(strings.ToUpper(v)))
	}
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: lambdacontext.ReplaceAttr})
	return slog.New(requestIDHandler{h})
}

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		r.AddAttrs(slog.String("requestId", lc.AwsRequestID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(a)}
}

func (h requestIDHandler) WithGroup(n string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(n)}
}
