#!/usr/bin/env bash
# Installs the local emulators shopstream's tests and `shopstream run` use, idempotently:
#   - moto server (S3, Kinesis, DynamoDB + Streams, EventBridge, SQS, ...) in a project venv,
#     plus pyarrow (independent Parquet reader used by tests);
#   - pyspark in the same venv (the EMR job's engine, run on local[2] with the machine's Java 17
#     by the conformance test and the benchmark);
#   - tansu, a Kafka-protocol broker, built from crates.io (slow the first time; cached);
#   - PostgreSQL >= 15 (MERGE), Debian's package `postgresql`, on which the tests execute the
#     warehouse SQL (and `shopstream run` keeps its local warehouse), and (as root) the
#     unprivileged user `shopstream-pg` they run it as;
#   - Chromium, Debian's package `chromium`, in which a test opens the run's HTML report.
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

PG_OS_USER="${SHOPSTREAM_PG_OS_USER:-shopstream-pg}"

# Prints the bin directory of an installed PostgreSQL >= 15 server, or nothing.
postgres_bindir() {
  local dir version
  for dir in "$(pg_config --bindir 2>/dev/null || true)" $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -rn); do
    [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/postgres" ]] || continue
    version="$("$dir/postgres" --version 2>/dev/null | sed -n 's/.*(PostgreSQL) \([0-9]*\).*/\1/p')"
    if [[ -n "$version" && "$version" -ge 15 ]]; then
      echo "$dir"
      return
    fi
  done
}

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

install_postgres() {
  if [[ -z "$(postgres_bindir)" ]]; then
    log "installing Debian package postgresql (>= 15)"
    # No cluster on port 5432 from the package's post-install: tests start their own servers.
    as_root mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" |
      as_root tee /etc/postgresql-common/createcluster.d/shopstream-no-main-cluster.conf >/dev/null
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql
  fi
  if [[ -z "$(postgres_bindir)" ]]; then
    log "error: no PostgreSQL >= 15 after installing the postgresql package"
    exit 1
  fi
  log "PostgreSQL server in $(postgres_bindir)"
  # PostgreSQL refuses to run as root; tests running as root start it as this user.
  if [[ $(id -u) -eq 0 ]] && ! id "$PG_OS_USER" >/dev/null 2>&1; then
    log "creating system user $PG_OS_USER to run test PostgreSQL servers"
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$PG_OS_USER"
  fi
}

chromium_bin() {
  command -v chromium || command -v chromium-browser || true
}

install_chromium() {
  if [[ -z "$(chromium_bin)" ]]; then
    log "installing Debian package chromium (headless report test)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium
  fi
  if [[ -z "$(chromium_bin)" ]]; then
    log "error: no chromium after installing the chromium package"
    exit 1
  fi
  log "Chromium at $(chromium_bin)"
}

what="${1:-all}"
case "$what" in
  moto) install_venv ;;
  spark) install_spark ;;
  tansu) install_tansu ;;
  postgres) install_postgres ;;
  chromium) install_chromium ;;
  # What `shopstream run` needs: moto and the local warehouse.
  run) install_venv; install_postgres ;;
  all) install_venv; install_spark; install_tansu; install_postgres; install_chromium ;;
  *) echo "usage: $0 [all|run|moto|spark|tansu|postgres|chromium]" >&2; exit 2 ;;
esac

echo "SHOPSTREAM_MOTO_BIN=$VENV/bin/moto_server"
echo "SHOPSTREAM_PYTHON=$VENV/bin/python"
echo "SHOPSTREAM_TANSU_BIN=$TANSU_ROOT/bin/tansu"
echo "SHOPSTREAM_PG_BINDIR=$(postgres_bindir)"
echo "SHOPSTREAM_JAVA=$(command -v java || true)"
echo "SHOPSTREAM_CHROMIUM=$(chromium_bin)"
