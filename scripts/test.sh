#!/usr/bin/env bash
# The full test suite, as CI runs it (README's second command). Installs what it needs:
# the local emulators (moto in a venv, tansu from crates.io) and cargo-fuzz.
#   scripts/test.sh            everything
#   FUZZ_SECONDS=0 scripts/test.sh   skip the bounded fuzz run
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n=== %s ===\n' "$*"; }

step "install local emulators"
eval "$(scripts/install-emulators.sh all | grep '^SHOPSTREAM_' | sed 's/^/export /')"

step "format"
cargo fmt --all --check

step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests (unit, property, handlers against emulators)"
cargo test --workspace --locked

step "infrastructure (cfn-lint, sam validate, checkov, HCL parse, SAM/Terraform parity)"
scripts/check-infra.sh

if [[ "${FUZZ_SECONDS:-60}" != "0" ]]; then
  step "fuzz decoders for ${FUZZ_SECONDS:-60}s"
  scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
fi

step "all checks passed"
