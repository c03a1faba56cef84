#!/usr/bin/env bash
# README's first command: the pipeline's streaming half on local emulators, no AWS account.
# Installs the emulator it needs (moto, in a venv under ~/.cache/shopstream), builds the CLI and
# runs `shopstream run`; every option is passed on (try `scripts/run-local.sh --help`).
#   scripts/run-local.sh                      20,000 events, summary on stdout
#   scripts/run-local.sh -n 1000000 --summary-json summary.json
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/install-emulators.sh moto | grep '^SHOPSTREAM_' | sed 's/^/export /')"
exec cargo run --quiet --locked -p shopstream-cli --bin shopstream -- run "$@"
