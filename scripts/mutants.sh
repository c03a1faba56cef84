#!/usr/bin/env bash
# Mutation testing of the core rule modules of `shopstream` (shared/): cargo-mutants changes
# one operator, constant or return value at a time and runs the library's unit tests; a
# mutant the tests still pass with is "missed". Prints the score per module and exits 1 when
# a module is below MUTANTS_MIN_SCORE (default 95) % caught of its viable mutants.
#   scripts/mutants.sh                 all modules: money fraud validate clean contact geo
#                                      timestamp dedupe lake
#   scripts/mutants.sh money fraud     only these
# Environment: MUTANTS_JOBS (default 1), MUTANTS_TIMEOUT seconds per mutant's test run
# (default 120), MUTANTS_MIN_SCORE (default 95), MUTANTS_TARGET_DIR (default
# target/mutants-build). Results: target/mutants/<module>/mutants.out.
# Installs cargo-mutants from crates.io if it is missing. Mutants the tests cannot tell apart
# from the original (equivalent mutants) are excluded in .cargo/mutants.toml, each with why.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

all_modules=(money fraud validate clean contact geo timestamp dedupe lake)
modules=("$@")
[[ ${#modules[@]} -gt 0 ]] || modules=("${all_modules[@]}")
for module in "${modules[@]}"; do
  if [[ ! " ${all_modules[*]} " =~ " ${module} " ]]; then
    echo "[mutants] unknown module '$module' (one of: ${all_modules[*]})" >&2
    exit 2
  fi
done

jobs="${MUTANTS_JOBS:-1}"
timeout="${MUTANTS_TIMEOUT:-120}"
min_score="${MUTANTS_MIN_SCORE:-95}"

if ! cargo mutants --version >/dev/null 2>&1; then
  echo "[mutants] installing cargo-mutants" >&2
  cargo install cargo-mutants --locked --quiet
fi

# cargo-mutants builds a copy of the tree. One persistent target directory for those copies
# (MUTANTS_TARGET_DIR) compiles the dependencies once, on the first run, instead of once per
# module; it is not this tree's own target/debug, so building here meanwhile cannot mix
# this tree's artifacts into a mutant's.
export CARGO_TARGET_DIR="${MUTANTS_TARGET_DIR:-$PWD/target/mutants-build}"

# Lines in a result file (0 when it is empty or absent).
count() {
  local lines=0
  [[ -f "$1" ]] && lines=$(grep -c . "$1" || true)
  echo "${lines:-0}"
}

summary=()
failed=0
for module in "${modules[@]}"; do
  out="target/mutants/$module"
  rm -rf "$out"
  mkdir -p "$out"
  echo "[mutants] $module" >&2
  status=0
  # Only the unit tests of the library (`--lib`): they are the tests of these rules.
  cargo mutants --package shopstream \
    --file "shared/src/$module.rs" --file "shared/src/$module/*.rs" \
    --jobs "$jobs" --timeout "$timeout" --output "$out" \
    -- --lib || status=$?
  # 0: all caught; 2: some missed; 3: some timed out. Anything else is a failure to run.
  if [[ $status -ne 0 && $status -ne 2 && $status -ne 3 ]]; then
    echo "[mutants] cargo mutants failed on $module (exit $status)" >&2
    exit "$status"
  fi
  results="$out/mutants.out"
  caught=$(count "$results/caught.txt")
  missed=$(count "$results/missed.txt")
  timeouts=$(count "$results/timeout.txt")
  unviable=$(count "$results/unviable.txt")
  viable=$((caught + missed + timeouts))
  if [[ $viable -gt 0 ]]; then
    score=$(awk -v c="$caught" -v v="$viable" 'BEGIN { printf "%.1f", 100 * c / v }')
  else
    score="100.0"
  fi
  if awk -v s="$score" -v m="$min_score" 'BEGIN { exit !(s < m) }'; then
    failed=1
  fi
  summary+=("$(printf '%-10s %7d %7d %7d %8d %8d %7s%%' "$module" "$viable" "$caught" "$missed" \
    "$timeouts" "$unviable" "$score")")
  if [[ $missed -gt 0 ]]; then
    sed 's/^/  missed: /' "$results/missed.txt" >&2
  fi
done

printf '\n%-10s %7s %7s %7s %8s %8s %8s\n' module viable caught missed timeout unviable score
printf '%s\n' "${summary[@]}"
if [[ $failed -ne 0 ]]; then
  echo "[mutants] a module is below ${min_score}% caught" >&2
  exit 1
fi
