#!/usr/bin/env bash
# DataFusion (`shopstream transform`) and Spark (jobs/spark/run_models.py on local[2]) on the
# same generated silver batch, alternating; wall and CPU time of each and their ratio.
#   scripts/bench-engines.sh [EVENTS=1000000] [ROUNDS=2]
# Builds the release CLI (or uses SHOPSTREAM_BIN) and installs pyspark into the project venv.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/install-emulators.sh spark | grep '^SHOPSTREAM_' | sed 's/^/export /')"
if [[ -z "${SHOPSTREAM_BIN:-}" ]]; then
  cargo build --release --locked -p shopstream-cli
  export SHOPSTREAM_BIN="$PWD/target/release/shopstream"
fi
exec "$SHOPSTREAM_PYTHON" scripts/bench-engines.py "$@"
