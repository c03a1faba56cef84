#!/usr/bin/env bash
# Runs the decoder fuzz target for a bounded time (default 60 s): any bytes through JSON and
# Confluent-Avro decoding, validation and cleaning must never panic.
#   scripts/fuzz.sh [SECONDS]
# Installs cargo-fuzz if it is missing. The toolchain here is stable only; RUSTC_BOOTSTRAP
# lets cargo-fuzz pass the sanitizer flags it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "[fuzz] installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked --quiet
fi

corpus=fuzz/corpus/decode
mkdir -p "$corpus"
cp -n fuzz/seeds/* "$corpus"/ 2>/dev/null || true

export RUSTC_BOOTSTRAP=1
cd fuzz
cargo fuzz run decode --sanitizer address "$(pwd)/corpus/decode" -- \
  -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1
