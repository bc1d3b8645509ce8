package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/Phenom-earth/phenom-mailer/internal/service"
)

// sendUsage is `mailer send --help`.
const sendUsage = `usage: mailer send --template NAME --to ADDRESS [--locale L] [--data FILE|-]
                   [--idempotency-key K] [--tag NAME=VALUE ...] [--json]

Sends one mail of a service template (notice, welcome) through the same pipeline as the send
queue and the function URL, with the configured delivery (MAILER_DELIVERY: SES, or maildir:PATH)
and the send service's configuration (mailer help lists it; no KMS key or pool is needed).
--data names a file holding the template's data as one JSON object ("-" reads stdin; without
--data the data is {}). Prints the outcome as one JSON line on stdout (the same fields as the
send queue's log line) and, without --json, one line for people on stderr.

Exit status: 0 sent or duplicate (the idempotency key was sent before), 3 refused (the request
does not fit the template, or the recipient is suppressed), 4 retryable failure (throttled, SES
not ready, the same idempotency key in flight: send again later), 2 usage error (a flag, a
missing file, data that is not a JSON object, the configuration).

Example:
  echo '{"subject":"Export ready","heading":"Export ready","paragraphs":["Your export finished."]}' |
    mailer send --template notice --to ada@example.com --locale es --data - \
      --idempotency-key export-42 --tag service=ops

Flags:
`

// maxDataFile bounds what --data reads. A larger request than
// service.MaxRequestSize is still read, so that the service refuses it
// with its own reason (exit 3); beyond this it is a usage error.
const maxDataFile = 1 << 20

// sendArgs are `mailer send`'s flags.
type sendArgs struct {
	template, to, locale string
	dataPath             string
	idempotencyKey       string
	tags                 tagFlag
	json                 bool
}

// tagFlag collects repeated --tag NAME=VALUE.
type tagFlag map[string]string

func (t *tagFlag) String() string {
	if t == nil || *t == nil {
		return ""
	}
	keys := make([]string, 0, len(*t))
	for k := range *t {
		keys = append(keys, k+"="+(*t)[k])
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

func (t *tagFlag) Set(v string) error {
	name, value, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return errors.New("want NAME=VALUE")
	}
	if *t == nil {
		*t = tagFlag{}
	}
	if _, dup := (*t)[name]; dup {
		return fmt.Errorf("tag %q given twice", name)
	}
	(*t)[name] = value
	return nil
}

// parseSendArgs reads the flags; every problem is a usage error.
func parseSendArgs(args []string, stderr io.Writer) (sendArgs, error) {
	var a sendArgs
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&a.template, "template", "", "service template, e.g. notice or welcome (required)")
	fs.StringVar(&a.to, "to", "", "recipient address (required)")
	fs.StringVar(&a.locale, "locale", "", "language of the mail, e.g. es or pt-BR (default English)")
	fs.StringVar(&a.dataPath, "data", "", "file of the template's data, one JSON object (- for stdin)")
	fs.StringVar(&a.idempotencyKey, "idempotency-key", "", "send at most one mail for this key within 24 hours (needs MAILER_IDEMPOTENCY_TABLE)")
	fs.Var(&a.tags, "tag", "SES email tag NAME=VALUE, repeatable (service=NAME names the calling service)")
	fs.BoolVar(&a.json, "json", false, "only the JSON outcome line, no line for people on stderr")
	fs.Usage = func() {
		fmt.Fprint(stderr, sendUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return a, flag.ErrHelp
		}
		return a, &exitError{Code: exitUsage, Err: errors.New("")}
	}
	var missing []string
	if a.template == "" {
		missing = append(missing, "--template NAME")
	}
	if a.to == "" {
		missing = append(missing, "--to ADDRESS")
	}
	switch {
	case len(missing) > 0:
		fs.Usage()
		return a, &exitError{Code: exitUsage, Err: fmt.Errorf("send needs %s", strings.Join(missing, " and "))}
	case fs.NArg() > 0:
		fs.Usage()
		return a, &exitError{Code: exitUsage, Err: fmt.Errorf("send takes flags only, not %q", fs.Arg(0))}
	}
	return a, nil
}

// readData reads --data: one JSON object, returned compact. A missing
// file, invalid JSON or anything but an object is a usage error; the
// data's fields are the service's to check.
func readData(path string, stdin io.Reader) (json.RawMessage, error) {
	if path == "" {
		return json.RawMessage("{}"), nil
	}
	name := path
	var r io.Reader = stdin
	if path == "-" {
		name = "stdin"
		if stdin == nil {
			return nil, &exitError{Code: exitUsage, Err: errors.New("--data -: no stdin")}
		}
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, &exitError{Code: exitUsage, Err: fmt.Errorf("--data: %w", err)}
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxDataFile+1))
	if err != nil {
		return nil, &exitError{Code: exitUsage, Err: fmt.Errorf("--data: reading %s: %w", name, err)}
	}
	if len(b) > maxDataFile {
		return nil, &exitError{Code: exitUsage, Err: fmt.Errorf("--data: %s is over %d bytes (a whole request may hold %d)", name, maxDataFile, service.MaxRequestSize)}
	}
	if err := checkDataJSON(b); err != nil {
		return nil, &exitError{Code: exitUsage, Err: fmt.Errorf("--data: %s %w", name, err)}
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil { // checked above; kept for safety
		return nil, &exitError{Code: exitUsage, Err: fmt.Errorf("--data: %s is not valid JSON", name)}
	}
	return out.Bytes(), nil
}

// checkDataJSON says what is wrong with data that is not exactly one JSON
// object, by line and column and without quoting it (data may hold a
// code).
func checkDataJSON(b []byte) error {
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) == 0 {
		return errors.New("is empty: want one JSON object, e.g. {\"name\":\"Ada\"}")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := position(b, se.Offset)
			return fmt.Errorf("is not valid JSON: line %d, column %d: %s", line, col, syntaxProblem(se))
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return errors.New("is not valid JSON: it ends before the object does")
		}
		return errors.New("is not valid JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		line, col := position(b, dec.InputOffset())
		return fmt.Errorf("holds more than one JSON value (the next starts near line %d, column %d)", line, col)
	}
	if trimmed[0] != '{' {
		return fmt.Errorf("holds a JSON %s: want one object, e.g. {\"name\":\"Ada\"}", jsonKind(trimmed[0]))
	}
	return nil
}

// syntaxProblem is encoding/json's message without the character it
// quotes.
func syntaxProblem(se *json.SyntaxError) string {
	msg := se.Error()
	if i := strings.Index(msg, "' "); strings.HasPrefix(msg, "invalid character '") && i > 0 {
		return "unexpected character " + msg[i+2:]
	}
	return msg
}

func jsonKind(c byte) string {
	switch c {
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// position turns a byte offset into a 1-based line and column.
func position(b []byte, off int64) (line, col int) {
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	before := b[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1)
	if col < 1 {
		col = 1
	}
	return line, col
}

// requestJSON is the service request of the flags, in the JSON shape of
// service.Request.
func (a sendArgs) requestJSON(data json.RawMessage) ([]byte, error) {
	return json.Marshal(struct {
		Template       string            `json:"template"`
		To             string            `json:"to"`
		Locale         string            `json:"locale,omitempty"`
		Data           json.RawMessage   `json:"data"`
		IdempotencyKey string            `json:"idempotency_key,omitempty"`
		Tags           map[string]string `json:"tags,omitempty"`
	}{a.template, a.to, a.locale, data, a.idempotencyKey, a.tags})
}

// runSend is `mailer send`: one request from the flags through the
// service handler, as the CLI entry point.
func runSend(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	a, err := parseSendArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	data, err := readData(a.dataPath, stdin)
	if err != nil {
		return err
	}
	body, err := a.requestJSON(data)
	if err != nil {
		return &exitError{Code: exitUsage, Err: fmt.Errorf("request: %w", err)}
	}
	logger := newLogger(stderr, getenv)
	sc, err := loadServiceConfig(getenv)
	if err != nil {
		return &exitError{Code: exitUsage, Err: err}
	}
	h, err := cliServiceHandler(ctx, sc, logger)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, sc.Timeout)
	defer cancel()
	res := h.Handle(ctx, body, service.Source{Kind: service.SourceCLI})
	writeServiceMetrics(stderr, res) // as mailer invoke: stdout stays one outcome line
	if err := json.NewEncoder(stdout).Encode(res); err != nil {
		return err
	}
	if !a.json {
		fmt.Fprintln(stderr, humanLine(res))
	}
	if code := sendExitCode(res); code != exitOK {
		return &exitError{Code: code, Err: errors.New("")}
	}
	return nil
}

// sendExitCode is the exit status of a service result: 0 sent or sent
// before, 3 refused or suppressed, 4 retryable (a failure, or the same
// idempotency key still in flight, which may yet fail).
func sendExitCode(res service.Result) int {
	if res.Requeue() { // what the send queue would deliver again
		return exitRetryable
	}
	switch res.Outcome {
	case service.OutcomeSent, service.OutcomeDuplicate:
		return exitOK
	case service.OutcomeRefused, service.OutcomeSuppressed:
		return exitRefused
	default:
		return exitRetryable
	}
}

// humanLine is the outcome in one line for a person: what happened, why,
// and what to do. It holds no data and only the masked recipient.
func humanLine(res service.Result) string {
	what := res.Template
	if res.Recipient != "" {
		what = strings.TrimSpace(what + " to " + res.Recipient)
	}
	if what == "" {
		what = "the request"
	}
	switch res.Outcome {
	case service.OutcomeSent:
		return fmt.Sprintf("sent: %s, message id %s (%.0f ms)", what, res.MessageID, res.DurationMS)
	case service.OutcomeDuplicate:
		if res.Reason == "in_progress" {
			return fmt.Sprintf("not sent: %s: the same idempotency key is being sent right now; run again later to learn its outcome", what)
		}
		return fmt.Sprintf("duplicate: %s was sent before with this idempotency key (%s), message id %s; nothing sent now", what, res.Reason, res.MessageID)
	case service.OutcomeRefused:
		why := res.Error
		if len(res.Errors) > 0 {
			why = strings.Join(res.Errors, "; ")
		}
		return fmt.Sprintf("refused (%s): %s: %s; nothing sent, fix the request", res.Reason, what, why)
	case service.OutcomeSuppressed:
		return fmt.Sprintf("suppressed (%s): %s: the recipient is on the SES suppression list; nothing sent", res.Reason, what)
	default:
		return fmt.Sprintf("failed (%s): %s: %s; send again later (with the same --idempotency-key, so that a mail that did go out is not sent twice)", res.Reason, what, res.Error)
	}
}
