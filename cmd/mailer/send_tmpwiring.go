package main

// TEMPORARY until hB's [wiring] (ServiceConfig, newServiceHandler) is
// merged: then cliServiceHandler uses that and this file goes.

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/Phenom-earth/phenom-mailer/internal/awsretry"
	"github.com/Phenom-earth/phenom-mailer/internal/idempotency"
	"github.com/Phenom-earth/phenom-mailer/internal/render"
	"github.com/Phenom-earth/phenom-mailer/internal/service"
	"github.com/Phenom-earth/phenom-mailer/templates"
)

func cliServiceHandler(ctx context.Context, getenv func(string) string, logger *slog.Logger) (*service.Handler, time.Duration, error) {
	rc, err := loadRenderConfig(getenv)
	if err != nil {
		return nil, 0, &exitError{Code: exitSetup, Err: err}
	}
	sc, err := loadSendConfig(getenv)
	if err != nil {
		return nil, 0, &exitError{Code: exitSetup, Err: err}
	}
	timeout := 30 * time.Second
	if v := getenv("MAILER_TIMEOUT"); v != "" {
		if timeout, err = time.ParseDuration(v); err != nil {
			return nil, 0, &exitError{Code: exitSetup, Err: fmt.Errorf("MAILER_TIMEOUT: %w", err)}
		}
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, 0, err
	}
	rend, err := render.New(templates.FS, rc.options())
	if err != nil {
		return nil, 0, err
	}
	sender, err := newSender(sc, awsCfg)
	if err != nil {
		return nil, 0, err
	}
	h := &service.Handler{Renderer: rend, Sender: sender, Environment: getenv("MAILER_ENVIRONMENT"), Logger: logger}
	if t := getenv("MAILER_IDEMPOTENCY_TABLE"); t != "" {
		h.Deduper = &idempotency.Store{Client: dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
			o.Retryer = awsretry.Repeatable(5, 2*time.Second)
		}), Table: t}
	}
	return h, timeout, nil
}
