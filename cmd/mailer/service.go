package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/Phenom-earth/phenom-mailer/internal/awsretry"
	"github.com/Phenom-earth/phenom-mailer/internal/idempotency"
	"github.com/Phenom-earth/phenom-mailer/internal/metrics"
	"github.com/Phenom-earth/phenom-mailer/internal/pace"
	"github.com/Phenom-earth/phenom-mailer/internal/render"
	"github.com/Phenom-earth/phenom-mailer/internal/service"
	"github.com/Phenom-earth/phenom-mailer/templates"
)

// newServiceHandler wires the send service's handler from cfg: the same
// renderer, sender, suppression look-up, idempotency table and delivery
// record as the Cognito sender (newHandler), no decrypter, and with SES
// delivery the pacer that holds the instance to its share of SES's send
// rate.
func newServiceHandler(ctx context.Context, cfg ServiceConfig, awsCfg aws.Config, logger *slog.Logger) (*service.Handler, error) {
	rend, err := render.New(templates.FS, cfg.RenderConfig.options())
	if err != nil {
		return nil, err
	}
	sender, err := newSender(cfg.SendConfig, awsCfg)
	if err != nil {
		return nil, err
	}
	h := &service.Handler{
		Renderer:    rend,
		Sender:      sender,
		Environment: cfg.Environment,
		Logger:      logger,
	}
	if cfg.CheckSuppression && cfg.MaildirPath == "" {
		h.Suppression = newSuppressionList(awsCfg)
	}
	if cfg.MaildirPath == "" {
		// SES delivery: each instance takes its share of the account's
		// rate (MAILER_SERVICE_RATE capped by GetAccount's MaxSendRate,
		// divided by MAILER_SERVICE_CONCURRENCY).
		quota := &pace.SESQuota{Client: sesv2.NewFromConfig(awsCfg, func(o *sesv2.Options) {
			o.Retryer = awsretry.Repeatable(3, time.Second)
		})}
		h.Pacer = pace.New(quota, cfg.Concurrency, cfg.Rate, logger)
	}
	if st := newDeliveryStore(awsCfg, cfg.Record); st != nil {
		h.Recorder = st
	}
	if cfg.IdempotencyTable != "" {
		h.Deduper = &idempotency.Store{
			Client: dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
				o.Retryer = awsretry.Repeatable(5, 2*time.Second)
			}),
			Table: cfg.IdempotencyTable,
		}
	}
	return h, nil
}

// logServiceStart logs the send service's configuration once.
func logServiceStart(ctx context.Context, logger *slog.Logger, cfg ServiceConfig) {
	attrs := []slog.Attr{
		slog.String("delivery", cfg.Delivery),
		slog.Bool("require_dkim", cfg.RequireDKIM),
		slog.Bool("dkim_signing", cfg.DKIMSelector != ""),
		slog.String("configuration_set", cfg.ConfigurationSet),
		slog.Bool("check_suppression", cfg.CheckSuppression && cfg.MaildirPath == ""),
		slog.String("idempotency_table", cfg.IdempotencyTable),
		slog.String("delivery_table", cfg.Record.Table),
		slog.Int("concurrency", cfg.Concurrency),
		slog.Float64("rate", cfg.Rate),
		slog.Int("batch_parallel", cfg.BatchParallel),
	}
	if cfg.IdempotencyTable == "" {
		attrs = append(attrs, slog.String("warning", "no MAILER_IDEMPOTENCY_TABLE: a message SQS delivers twice is sent twice, and idempotency keys are not honoured"))
	}
	logger.LogAttrs(ctx, slog.LevelInfo, "send service ready", attrs...)
}

// handleSendBatch serves one SQS batch of the send queue: every message's
// mail, at most parallel at once, and the answer Lambda expects with
// ReportBatchItemFailures: the records to deliver again (Result.Requeue: a
// retryable failure, or a duplicate whose first delivery is still in
// flight). An unreadable event is an error (Lambda retries the whole
// batch).
func handleSendBatch(ctx context.Context, h *service.Handler, parallel int, metricsOut io.Writer, event []byte) (events.SQSEventResponse, error) {
	var ev events.SQSEvent
	if err := json.Unmarshal(event, &ev); err != nil {
		return events.SQSEventResponse{}, fmt.Errorf("send queue: the SQS event is not readable: %w", err)
	}
	msgs := make([]service.Message, len(ev.Records))
	for i, r := range ev.Records {
		msgs[i] = service.Message{ID: r.MessageId, Body: []byte(r.Body)}
	}
	results := h.HandleBatch(withRequestID(ctx), msgs, parallel)
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	for i, res := range results {
		writeServiceMetrics(metricsOut, res)
		if res.Requeue() {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msgs[i].ID})
		}
	}
	return resp, nil
}

// handleFuncURL serves one function URL request (payload format 2.0): POST
// service.Path with the request as body; the caller is the IAM identity
// the URL's AWS_IAM auth checked. Every answer, errors included, is an
// HTTP response: a function error would reach the caller as a bare 502.
func handleFuncURL(ctx context.Context, h *service.Handler, metricsOut io.Writer, event []byte) events.LambdaFunctionURLResponse {
	var req events.LambdaFunctionURLRequest
	if err := json.Unmarshal(event, &req); err != nil {
		return urlResponse(service.ErrorResponse(http.StatusBadRequest, "the function URL event is not readable"))
	}
	switch {
	case req.RequestContext.HTTP.Path != service.Path:
		return urlResponse(service.ErrorResponse(http.StatusNotFound, "not found: the one route is POST "+service.Path))
	case req.RequestContext.HTTP.Method != http.MethodPost:
		r := urlResponse(service.ErrorResponse(http.StatusMethodNotAllowed, "method not allowed: POST "+service.Path))
		r.Headers["Allow"] = http.MethodPost
		return r
	}
	body := []byte(req.Body)
	if req.IsBase64Encoded {
		dec, err := base64.StdEncoding.DecodeString(req.Body)
		if err != nil {
			return urlResponse(service.ErrorResponse(http.StatusBadRequest, "the body is marked base64 but is not valid base64"))
		}
		body = dec
	}
	caller := ""
	if a := req.RequestContext.Authorizer; a != nil && a.IAM != nil {
		caller = a.IAM.UserARN
	}
	res := h.Handle(withRequestID(ctx), body, service.Source{Kind: service.SourceURL, CallerARN: caller})
	writeServiceMetrics(metricsOut, res)
	return urlResponse(res.HTTP())
}

func urlResponse(r service.Response) events.LambdaFunctionURLResponse {
	return events.LambdaFunctionURLResponse{StatusCode: r.Status, Headers: r.Headers, Body: string(r.Body)}
}

// writeServiceMetrics writes one service mail's EMF line. The template
// and service dimensions are bounded: a template the registry does not
// know, or a service tag that is not a valid one, is "-" (a caller must
// not be able to mint metrics).
func writeServiceMetrics(w io.Writer, res service.Result) {
	tmpl := res.Template
	if t, ok := templates.Lookup(tmpl); !ok || t.Kind != templates.Service {
		tmpl = ""
	}
	svc := res.Service
	if !metricName(svc) {
		svc = ""
	}
	_ = metrics.WriteService(w, metrics.ServiceRecord{
		Outcome: res.Outcome, Reason: res.Reason, Template: tmpl, Service: svc, Source: res.Source,
		LatencyMS: res.DurationMS, Time: time.Now(),
	})
}

// metricName: at most 64 of the characters an SES tag allows.
func metricName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '@') {
			return false
		}
	}
	return true
}

// errServiceOff answers a send-queue or function URL event when this
// bootstrap is not the send function.
var errServiceOff = errors.New("MAILER_SERVICE is not true: this function does not serve the send queue or the function URL")
