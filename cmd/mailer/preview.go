//go:build !lambda

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/Phenom-earth/phenom-mailer/internal/cognito"
	"github.com/Phenom-earth/phenom-mailer/internal/preview"
	"github.com/Phenom-earth/phenom-mailer/internal/receivers"
	"github.com/Phenom-earth/phenom-mailer/internal/render"
	"github.com/Phenom-earth/phenom-mailer/internal/send"
	"github.com/Phenom-earth/phenom-mailer/templates"
)

const previewUsage = `usage: mailer preview [--out DIR] [--serve 127.0.0.1:PORT] [--send-to ADDRESS] [--templates DIR]

Renders every mail in every language from made-up sample data; no AWS, no
real user. At least one of:

  --out DIR        write DIR/<locale>/<Trigger>.html, .txt and .eml and the gallery
                   DIR/index.html with the checks and the receivers' verdicts
                   (SpamAssassin, dkimpy when a DKIM key is configured, client
                   support from caniemail's data); exit 1 when one fails. A
                   receiver's tool that is missing shows as "not checked"
  --serve ADDR     serve the gallery on ADDR (127.0.0.1:PORT only; port 0 picks one);
                   with --templates, it reloads when a template file changes
  --send-to ADDR   send every sample to ADDR through the configured sender
                   (MAILER_DELIVERY, MAILER_FROM, DKIM and SES settings, as the handler)

--templates DIR reads the templates from DIR (the repository's templates/ folder)
instead of the ones built into the binary. PASSWORD_RESET_URL, MAILER_SUPPORT_EMAIL
and MAILER_FROM apply as in production; with MAILER_DKIM_SELECTOR and its key the
.eml files are signed as the handler signs them. The client-support report runs
scripts/clientsupport.mjs of the repository the command runs in (npm ci).

`

func runPreview(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("preview", flag.ContinueOnError)
	fset.SetOutput(stderr)
	out := fset.String("out", "", "write the preview files and gallery into this folder")
	serve := fset.String("serve", "", "serve the gallery on 127.0.0.1:PORT")
	sendTo := fset.String("send-to", "", "send every sample to this address")
	dir := fset.String("templates", "", "read templates from this folder instead of the built-in ones")
	fset.Usage = func() { fmt.Fprint(stderr, previewUsage) }
	if err := fset.Parse(args); err != nil {
		return &exitError{Code: exitUsage, Err: errors.New("")}
	}
	if fset.NArg() > 0 || (*out == "" && *serve == "" && *sendTo == "") {
		fset.Usage()
		return &exitError{Code: exitUsage, Err: errors.New("preview needs --out DIR, --serve 127.0.0.1:PORT or --send-to ADDRESS")}
	}

	rcfg, err := loadRenderConfig(getenv)
	if err != nil {
		return &exitError{Code: exitUsage, Err: err}
	}
	opts := rcfg.options()
	load := func() (*render.Renderer, error) {
		var fsys fs.FS = templates.FS
		if *dir != "" {
			var err error
			if fsys, err = preview.ReadDirFS(*dir); err != nil {
				return nil, err
			}
		}
		return render.New(fsys, opts)
	}
	eml, err := preview.EMLSender(getenv("MAILER_FROM"))
	if err != nil {
		return &exitError{Code: exitUsage, Err: fmt.Errorf("MAILER_FROM: %w", err)}
	}
	if strings.TrimSpace(getenv("MAILER_DKIM_SELECTOR")) != "" {
		cfg, err := loadSendConfig(getenv)
		if err != nil {
			return &exitError{Code: exitUsage, Err: err}
		}
		if eml.DKIM, err = send.NewDKIM(cfg.DKIMDomain, cfg.DKIMSelector, cfg.DKIMPrivateKey); err != nil {
			return &exitError{Code: exitUsage, Err: err}
		}
	}
	// Listen first: a refused address stops the command before it writes
	// or sends anything.
	var ln net.Listener
	if *serve != "" {
		if ln, err = preview.ListenLoopback(*serve); err != nil {
			return &exitError{Code: exitUsage, Err: err}
		}
		defer ln.Close()
	}

	failed := 0
	if *out != "" || *sendTo != "" {
		r, err := load()
		if err != nil {
			return &exitError{Code: exitSetup, Err: err}
		}
		if *out != "" {
			if failed, err = previewOut(ctx, r, eml, *out, stdout); err != nil {
				return &exitError{Code: exitSetup, Err: err}
			}
		}
		if *sendTo != "" {
			if err := previewSend(ctx, r, *sendTo, getenv, stdout, stderr); err != nil {
				return err
			}
		}
	}
	if ln != nil {
		srv := &preview.Server{Load: load, Sender: eml, Watch: *dir, Logger: newLogger(stderr, getenv)}
		fmt.Fprintf(stdout, "preview: serving http://%s/", ln.Addr())
		if *dir != "" {
			fmt.Fprintf(stdout, ", reloading when %s changes", *dir)
		}
		fmt.Fprintln(stdout, " (Ctrl-C stops)")
		if err := srv.Serve(ctx, ln); err != nil {
			return &exitError{Code: exitSetup, Err: err}
		}
	}
	if failed > 0 {
		return &exitError{Code: exitSetup, Err: fmt.Errorf("preview: %d checks failed; see %s", failed, filepath.Join(*out, "index.html"))}
	}
	return nil
}

// previewOut writes the preview folder and prints one line per mail and
// one with its receivers' verdicts; it returns the number of failed checks
// and verdicts.
func previewOut(ctx context.Context, r *render.Renderer, eml *send.Sender, dir string, stdout io.Writer) (int, error) {
	mails, err := preview.Build(r, eml, preview.Samples(r.Locales()))
	if err != nil {
		return 0, err
	}
	judges := preview.Judges{Clients: receivers.ClientSupport{Root: repoRoot()}, Signing: eml.DKIM}
	if err := preview.Judge(ctx, mails, judges); err != nil {
		return 0, err
	}
	opts := preview.GalleryOptions{Languages: preview.Languages(r)}
	if opts.Axe, err = os.ReadFile(filepath.Join(repoRoot(), "node_modules", "axe-core", "axe.min.js")); err != nil {
		opts.AxeMissing = "axe-core missing (npm ci, or make deps, in the repository)"
	}
	if err := preview.Write(dir, mails, opts); err != nil {
		return 0, err
	}
	failed := 0
	for _, m := range mails {
		status := "checks ok"
		var bad []string
		for _, c := range m.Checks {
			if !c.OK {
				bad = append(bad, c.Name+": "+c.Detail)
			}
		}
		if len(bad) > 0 {
			failed += len(bad)
			status = "FAILED " + strings.Join(bad, "; ")
		}
		fmt.Fprintf(stdout, "%-32s html %8s  eml %8s  %s\n", m.Name(), preview.KB(len(m.Message.HTML)), preview.KB(len(m.EML)), status)
		var verdicts []string
		for _, v := range m.Receivers {
			mark := "ok"
			switch {
			case !v.Checked:
				mark = "-"
			case !v.OK:
				mark = "FAILED"
				failed++
			}
			verdicts = append(verdicts, fmt.Sprintf("%s %s: %s", mark, v.Name, v.Detail))
		}
		if len(verdicts) > 0 {
			fmt.Fprintf(stdout, "    receivers: %s\n", strings.Join(verdicts, " | "))
		}
	}
	fmt.Fprintf(stdout, "preview: %d mails in %s, gallery %s\n", len(mails), dir, filepath.Join(dir, "index.html"))
	return failed, nil
}

// repoRoot is the repository folder the command runs in (the nearest
// folder up from the working directory holding scripts/clientsupport.mjs),
// or "." when there is none: the client-support report and axe-core then
// say they are missing.
func repoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return "."
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "scripts", "clientsupport.mjs")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "."
		}
		dir = parent
	}
}

// previewSend sends every sample through the sender the handler uses,
// configured from the same environment.
func previewSend(ctx context.Context, r *render.Renderer, to string, getenv func(string) string, stdout, stderr io.Writer) error {
	if err := send.CheckRecipient(to); err != nil {
		return &exitError{Code: exitUsage, Err: fmt.Errorf("--send-to: %w", err)}
	}
	cfg, err := loadSendConfig(getenv)
	if err != nil {
		return &exitError{Code: exitUsage, Err: err}
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return &exitError{Code: exitSetup, Err: fmt.Errorf("aws config: %w", err)}
	}
	sender, err := newSender(cfg, awsCfg)
	if err != nil {
		return &exitError{Code: exitUsage, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	logger := newLogger(stderr, getenv)
	sent, err := preview.SendAll(ctx, r, sender, to)
	for _, s := range sent {
		fmt.Fprintf(stdout, "sent %-32s %s\n", s.Name, s.MessageID)
	}
	if err != nil {
		logger.Error("preview: send failed", "sent", len(sent), "delivery", cfg.Delivery, "error", err.Error())
		return &exitError{Code: exitRetryable, Err: err}
	}
	logger.Info("preview: samples sent", "sent", len(sent), "delivery", cfg.Delivery, "recipient", cognito.MaskEmail(to))
	return nil
}
