#!/usr/bin/env bash
# Regenerates testdata/ciphertexts/fixtures.json and testdata/events/*.json:
# starts the local-kms stand-in (fixed keys from testdata/kms/seed.yaml) on
# 127.0.0.1, mints Cognito-shaped ciphertexts with the JavaScript Encryption
# SDK (scripts/gen-ciphertexts.mjs) through it, and stops it.
#
#   scripts/gen-ciphertexts.sh        (or: npm run gen-ciphertexts)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f node_modules/@aws-crypto/client-node/package.json ]; then
  npm ci --no-audit --no-fund
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/kmsstandin" ./tools/kmsstandin

# The stand-in serves until its stdin (the coprocess pipe) closes.
coproc KMS { exec "$tmp/kmsstandin" -seed testdata/kms/seed.yaml -data "$tmp/kms-data"; }
kms_pid=$KMS_PID
read -r url <&"${KMS[0]}"
case "$url" in
  http://127.0.0.1:*) ;;
  *) echo "gen-ciphertexts: unexpected KMS stand-in URL: $url" >&2; exit 1 ;;
esac

status=0
AWS_ENDPOINT_URL_KMS="$url" node scripts/gen-ciphertexts.mjs || status=$?

exec {KMS[1]}>&-
wait "$kms_pid" || true
exit "$status"
