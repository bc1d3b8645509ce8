//go:build lambda

package main

// The Lambda build (make lambda: -tags lambda,lambda.norpc) leaves out what
// only a person runs: the preview gallery and its live-reload server and the
// receivers' judges (preview.go), the doctor and its table (doctor.go),
// `mailer trace` (trace.go). Each of those files is built with !lambda; this
// file stands in for their commands under the tag. A build tag rather than a
// second main for bootstrap: the Lambda and `mailer invoke` then run the very
// same wiring (main.go, wiring.go, events.go, config.go), there is no second
// entry point to keep in step, and `mailer` stays one binary for people.
// deploy/lambda_test.go holds the Lambda build's package list to this.

import (
	"context"
	"errors"
	"io"
)

// errNotInLambda answers a CLI-only command in the Lambda build.
var errNotInLambda = errors.New("not in the Lambda build: run the mailer CLI (go run ./cmd/mailer) for this command")

func runDoctor(_ context.Context, _ []string, _ func(string) string, _, _ io.Writer) error {
	return &exitError{Code: exitUsage, Err: errNotInLambda}
}

func runPreview(_ context.Context, _ []string, _ func(string) string, _, _ io.Writer) error {
	return &exitError{Code: exitUsage, Err: errNotInLambda}
}

func runTrace(_ context.Context, _ []string, _ func(string) string, _, _ io.Writer) error {
	return &exitError{Code: exitUsage, Err: errNotInLambda}
}
