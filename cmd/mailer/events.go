package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/Phenom-earth/phenom-mailer/internal/cognito"
	"github.com/Phenom-earth/phenom-mailer/internal/metrics"
	"github.com/Phenom-earth/phenom-mailer/internal/sesevents"
)

// server is the one bootstrap behind both functions: the Cognito custom
// email sender and the SES events function. Each invocation goes to the
// handler its event's shape belongs to. Either handler may be missing from
// the environment (the events function has no KMS keys or pools, the
// sender may have no delivery table); an event for a missing one fails
// with the configuration error.
type server struct {
	cognito    *cognito.Handler
	cognitoErr error
	events     *sesevents.Handler
	eventsErr  error
	metrics    io.Writer
}

// newServer wires whichever handlers the environment configures; it fails
// only when it configures neither.
func newServer(ctx context.Context, getenv func(string) string, logger *slog.Logger, metricsOut io.Writer) (*server, error) {
	s := &server{metrics: metricsOut}
	dc, err := loadDeliveryConfig(getenv)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	cfg, cerr := loadConfig(getenv)
	if cerr == nil {
		if s.cognito, err = newHandler(ctx, cfg, logger); err != nil {
			return nil, err
		}
		logStart(ctx, logger, cfg)
	} else {
		s.cognitoErr = cerr
	}
	if dc.Table != "" {
		if s.events, err = newEventsHandler(ctx, dc, logger); err != nil {
			return nil, err
		}
		logger.LogAttrs(ctx, slog.LevelInfo, "ses events handler ready", slog.String("delivery_table", dc.Table),
			slog.String("delivery_ttl", dc.TTL.String()), slog.Bool("cognito_sender", s.cognito != nil))
	} else {
		s.eventsErr = errors.New("MAILER_DELIVERY_TABLE is not set: SES events cannot be recorded")
	}
	if s.cognito == nil && s.events == nil {
		return nil, cerr
	}
	return s, nil
}

func newEventsHandler(ctx context.Context, dc DeliveryConfig, logger *slog.Logger) (*sesevents.Handler, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	return &sesevents.Handler{Recorder: newDeliveryStore(awsCfg, dc), Logger: logger}, nil
}

// handle serves one Lambda invocation. For the sender, a retryable failure
// returns an error so that Lambda's asynchronous retry sends the event
// again, and a refusal returns nil so that it does not. For SQS, the
// records whose write failed are returned as batch item failures.
func (s *server) handle(ctx context.Context, event json.RawMessage) (any, error) {
	ctx, cancel := reserveTime(ctx, lambdaReserve)
	defer cancel()
	if sesevents.IsSQSEvent(event) {
		if s.events == nil {
			return nil, s.eventsErr
		}
		sum, err := s.events.HandleJSON(ctx, event)
		if err != nil {
			return nil, err
		}
		_ = metrics.WriteSESEvents(s.metrics, sum.ByType, sum.Failed, time.Now())
		resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
		for _, f := range sum.BatchItemFailures {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: f.ItemIdentifier})
		}
		return resp, nil
	}
	if s.cognito == nil {
		return nil, fmt.Errorf("a Cognito event, but the sender is not configured: %w", s.cognitoErr)
	}
	res := s.cognito.HandleJSON(withRequestID(ctx), event)
	writeMetrics(s.metrics, res)
	if res.Retryable() {
		return nil, fmt.Errorf("%s: %s", res.Outcome, res.Reason)
	}
	return nil, nil
}

// invokeEventsTimeout bounds `mailer invoke` on an SQS event.
const invokeEventsTimeout = 30 * time.Second

// runInvokeEvents is `mailer invoke` on an SQS event: one JSON summary line
// on stdout; exit 0 when every record was recorded (now or before) or
// knowingly ignored, 4 when any failed.
func runInvokeEvents(ctx context.Context, data []byte, getenv func(string) string, stdout, stderr io.Writer) error {
	logger := newLogger(stderr, getenv)
	dc, err := loadDeliveryConfig(getenv)
	if err != nil {
		return &exitError{Code: exitUsage, Err: fmt.Errorf("configuration: %w", err)}
	}
	if dc.Table == "" {
		return &exitError{Code: exitUsage, Err: errors.New("an SQS event: recording SES events needs MAILER_DELIVERY_TABLE")}
	}
	h, err := newEventsHandler(ctx, dc, logger)
	if err != nil {
		return &exitError{Code: exitSetup, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, invokeEventsTimeout)
	defer cancel()
	sum, err := h.HandleJSON(ctx, data)
	if err != nil {
		return &exitError{Code: exitUsage, Err: err}
	}
	_ = metrics.WriteSESEvents(stderr, sum.ByType, sum.Failed, time.Now())
	if err := json.NewEncoder(stdout).Encode(sum); err != nil {
		return err
	}
	if sum.Failed > 0 {
		return &exitError{Code: exitRetryable, Err: errors.New("")}
	}
	return nil
}
