// Command inboxreader reads a reset mail from the copy of a test account's
// inbox that SES inbound keeps (or an IMAP mailbox, or a Maildir), trusts it
// only when DKIM proves it came from the expected sender's domain, and can
// run a whole password reset round trip against a user pool.
//
//	inboxreader read      --source SRC --to ADDRESS [--from ADDRESS] [--since DURATION|RFC3339] [--wait DURATION] [--json]
//	inboxreader roundtrip --user-pool-id POOL --client-id ID --username USER --source SRC [--auth srp|password] [--timeout DURATION] [--json]
//	inboxreader help
//
// Exit codes: 0 success, 2 usage error, 3 no matching mail in time,
// 4 untrusted mail, 5 a Cognito error, 1 anything else.
//
// It only wires: flags and the environment (the IMAP password, the client
// secret, the AWS variables), AWS clients, output and exit codes. Opening a
// source is inbox.Open; read is reset.Read, roundtrip reset.Run.
package main

import (
	"context"
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

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/Phenom-earth/phenom-mailer/internal/awsretry"
	"github.com/Phenom-earth/phenom-mailer/internal/cli"
	"github.com/Phenom-earth/phenom-mailer/internal/inbox"
	"github.com/Phenom-earth/phenom-mailer/internal/reset"
	"github.com/Phenom-earth/phenom-mailer/internal/trace"
)

// Exit codes.
const (
	exitOK        = 0
	exitOther     = 1
	exitUsage     = 2
	exitNoMail    = 3
	exitUntrusted = 4
	exitCognito   = 5
)

const usage = `usage:
  inboxreader read --source SRC --to ADDRESS [--from ADDRESS] [--since DURATION|RFC3339]
                   [--wait DURATION] [--resolver HOST:PORT] [--json]
      find the newest mail to ADDRESS from the expected sender, check it, print the
      code, the reset link and the verdicts. Without --wait it looks once.

  inboxreader roundtrip --user-pool-id POOL --client-id ID --username USER --source SRC
                   [--to ADDRESS] [--auth srp|password] [--timeout DURATION]
                   [--client-secret-env NAME] [--resolver HOST:PORT] [--json] [--show-password]
                   [--delivery-table TABLE [--delivery-wait DURATION]]
      ForgotPassword, wait for the mail that arrived after the request, check and read
      it, ConfirmForgotPassword with a fresh strong password, sign in with it
      (USER_SRP_AUTH by default), and check the ID token's email claim. With
      --delivery-table (the mailer's delivery record), also report what SES said of
      the mail read: accepted, delivered to which server, when.

  inboxreader help

Sources:
  s3://BUCKET/PREFIX               what an SES receipt rule's S3 action wrote (newest first)
  imaps://USER@HOST[:PORT]/MAILBOX IMAP over TLS (WorkMail: imap.mail.us-east-1.awsapps.com);
  imap://USER@HOST[:PORT]/MAILBOX  plain IMAP (loopback test servers only); the password
                                   comes from INBOX_IMAP_PASSWORD, never the command line
  maildir:PATH                     a Maildir (new/, cur/) or a folder of .eml files

Trust: only mail whose From is --from (default noreply@thephenom.app) counts; it must
carry a passing DKIM signature with d= that domain (d=amazonses.com alone is not enough),
and SES verdict headers, when present, must say PASS. --resolver sends the DKIM key
lookups to that DNS server.

Exit codes: 0 success, 2 usage error, 3 no matching mail in time, 4 untrusted mail,
5 a Cognito error (CodeMismatch, ExpiredCode, InvalidPassword, LimitExceeded,
TooManyFailedAttempts, UserNotFound, ...), 1 anything else.

Environment: INBOX_IMAP_PASSWORD; the client secret from the variable --client-secret-env
names; AWS_REGION, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER and the
other AWS SDK variables (with a custom S3 endpoint, S3 is addressed path-style).
`

// exitError carries an exit code out of run (one type for both commands).
type exitError = cli.ExitError

// errHelp ends a subcommand after -h printed the usage: exit 0.
var errHelp = errors.New("help")

func usageErr(format string, a ...any) error {
	return &exitError{Code: exitUsage, Err: fmt.Errorf(format, a...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "inboxreader:", err)
		os.Exit(exitCode(err))
	}
}

func exitCode(err error) int {
	var ee *exitError
	var ce *reset.CognitoError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.Code
	case errors.As(err, &ce):
		return exitCognito
	case errors.Is(err, inbox.ErrUntrusted):
		return exitUntrusted
	case errors.Is(err, inbox.ErrNoMatch):
		return exitNoMail
	}
	return exitOther
}

func run(ctx context.Context, args []string, getenv func(string) string, _ io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageErr("no command given")
	}
	switch args[0] {
	case "read":
		return runRead(ctx, args[1:], getenv, stdout, stderr)
	case "roundtrip":
		return runRoundTrip(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageErr("unknown command %q", args[0])
}

// common flags of read and roundtrip.
type common struct {
	source, from, resolver string
	json                   bool
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.source, "source", "", "s3://BUCKET/PREFIX, imaps://USER@HOST/MAILBOX, imap://USER@HOST/MAILBOX or maildir:PATH")
	fs.StringVar(&c.from, "from", inbox.DefaultFrom, "the expected sender address")
	fs.StringVar(&c.resolver, "resolver", "", "HOST:PORT of the DNS server for DKIM key lookups (default: the system's)")
	fs.BoolVar(&c.json, "json", false, "print a JSON report")
}

func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return usageErr("%v", err)
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// check validates the flags read and roundtrip share.
func (c *common) check() error {
	if c.source == "" {
		return usageErr("--source is required")
	}
	if !strings.Contains(c.from, "@") {
		return usageErr("--from must be an address")
	}
	return nil
}

// lookup is the DKIM key lookup --resolver names (nil: the system's).
func (c *common) lookup() (func(context.Context, string) ([]string, error), error) {
	if c.resolver == "" {
		return nil, nil
	}
	lookup, err := inbox.Resolver(c.resolver)
	if err != nil {
		return nil, &exitError{Code: exitUsage, Err: err}
	}
	return lookup, nil
}

// openSource opens --source with the password and the S3 client from the
// environment; the returned func releases it.
func (c *common) openSource(ctx context.Context, getenv func(string) string) (inbox.Source, func(), error) {
	src, closer, err := inbox.Open(ctx, c.source, inbox.Deps{
		IMAPPassword: getenv("INBOX_IMAP_PASSWORD"),
		S3: func(ctx context.Context) (inbox.S3API, error) {
			cfg, err := awsConfig(ctx, getenv, "")
			if err != nil {
				return nil, err
			}
			pathStyle := getenv("AWS_ENDPOINT_URL_S3") != "" || getenv("AWS_ENDPOINT_URL") != ""
			return s3.NewFromConfig(cfg, func(o *s3.Options) {
				o.UsePathStyle = pathStyle
				// SES receipt copies carry no additional checksums: do not
				// warn about each GetObject.
				o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
			}), nil
		},
	})
	switch {
	case err == inbox.ErrNoPassword:
		return nil, nil, usageErr("an IMAP source needs the password in INBOX_IMAP_PASSWORD")
	case errors.Is(err, inbox.ErrSpec):
		return nil, nil, &exitError{Code: exitUsage, Err: err}
	}
	return src, closer, err
}

// wiring checks the shared flags and builds the source and the DKIM lookup.
func (c *common) wiring(ctx context.Context, getenv func(string) string) (inbox.Source, func(context.Context, string) ([]string, error), func(), error) {
	if err := c.check(); err != nil {
		return nil, nil, nil, err
	}
	lookup, err := c.lookup()
	if err != nil {
		return nil, nil, nil, err
	}
	src, closer, err := c.openSource(ctx, getenv)
	if err != nil {
		return nil, nil, nil, err
	}
	return src, lookup, closer, nil
}

func awsConfig(ctx context.Context, getenv func(string) string, pool string) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if getenv("AWS_REGION") == "" && getenv("AWS_DEFAULT_REGION") == "" {
		if region, _, ok := strings.Cut(pool, "_"); ok {
			opts = append(opts, awsconfig.WithRegion(region))
		}
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("aws config: %w", err)
	}
	return cfg, nil
}

// parseSince takes a duration (that long ago) or an RFC 3339 instant.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--since %q is neither a duration nor an RFC 3339 time", s)
}

type readReport struct {
	Command  string         `json:"command"`
	Source   string         `json:"source"`
	To       string         `json:"to"`
	From     string         `json:"from"`
	Since    *time.Time     `json:"since,omitempty"`
	Outcome  string         `json:"outcome"`
	Error    string         `json:"error,omitempty"`
	Code     string         `json:"code,omitempty"`
	Mail     *inbox.Verdict `json:"mail,omitempty"`
	Stages   []reset.Stage  `json:"stages"`
	TotalMS  float64        `json:"total_ms"`
	ExitCode int            `json:"exit_code"`
}

func runRead(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("read", flag.ContinueOnError)
	var c common
	c.register(fs)
	to := fs.String("to", "", "the recipient address (required)")
	since := fs.String("since", "", "only mail received after this: a duration ago (15m) or an RFC 3339 time")
	wait := fs.Duration("wait", 0, "keep looking this long (default: look once)")
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	if err := parseFlags(fs, args, stderr); err != nil {
		if err == errHelp {
			return nil
		}
		return err
	}
	if *to == "" || !strings.Contains(*to, "@") {
		return usageErr("--to ADDRESS is required")
	}
	start := time.Now()
	sinceT, err := parseSince(*since, start)
	if err != nil {
		return &exitError{Code: exitUsage, Err: err}
	}
	src, lookup, closeSrc, err := c.wiring(ctx, getenv)
	if err != nil {
		return err
	}
	defer closeSrc()

	out := newPrinter(stdout, c.json)
	out.line("source", src.String())
	r, err := reset.Read(ctx, reset.ReadConfig{
		Source: src, Query: inbox.Query{To: *to, From: c.from, Since: sinceT}, LookupTXT: lookup,
		Wait: *wait, Backoff: retryLogger(stderr), Progress: out.stage,
	})
	out.verdict(r.Mail)
	if err == nil {
		out.line("code", r.Code)
		if r.Mail.ResetLink != "" {
			out.line("link", r.Mail.ResetLink)
		}
	}
	rep := &readReport{Command: "read", Source: src.String(), To: *to, From: c.from,
		Code: r.Code, Mail: r.Mail, Stages: r.Stages, TotalMS: r.TotalMS}
	if !sinceT.IsZero() {
		rep.Since = &sinceT
	}
	rep.ExitCode = exitCode(err)
	rep.Outcome = outcome(err)
	if err != nil {
		rep.Error = err.Error()
	}
	out.json(rep)
	return err
}

func outcome(err error) string {
	switch exitCode(err) {
	case exitOK:
		return "ok"
	case exitNoMail:
		return "no_mail"
	case exitUntrusted:
		return "untrusted"
	case exitCognito:
		return "cognito_error"
	}
	return "error"
}

type roundTripReport struct {
	Command string `json:"command"`
	Source  string `json:"source"`
	Pool    string `json:"user_pool_id"`
	Client  string `json:"client_id"`
	User    string `json:"username"`
	*reset.Report
	Outcome  string `json:"outcome"`
	Error    string `json:"error,omitempty"`
	Password string `json:"new_password,omitempty"`
	ExitCode int    `json:"exit_code"`

	Delivery     *trace.MailReport `json:"delivery,omitempty"`
	DeliveryNote string            `json:"delivery_note,omitempty"`
}

func runRoundTrip(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("roundtrip", flag.ContinueOnError)
	var c common
	c.register(fs)
	pool := fs.String("user-pool-id", "", "the user pool id (required for SRP)")
	client := fs.String("client-id", "", "the app client id (required)")
	username := fs.String("username", "", "the user name (required)")
	to := fs.String("to", "", "the address the mail goes to (default: the username, when it is an address)")
	auth := fs.String("auth", reset.AuthSRP, "sign-in flow: srp (USER_SRP_AUTH) or password (USER_PASSWORD_AUTH)")
	timeout := fs.Duration("timeout", 2*time.Minute, "how long to wait for the mail")
	secretEnv := fs.String("client-secret-env", "", "name of the environment variable holding the app client secret")
	showPassword := fs.Bool("show-password", false, "print the new password")
	deliveryTable := fs.String("delivery-table", "", "the mailer's delivery-record table: report SES's events of the mail read")
	deliveryWait := fs.Duration("delivery-wait", 30*time.Second, "with --delivery-table: how long to wait for SES's delivery event")
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	if err := parseFlags(fs, args, stderr); err != nil {
		if err == errHelp {
			return nil
		}
		return err
	}
	switch {
	case *client == "":
		return usageErr("--client-id is required")
	case *username == "":
		return usageErr("--username is required")
	case *auth != reset.AuthSRP && *auth != reset.AuthPassword:
		return usageErr("--auth must be srp or password")
	case *auth == reset.AuthSRP && *pool == "":
		return usageErr("--auth srp needs --user-pool-id")
	case *timeout <= 0:
		return usageErr("--timeout must be positive")
	}
	email := *to
	if email == "" && strings.Contains(*username, "@") {
		email = *username
	}
	if email == "" {
		return usageErr("--to ADDRESS is required when the username is not an address")
	}
	secret := ""
	if *secretEnv != "" {
		if secret = getenv(*secretEnv); secret == "" {
			return usageErr("--client-secret-env %s: the variable is empty", *secretEnv)
		}
	}
	src, lookup, closeSrc, err := c.wiring(ctx, getenv)
	if err != nil {
		return err
	}
	defer closeSrc()
	cfg, err := awsConfig(ctx, getenv, *pool)
	if err != nil {
		return err
	}
	cog := cip.NewFromConfig(cfg, func(o *cip.Options) { o.Retryer = awsretry.NoLockout() })

	out := newPrinter(stdout, c.json)
	out.line("source", src.String())
	out.line("user", *username+" in "+*pool+" (client "+*client+")")
	requested := time.Now()
	rep, err := reset.Run(ctx, reset.Config{
		Cognito: cog, PoolID: *pool, ClientID: *client, ClientSecret: secret,
		Username: *username, Email: email, Auth: *auth,
		Source: src, From: c.from, LookupTXT: lookup, Timeout: *timeout, Backoff: retryLogger(stderr),
		Progress: out.stage,
	})
	if rep == nil {
		return &exitError{Code: exitUsage, Err: err}
	}
	if rep.Mail != nil {
		out.verdict(rep.Mail)
	}
	jr := &roundTripReport{Command: "roundtrip", Source: src.String(), Pool: *pool, Client: *client, User: *username, Report: rep,
		Outcome: outcome(err), ExitCode: exitCode(err)}
	if *deliveryTable != "" && rep.Mail != nil {
		jr.Delivery, jr.DeliveryNote = deliveryReport(ctx, cfg, *deliveryTable, rep.Mail.MessageID, email, requested, *deliveryWait)
		if jr.Delivery != nil {
			out.line("delivery", jr.Delivery.Description)
		} else {
			out.line("delivery", jr.DeliveryNote)
		}
	}
	if err != nil {
		jr.Error = err.Error()
	} else {
		out.line("result", fmt.Sprintf("round trip ok in %.0f ms; signed in as %s", rep.TotalMS, rep.EmailClaim))
		if *showPassword {
			jr.Password = rep.NewPassword
			out.line("password", rep.NewPassword)
		} else {
			out.line("password", "set, not shown (--show-password prints it)")
		}
	}
	out.json(jr)
	return err
}

// retryLogger is the default polling schedule, logging (slog, on stderr)
// each failed look that is retried: a source that is down shows itself
// before the timeout.
func retryLogger(stderr io.Writer) inbox.Backoff {
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b := inbox.DefaultBackoff
	b.OnError = func(look int, err error) {
		logger.Warn("source look failed, retrying", "look", look, "error", err.Error())
	}
	return b
}
