#!/usr/bin/env bash
# Installs the local emulators shopstream's tests and `shopstream run` use, idempotently:
#   - moto server (S3, Kinesis, DynamoDB + Streams, EventBridge, SQS, ...) in a project venv,
#     plus pyarrow (independent Parquet reader used by tests);
#   - pyspark in the same venv (the EMR job's engine, run on local[2] with the machine's Java 17
#     by the conformance test and the benchmark);
#   - tansu, a Kafka-protocol broker, built from crates.io (slow the first time; cached).
# Everything goes under $SHOPSTREAM_CACHE (default ~/.cache/shopstream) so fresh clones on the
# same machine reuse it. Prints the paths it installed as KEY=VALUE lines at the end.
set -euo pipefail

CACHE="${SHOPSTREAM_CACHE:-$HOME/.cache/shopstream}"
VENV="$CACHE/venv"
TANSU_ROOT="$CACHE/tansu"
MOTO_VERSION="${MOTO_VERSION:-5.2.5}"
PYARROW_VERSION="${PYARROW_VERSION:-26.0.1}"
TANSU_VERSION="${TANSU_VERSION:-0.6.0}"
# The Spark line EMR 7.x releases run; Spark 3.5 supports Java 17.
PYSPARK_VERSION="${PYSPARK_VERSION:-3.5.5}"
mkdir -p "$CACHE"

log() { echo "[install-emulators] $*" >&2; }

install_venv() {
  local stamp="$VENV/.shopstream-moto-$MOTO_VERSION-pyarrow-$PYARROW_VERSION"
  if [[ -f "$stamp" ]]; then
    log "moto $MOTO_VERSION already in $VENV"
    return
  fi
  log "creating venv $VENV with moto[server]==$MOTO_VERSION pyarrow==$PYARROW_VERSION"
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    # Debian/Ubuntu ship venv support separately.
    rm -rf "$VENV"
    log "python3 -m venv failed; installing python3-venv"
    if [[ $(id -u) -eq 0 ]]; then
      apt-get update -qq && apt-get install -y -qq python3-venv
    else
      sudo apt-get update -qq && sudo apt-get install -y -qq python3-venv
    fi
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "moto[server]==$MOTO_VERSION" "pyarrow==$PYARROW_VERSION"
  touch "$stamp"
}

install_spark() {
  local stamp="$VENV/.shopstream-pyspark-$PYSPARK_VERSION"
  if [[ -f "$stamp" ]]; then
    log "pyspark $PYSPARK_VERSION already in $VENV"
    return
  fi
  [[ -x "$VENV/bin/pip" ]] || install_venv
  if ! command -v java >/dev/null 2>&1; then
    log "no java on PATH; installing Debian's openjdk-17-jre-headless"
    if [[ $(id -u) -eq 0 ]]; then
      apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless
    else
      sudo apt-get update -qq && sudo apt-get install -y -qq openjdk-17-jre-headless
    fi
  fi
  log "installing pyspark==$PYSPARK_VERSION into $VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "pyspark==$PYSPARK_VERSION"
  touch "$stamp"
}

install_tansu() {
  if [[ -x "$TANSU_ROOT/bin/tansu" ]] && [[ -f "$TANSU_ROOT/.version-$TANSU_VERSION" ]]; then
    log "tansu $TANSU_VERSION already in $TANSU_ROOT"
    return
  fi
  log "building tansu $TANSU_VERSION from crates.io (takes ~10 minutes the first time)"
  # Its own target dir so it never contends with the workspace's lock.
  CARGO_TARGET_DIR="$CACHE/tansu-build" cargo install tansu --version "$TANSU_VERSION" --locked \
    --no-default-features --features dynostore --root "$TANSU_ROOT" --quiet
  rm -rf "$CACHE/tansu-build"
  touch "$TANSU_ROOT/.version-$TANSU_VERSION"
}

what="${1:-all}"
case "$what" in
  moto) install_venv ;;
  spark) install_spark ;;
  tansu) install_tansu ;;
  all) install_venv; install_spark; install_tansu ;;
  *) echo "usage: $0 [all|moto|spark|tansu]" >&2; exit 2 ;;
esac

echo "SHOPSTREAM_MOTO_BIN=$VENV/bin/moto_server"
echo "SHOPSTREAM_PYTHON=$VENV/bin/python"
echo "SHOPSTREAM_TANSU_BIN=$TANSU_ROOT/bin/tansu"
echo "SHOPSTREAM_JAVA=$(command -v java || true)"
