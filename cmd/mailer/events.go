package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/Phenom-earth/phenom-mailer/internal/cognito"
	"github.com/Phenom-earth/phenom-mailer/internal/metrics"
	"github.com/Phenom-earth/phenom-mailer/internal/service"
	"github.com/Phenom-earth/phenom-mailer/internal/sesevents"
)

// server is the one bootstrap behind the three functions: the Cognito
// custom email sender, the SES events function and the send function
// (MAILER_SERVICE=true: the send queue and the function URL). Each
// invocation goes to the handler its event's shape belongs to
// (eventShapeOf). Any handler may be missing from the environment (the
// events and send functions have no KMS keys or pools, the sender may have
// no delivery table); an event for a missing one fails with the
// configuration error.
type server struct {
	cognito    *cognito.Handler
	cognitoErr error
	events     *sesevents.Handler
	eventsErr  error
	service    *service.Handler
	// serviceParallel is MAILER_SERVICE_BATCH_PARALLEL.
	serviceParallel int
	metrics         io.Writer
}

// newServer wires whichever handlers the environment configures; it fails
// only when it configures none, or when MAILER_SERVICE=true and the send
// service's configuration is wrong.
func newServer(ctx context.Context, getenv func(string) string, logger *slog.Logger, metricsOut io.Writer) (*server, error) {
	s := &server{metrics: metricsOut}
	dc, err := loadDeliveryConfig(getenv)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	if serviceWanted(getenv) {
		sc, err := loadServiceConfig(getenv)
		if err != nil {
			return nil, err
		}
		if sc.Enabled {
			awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
			if err != nil {
				return nil, fmt.Errorf("aws config: %w", err)
			}
			if s.service, err = newServiceHandler(ctx, sc, awsCfg, logger); err != nil {
				return nil, err
			}
			s.serviceParallel = sc.BatchParallel
			logServiceStart(ctx, logger, sc)
		}
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
	if s.cognito == nil && s.events == nil && s.service == nil {
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

// serviceWanted: MAILER_SERVICE is set and not false. Unset or false, this
// is not the send function; true, or a value that is neither, loads (and
// so checks) the service's configuration.
func serviceWanted(getenv func(string) string) bool {
	v := strings.TrimSpace(getenv("MAILER_SERVICE"))
	on, err := strconv.ParseBool(v)
	return on || err != nil && v != ""
}

// eventShape is which handler an invocation's event belongs to.
type eventShape int

const (
	// shapeCognito: anything else (the Cognito handler refuses what is
	// not a custom email sender event).
	shapeCognito eventShape = iota
	// shapeSESEvents: an SQS event whose records' bodies are SNS
	// envelopes (the SES events queue).
	shapeSESEvents
	// shapeSendQueue: any other SQS event (the send queue).
	shapeSendQueue
	// shapeFuncURL: a function URL event, payload format 2.0.
	shapeFuncURL
)

// eventShapeOf tells the event shapes apart by the fields Lambda sets: an
// SQS event has Records with eventSource "aws:sqs" (its records' bodies
// are SNS envelopes, {"Type": ..., "TopicArn": ...}, on the SES events
// queue; a send request has neither field and allows no unknown one); a
// function URL event has "version": "2.0" and requestContext.http. It
// never fails: what it cannot read is shapeCognito.
func eventShapeOf(event []byte) eventShape {
	if sesevents.IsSQSEvent(event) {
		var probe struct {
			Records []struct {
				Body string `json:"body"`
			} `json:"Records"`
		}
		_ = json.Unmarshal(event, &probe)
		for _, r := range probe.Records {
			var env struct {
				Type     *string `json:"Type"`
				TopicArn *string `json:"TopicArn"`
			}
			if json.Unmarshal([]byte(r.Body), &env) == nil && env.Type != nil && env.TopicArn != nil {
				return shapeSESEvents
			}
		}
		return shapeSendQueue
	}
	var probe struct {
		Version        string `json:"version"`
		RequestContext *struct {
			HTTP *struct {
				Method string `json:"method"`
			} `json:"http"`
		} `json:"requestContext"`
	}
	if json.Unmarshal(event, &probe) == nil && probe.Version == "2.0" && probe.RequestContext != nil && probe.RequestContext.HTTP != nil {
		return shapeFuncURL
	}
	return shapeCognito
}

// handle serves one Lambda invocation. For the sender, a retryable failure
// returns an error so that Lambda's asynchronous retry sends the event
// again, and a refusal returns nil so that it does not. For SQS, the
// records whose write failed are returned as batch item failures; on the
// send queue, the messages that must be delivered again. The function URL
// always gets an HTTP answer.
func (s *server) handle(ctx context.Context, event json.RawMessage) (any, error) {
	ctx, cancel := reserveTime(ctx, lambdaReserve)
	defer cancel()
	shape := eventShapeOf(event)
	if shape == shapeSendQueue && s.service == nil {
		// Not the send function: the events function ignores records
		// it cannot read, as before the send queue existed.
		shape = shapeSESEvents
	}
	switch shape {
	case shapeSendQueue:
		return handleSendBatch(ctx, s.service, s.serviceParallel, s.metrics, event)
	case shapeFuncURL:
		if s.service == nil {
			return nil, errServiceOff
		}
		return handleFuncURL(ctx, s.service, s.metrics, event), nil
	case shapeSESEvents:
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
