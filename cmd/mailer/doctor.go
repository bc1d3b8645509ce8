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

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/Phenom-earth/phenom-mailer/internal/doctor"
	"github.com/Phenom-earth/phenom-mailer/internal/send"
)

// defaultResolvConf names the system's DNS servers; resolvConf is a
// variable for tests.
const defaultResolvConf = "/etc/resolv.conf"

var resolvConf = defaultResolvConf

// runDoctor checks the live environment the configuration points at.
func runDoctor(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	timeout := fs.Duration("timeout", 20*time.Second, "bound on all checks")
	resolver := fs.String("resolver", "", "ask this DNS server (HOST:PORT) instead of the system's (/etc/resolv.conf)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: mailer doctor [--json] [--timeout 20s] [--resolver HOST:PORT]\n\nChecks the SES account, the From identity and its DKIM, each KMS key, the\nconfiguration set and the idempotency table the environment names; the\ndelivery set-up: SES event destination, suppression list, delivery table,\ndead-letter queues and alarms (a setting that is absent is a warning); the\nsend service's dead-letter queue and alarms (with MAILER_SEND_DLQ_URL); and\nin DNS the From domain's DMARC record and DKIM alignment, the MAIL FROM\ndomain's SPF and the Easy DKIM CNAMEs.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return &exitError{Code: exitUsage, Err: errors.New("")}
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return &exitError{Code: exitUsage, Err: err}
	}
	from, err := send.ParseFrom(cfg.From)
	if err != nil {
		return &exitError{Code: exitUsage, Err: err}
	}
	var dnsAPI doctor.DNSAPI
	var dnsSkipped error
	if *resolver != "" {
		r, err := doctor.NewResolver(*resolver)
		if err != nil {
			return &exitError{Code: exitUsage, Err: err}
		}
		dnsAPI = r
	} else if r, err := doctor.SystemResolver(resolvConf); err != nil {
		dnsSkipped = err // the other checks still run
	} else {
		dnsAPI = r
	}
	fromDomain := send.Domain(from.Address)
	signers := []string{fromDomain} // Easy DKIM of the From domain identity
	if cfg.DKIMSelector != "" && cfg.DKIMDomain != fromDomain {
		signers = append(signers, cfg.DKIMDomain) // and the mailer's own signature
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("aws config: %w", err)
	}
	ses := sesv2.NewFromConfig(awsCfg)
	report := doctor.Run(ctx, doctor.Config{
		FromDomain:       fromDomain,
		KeyARNs:          cfg.KMSKeyARNs,
		ConfigurationSet: cfg.ConfigurationSet,
		IdempotencyTable: cfg.IdempotencyTable,
		SES:              ses,
		KMS:              kms.NewFromConfig(awsCfg),
		Dynamo:           dynamodb.NewFromConfig(awsCfg),
		Delivery: doctor.DeliveryConfig{
			// MAILER_DELIVERY_TABLE is the delivery record's setting (cfg's
			// once that lands); the doctor only reads the table's schema.
			DeliveryTable:        strings.TrimSpace(getenv("MAILER_DELIVERY_TABLE")),
			EventsDLQURL:         cfg.EventsDLQURL,
			FailedEventsQueueURL: cfg.Record.FailedEventsQueueURL,
			SendDLQURL:           cfg.SendDLQURL,
			AlarmPrefix:          cfg.AlarmPrefix,
			SESEvents:            ses,
			SQS:                  sqs.NewFromConfig(awsCfg),
			CloudWatch:           newCloudWatch(awsCfg),
		},
		DNS:         dnsAPI,
		DKIMDomains: signers,
	})
	if dnsSkipped != nil {
		report.Checks = append(report.Checks, doctor.Check{Name: "dns", Status: doctor.Warn,
			Detail: "DNS records not checked: " + dnsSkipped.Error(), Fix: "name a DNS server with --resolver HOST:PORT"})
	}
	if *asJSON {
		err = report.WriteJSON(stdout)
	} else {
		err = report.WriteTable(stdout)
	}
	if err != nil {
		return err
	}
	if !report.OK {
		return &exitError{Code: exitSetup, Err: errors.New("")}
	}
	return nil
}

// newCloudWatch is a CloudWatch client speaking the service's query
// protocol: CloudWatch serves it as well as the SDK's default (RPC v2 CBOR),
// and it is the one moto, the tests' stand-in, understands.
func newCloudWatch(awsCfg aws.Config) *cloudwatch.Client {
	return cloudwatch.NewFromConfig(awsCfg, func(o *cloudwatch.Options) {
		o.Protocol = awsquery.New(cwschemas.GraniteServiceVersion20100801)
	})
}
