#!/usr/bin/env bash
# README's first command: the whole pipeline on local emulators, no AWS account. Installs what
# it needs (moto in a venv under ~/.cache/shopstream, Debian's PostgreSQL for the local
# warehouse), builds the CLI and runs `shopstream run`; every option is passed on (try
# `scripts/run-local.sh --help`).
#   scripts/run-local.sh                      20,000 events; summary on stdout, report and
#                                             summary JSON in ./shopstream-run/
#   scripts/run-local.sh -n 1000000 --out /tmp/run-1m
#   scripts/run-local.sh --warehouse none     stop at gold and its KPIs
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/install-emulators.sh run | grep '^SHOPSTREAM_' | sed 's/^/export /')"
exec cargo run --quiet --locked -p shopstream-cli --bin shopstream -- run "$@"
