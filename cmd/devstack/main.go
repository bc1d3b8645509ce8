// Command devstack starts the local stand-ins for AWS on 127.0.0.1 and runs
// a command inside them, so the mailer runs on a developer's machine with no
// AWS account:
//
//	devstack [-maildir DIR] -- COMMAND [ARG...]
//
// It serves a KMS stand-in (local-kms with the fixed test keys of
// testdata/kms/seed.yaml) and sets, for the command, the AWS variables that
// point the SDK at it plus a mailer configuration for the test pools:
// MAILER_KMS_KEY_ARNS, MAILER_ALLOWED_POOLS and MAILER_DELIVERY=maildir:DIR.
// Variables already set in the environment win. Without a command it prints
// the variables and serves until interrupted.
//
// Test and demo tooling, never shipped; the stand-ins live in
// internal/testenv/standin.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code, err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("devstack", flag.ContinueOnError)
	fs.SetOutput(stderr)
	maildir := fs.String("maildir", "out/maildir", "Maildir the mailer delivers into")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: devstack [-maildir DIR] [-- COMMAND [ARG...]]\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2, errors.New("bad flags")
	}
	seed, err := standin.LoadSeed()
	if err != nil {
		return 1, fmt.Errorf("kms seed: %w", err)
	}
	dataDir, err := os.MkdirTemp("", "devstack-kms-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(dataDir)
	k, err := standin.StartKMS(seed, dataDir)
	if err != nil {
		return 1, fmt.Errorf("kms stand-in: %w", err)
	}
	defer k.Close()

	absMaildir, err := filepath.Abs(*maildir)
	if err != nil {
		return 1, err
	}
	vars := map[string]string{
		"AWS_REGION":                  standin.Region,
		"AWS_ACCESS_KEY_ID":           "test",
		"AWS_SECRET_ACCESS_KEY":       "test",
		"AWS_ENDPOINT_URL_KMS":        k.URL,
		"AWS_EC2_METADATA_DISABLED":   "true",
		"MAILER_KMS_KEY_ARNS":         k.KeyARN(standin.StagingKeyID) + "," + k.KeyARN(standin.DevLocalKeyID),
		"MAILER_ALLOWED_POOLS":        standin.StagingPool + "," + standin.DevLocalPool,
		"MAILER_DELIVERY":             "maildir:" + absMaildir,
		"MAILER_ENVIRONMENT":          "local",
		"MAILER_REQUIRE_POOL_CONTEXT": "true",
	}
	env := os.Environ()
	names := make([]string, 0, len(vars))
	for name := range vars {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if getenv(name) != "" {
			continue
		}
		env = append(env, name+"="+vars[name])
	}
	fmt.Fprintf(stderr, "devstack: KMS stand-in on %s; mail goes to %s/new\n", k.URL, absMaildir)

	if fs.NArg() == 0 {
		for _, name := range names {
			if getenv(name) == "" {
				fmt.Fprintf(stdout, "export %s=%q\n", name, vars[name])
			}
		}
		fmt.Fprintln(stderr, "devstack: serving until interrupted")
		<-ctx.Done()
		return 0, nil
	}
	cmd := exec.CommandContext(ctx, fs.Arg(0), fs.Args()[1:]...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 1, fmt.Errorf("run %s: %w", strings.Join(fs.Args(), " "), err)
	}
	return 0, nil
}
