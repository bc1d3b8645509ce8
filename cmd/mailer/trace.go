//go:build !lambda

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/Phenom-earth/phenom-mailer/internal/awsretry"
	"github.com/Phenom-earth/phenom-mailer/internal/trace"
)

// Exit code of `mailer trace` when nothing was found.
const exitNotFound = 3

// runTrace is `mailer trace`: it reads the delivery record
// (MAILER_DELIVERY_TABLE), SES's suppression list and, by address or
// request id, the failed-events queue (MAILER_FAILED_EVENTS_QUEUE_URL).
func runTrace(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("trace", flag.ContinueOnError)
	fs.SetOutput(stderr)
	to := fs.String("to", "", "the recipient's address (compared lower-cased)")
	since := fs.String("since", "7d", "with --to: how far back, a Go duration or days (7d)")
	messageID := fs.String("message-id", "", "the SES message id")
	requestID := fs.String("request-id", "", "the Lambda request id of the invocation")
	asJSON := fs.Bool("json", false, "one JSON object per mail per line")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: mailer trace --to ADDRESS [--since 7d] [--json]\n       mailer trace --message-id ID [--json]\n       mailer trace --request-id ID [--json]\n\n"+
			"Reads the delivery record (MAILER_DELIVERY_TABLE), SES's suppression list and, by address or\n"+
			"request id, the failed-events queue (MAILER_FAILED_EVENTS_QUEUE_URL), which it only peeks at.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return &exitError{Code: exitUsage, Err: errors.New("")}
	}
	n := 0
	for _, v := range []string{*to, *messageID, *requestID} {
		if strings.TrimSpace(v) != "" {
			n++
		}
	}
	if n != 1 || fs.NArg() > 0 {
		fs.Usage()
		return &exitError{Code: exitUsage, Err: errors.New("trace needs exactly one of --to, --message-id, --request-id")}
	}
	q := trace.Query{To: strings.ToLower(strings.TrimSpace(*to)), MessageID: strings.TrimSpace(*messageID), RequestID: strings.TrimSpace(*requestID)}
	if q.To != "" {
		d, err := parseDays(*since)
		if err != nil || d <= 0 {
			return &exitError{Code: exitUsage, Err: fmt.Errorf("--since %q is not a positive duration such as 7d or 36h", *since)}
		}
		q.Since = time.Now().Add(-d)
		if !strings.Contains(q.To, "@") {
			return &exitError{Code: exitUsage, Err: fmt.Errorf("--to %q is not an address", *to)}
		}
	}
	dc, err := loadDeliveryConfig(getenv)
	if err != nil {
		return &exitError{Code: exitUsage, Err: fmt.Errorf("configuration: %w", err)}
	}
	if dc.Table == "" && (dc.FailedEventsQueueURL == "" || q.MessageID != "") {
		return &exitError{Code: exitUsage, Err: errors.New("trace reads the delivery record: set MAILER_DELIVERY_TABLE")}
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("aws config: %w", err)
	}
	sup := trace.SESSuppressions{Client: sesv2.NewFromConfig(awsCfg, func(o *sesv2.Options) {
		o.Retryer = awsretry.Repeatable(3, time.Second)
	})}
	var store trace.Store
	if dc.Table != "" {
		store = newDeliveryStore(awsCfg, dc)
	}
	var failed trace.FailedQueue
	if dc.FailedEventsQueueURL != "" {
		failed = trace.SQSFailedQueue{Client: sqs.NewFromConfig(awsCfg), URL: dc.FailedEventsQueueURL}
	}
	rep, err := trace.Run(ctx, store, sup, failed, q)
	if err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	if *asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		return err
	}
	if !rep.Found() {
		return &exitError{Code: exitNotFound, Err: errors.New("")}
	}
	return nil
}
