package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/Phenom-earth/phenom-mailer/internal/service"
)

// cliServiceHandler is the send service's handler for `mailer send` and
// `mailer invoke`, wired by newServiceHandler exactly as the send
// function's.
func cliServiceHandler(ctx context.Context, sc ServiceConfig, logger *slog.Logger) (*service.Handler, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, &exitError{Code: exitSetup, Err: fmt.Errorf("aws config: %w", err)}
	}
	h, err := newServiceHandler(ctx, sc, awsCfg, logger)
	if err != nil {
		return nil, &exitError{Code: exitSetup, Err: err}
	}
	logServiceStart(ctx, logger, sc)
	return h, nil
}

// runInvokeService is `mailer invoke` on a send-queue SQS event or a
// function URL event, with MAILER_SERVICE=true as on the send function:
// the handler the Lambda would run (handleSendBatch, handleFuncURL), and
// what it would return as one JSON line. Exit 0 when nothing goes back to
// the queue or the URL answers 2xx; 3 for a URL refusal (400, 404, 405,
// 422); 4 when a message goes back to the queue, or the URL answers 409,
// 429 or 5xx.
func runInvokeService(ctx context.Context, shape eventShape, data []byte, sc ServiceConfig, getenv func(string) string, stdout, stderr io.Writer) error {
	logger := newLogger(stderr, getenv)
	h, err := cliServiceHandler(ctx, sc, logger)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, sc.Timeout)
	defer cancel()
	var out any
	code := exitOK
	switch shape {
	case shapeSendQueue:
		resp, err := handleSendBatch(ctx, h, sc.BatchParallel, stderr, data)
		if err != nil {
			return &exitError{Code: exitUsage, Err: err}
		}
		out = resp
		if len(resp.BatchItemFailures) > 0 {
			code = exitRetryable
		}
	case shapeFuncURL:
		resp := handleFuncURL(ctx, h, stderr, data)
		out = resp
		code = urlExitCode(resp.StatusCode)
	default:
		return &exitError{Code: exitUsage, Err: errors.New("not a send-queue or function URL event")}
	}
	if err := json.NewEncoder(stdout).Encode(out); err != nil {
		return err
	}
	if code != exitOK {
		return &exitError{Code: code, Err: errors.New("")}
	}
	return nil
}

// urlExitCode is the exit status of a function URL answer.
func urlExitCode(status int) int {
	switch {
	case status >= 200 && status < 300:
		return exitOK
	case status == 409 || status == 429 || status >= 500:
		return exitRetryable
	default:
		return exitRefused
	}
}
