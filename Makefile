# phenom-mailer: see README.md. Every target works on a fresh Debian machine
# with Go, Node/npm and moto_server; tools come from the Go module proxy and npm.

GO        ?= go
BIN       := $(CURDIR)/bin
RIE       := $(BIN)/aws-lambda-rie
RIE_MOD   := github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d
LAMBDA_LDFLAGS := -s -w -buildid=
GNU_TIME  := /usr/bin/time
CHROMIUM  := /usr/bin/chromium
DOVECOT   := /usr/lib/dovecot/lmtp
# the receivers' judges (internal/receivers): SpamAssassin, dkimpy for
# Debian's python3, and OpenDKIM's tools (opendkim-testmsg) for checking a
# signature by hand
RECEIVER_TOOLS := /usr/bin/spamassassin /usr/lib/python3/dist-packages/dkim/__init__.py /usr/sbin/opendkim-testmsg
# OpenTofu, the real Terraform-compatible engine deploy/'s tests run the
# module with (init, validate, plan, apply, plan again, destroy against moto)
TOFU      := $(BIN)/tofu
TOFU_MOD  := github.com/opentofu/opentofu@v1.10.6
# the toolchain that builds the Lambda: go.mod's toolchain line, else its go
# line (fetched through the module proxy when the local Go differs)
LAMBDA_TOOLCHAIN ?= $(shell awk '/^toolchain /{t=$$2} /^go /{g="go"$$2} END{print (t != "" ? t : g)}' go.mod)
export PATH := $(BIN):$(PATH)

FUZZTIME  ?= 10s
FUZZPKGS  ?= ./...

.PHONY: all test test-short deps tofu demo preview lambda bench fixtures srp-vectors fuzz clean

all: test

## deps: install what the tests and make bench need (npm packages,
## aws-lambda-rie, GNU time, Debian's Chromium for the browser tests,
## dovecot for the inbox reader's IMAP round trip, SpamAssassin, python3-dkim
## and opendkim-tools for the receivers' verdicts, OpenTofu for deploy/'s tests)
deps: node_modules/.package-lock.json $(RIE) $(TOFU) $(GNU_TIME) $(CHROMIUM) $(DOVECOT) $(RECEIVER_TOOLS)
	@command -v moto_server >/dev/null || { echo "moto_server is missing: it ships on this machine image (python moto[server])"; exit 1; }
	@command -v python3 >/dev/null || { echo "python3 is missing: moto_server needs it, and internal/send's MIME conformance test reads mail with Python's email package"; exit 1; }

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

$(RIE):
	GOBIN=$(BIN) $(GO) install $(RIE_MOD)

# OpenTofu from the Go module proxy. `go install` refuses it (its go.mod has a
# replace directive), and the module cache is read-only, so ./cmd/tofu is
# built inside a writable copy of the downloaded module directory (several
# minutes on 2 cores; skipped when bin/tofu exists). The download runs outside
# this module so that go.mod and go.sum stay untouched.
tofu: $(TOFU)

$(TOFU):
	@set -e; mkdir -p $(BIN); tmp=$$(mktemp -d); trap 'chmod -R u+w "$$tmp"; rm -rf "$$tmp"' EXIT; \
	  src=$$(cd "$$tmp" && GOFLAGS=-mod=mod $(GO) mod download -json $(TOFU_MOD) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	  [ -n "$$src" ] || { echo "tofu: go mod download $(TOFU_MOD) gave no directory"; exit 1; }; \
	  cp -R "$$src" "$$tmp/src"; chmod -R u+w "$$tmp/src"; \
	  echo "tofu: building ./cmd/tofu of $(TOFU_MOD) (several minutes)"; \
	  cd "$$tmp/src" && CGO_ENABLED=0 $(GO) build -trimpath -o $(TOFU).tmp ./cmd/tofu && mv $(TOFU).tmp $(TOFU)

# GNU time (Debian package time) measures a child's own peak memory for make
# bench. Installed through apt when missing; CI runs as root, and there a
# failed install fails. Elsewhere without root it only warns (make test
# does not need it; make bench then says what is missing).
$(GNU_TIME):
	@if [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time; \
	elif [ "$$CI" = true ]; then \
	  echo "GNU time is missing and CI is not root: apt-get install time"; exit 1; \
	else \
	  echo "warning: GNU time is missing (sudo apt-get install time): make bench needs it"; \
	fi

# Debian's Chromium drives the browser tests of internal/preview (headless,
# through chromedp). Installed through apt when missing; CI runs as root and
# there a failed install fails, as the tests would (CI=true never skips).
# Elsewhere without root it warns, and the browser tests skip.
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	elif [ "$$CI" = true ]; then \
	  echo "Chromium is missing and CI is not root: apt-get install chromium"; exit 1; \
	else \
	  echo "warning: Chromium is missing (sudo apt-get install chromium): the browser tests will skip"; \
	fi

# dovecot (IMAP, and LMTP for delivery) is the real mailbox of the inbox
# reader's chain test; the tests run it themselves on 127.0.0.1 with their own
# configuration. Installed through apt when missing (the LMTP server is the
# file checked). The package's own service must not start (it would listen on
# every address): a policy-rc.d that forbids starts is in place during the
# install, and a service that started anyway is stopped. Only the tests'
# instances, on 127.0.0.1, may run. CI runs as root and there a failed install fails;
# elsewhere without root it warns, and the IMAP tests skip.
$(DOVECOT):
	@if [ "$$(id -u)" = 0 ]; then \
	  policy=; if [ ! -e /usr/sbin/policy-rc.d ]; then \
	    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy=1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd dovecot-lmtpd; st=$$?; \
	  if [ -n "$$policy" ]; then rm -f /usr/sbin/policy-rc.d; fi; \
	  if [ -f /run/dovecot/master.pid ]; then /usr/sbin/dovecot stop || true; fi; \
	  [ $$st = 0 ] || exit $$st; \
	elif [ "$$CI" = true ]; then \
	  echo "dovecot is missing and CI is not root: apt-get install dovecot-imapd dovecot-lmtpd"; exit 1; \
	else \
	  echo "warning: dovecot is missing (sudo apt-get install dovecot-imapd dovecot-lmtpd): the inbox reader's chain tests will skip"; \
	fi

# SpamAssassin (scored with local tests only: no DNS, no network rules),
# Debian's python3-dkim (dkimpy, a DKIM verifier independent of go-msgauth)
# and opendkim-tools judge every mail as receivers do (internal/receivers,
# the preview's verdicts). Installed through apt when missing; CI runs as
# root and there a failed install fails, as the tests would (CI=true never
# skips). Elsewhere without root it warns, and those tests skip.
$(RECEIVER_TOOLS):
	@if [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq spamassassin python3-dkim opendkim-tools; \
	elif [ "$$CI" = true ]; then \
	  echo "$@ is missing and CI is not root: apt-get install spamassassin python3-dkim opendkim-tools"; exit 1; \
	else \
	  echo "warning: $@ is missing (sudo apt-get install spamassassin python3-dkim opendkim-tools): the receivers' tests will skip"; \
	fi

## test: every test, integration included (real stand-ins on 127.0.0.1), then
## every fuzz target for FUZZTIME
test: deps
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt -w these: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...
	$(MAKE) --no-print-directory fuzz

## fuzz: run each fuzz target for FUZZTIME (default 10s). A run that fails
## with "context deadline exceeded" and writes no failing input is Go 1.26's
## fuzz coordinator race at the end of -fuzztime (go.dev/issue/75804, fixed
## in Go 1.27), not a finding: it is reported and the next target runs. Any
## other failure, or a failing input written to testdata/fuzz, fails.
fuzz:
	@set -e; for pkg in $$($(GO) list $(FUZZPKGS)); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$f in $$pkg for $(FUZZTIME)"; \
	    before=$$(ls $$dir/testdata/fuzz/$$f 2>/dev/null | wc -l); \
	    log=$$(mktemp); rc=0; \
	    $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg >$$log 2>&1 || rc=$$?; \
	    cat $$log; \
	    after=$$(ls $$dir/testdata/fuzz/$$f 2>/dev/null | wc -l); \
	    if [ "$$rc" != 0 ]; then \
	      if [ "$$after" = "$$before" ] && grep -q '^    context deadline exceeded$$' $$log && [ $$(grep -c '^--- FAIL' $$log) = 1 ]; then \
	        echo "fuzz: $$f: the fuzz coordinator's deadline race (go.dev/issue/75804), no failing input written: not a finding"; \
	      else rm -f $$log; exit 1; fi; \
	    fi; \
	    rm -f $$log; \
	  done; \
	done

## test-short: unit tests only
test-short:
	$(GO) test -short ./...

## demo: run the mailer once, locally, with no AWS account: a KMS stand-in
## on 127.0.0.1 decrypts a Cognito-shaped ciphertext, the mail lands in out/maildir
demo:
	$(GO) run ./cmd/devstack -- $(GO) run ./cmd/mailer invoke --event testdata/events/ForgotPassword.json

## preview: every mail in every language from sample data, with the checks:
## out/preview/index.html (live: go run ./cmd/mailer preview --serve 127.0.0.1:8025 --templates templates)
preview:
	$(GO) run ./cmd/mailer preview --out out/preview

## lambda: dist/lambda.zip with bootstrap for provided.al2023 on arm64, the
## same bytes from any clean checkout in any folder: the toolchain named in
## go.mod, -trimpath, no VCS stamp, empty build id, stripped, and a zip with
## fixed order, modes and timestamps (tools/lambdazip). The tag lambda
## leaves out the commands only a person runs (preview, doctor, trace: see
## cmd/mailer/lambdabuild.go); lambda.norpc the Lambda library's RPC mode. It prints the size,
## the SHA-256 and Terraform's source_code_hash. A warning means files under
## the build's inputs are uncommitted or untracked: the zip may then differ
## from a clean checkout's.
lambda:
	mkdir -p dist
	GOTOOLCHAIN=$(LAMBDA_TOOLCHAIN) GOOS=linux GOARCH=arm64 GOARM64=v8.0 CGO_ENABLED=0 \
		$(GO) build -tags lambda,lambda.norpc -trimpath -buildvcs=false \
		-ldflags="$(LAMBDA_LDFLAGS)" -o dist/bootstrap ./cmd/mailer
	$(GO) run ./tools/lambdazip -o dist/lambda.zip dist/bootstrap
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1 && \
	  [ -n "$$(git status --porcelain --untracked-files=all -- go.mod go.sum cmd/mailer internal templates)" ]; then \
	  echo "lambda: warning: uncommitted or untracked files in go.mod, go.sum, cmd/mailer, internal or templates;"; \
	  echo "lambda: warning: this zip may not match one built from a clean checkout (git status shows them)"; \
	fi

## bench: measure the mailer (every Go benchmark; cold starts of the real
## bootstrap under aws-lambda-rie and of mailer invoke; warm invocations by
## stage; the Node peer in bench/, alternating with the mailer; sizes; peak
## memory under GNU time; package initialisation beside the baseline's and
## the libraries' own; the SES stand-in's floor), hold the figures to the
## budget and write docs/benchmarks.md. Prints each figure over budget and by
## how much, and exits non-zero then (the doc is still written).
bench: deps lambda
	$(GO) run ./tools/benchdoc -go $(GO) -o docs/benchmarks.md

## fixtures: regenerate the Node ESDK ciphertexts and event fixtures
fixtures: node_modules/.package-lock.json
	./scripts/gen-ciphertexts.sh

## srp-vectors: regenerate internal/srp's known-answer vectors with
## amazon-cognito-identity-js (deterministic: the same file each time)
srp-vectors: node_modules/.package-lock.json
	node scripts/gen-srp-vectors.mjs > internal/srp/testdata/vectors.json.tmp
	mv internal/srp/testdata/vectors.json.tmp internal/srp/testdata/vectors.json

clean:
	rm -rf dist out bin
