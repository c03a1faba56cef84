#!/usr/bin/env bash
# Starts, stops and reports the local emulators for humans and `shopstream run`:
#   moto  (S3, Kinesis, DynamoDB + Streams, EventBridge, SQS, ...) and
#   tansu (Kafka protocol, in-memory storage),
# each in the background on a free port on 127.0.0.1 only.
#
#   scripts/emulators.sh start    start what is not running; print the environment (idempotent)
#   scripts/emulators.sh stop     stop the processes this script recorded, nothing else
#   scripts/emulators.sh status   show what is running; exit 0 only if both are up
#
# State lives in .local/ of the repository (gitignored): emulators.env holds the pids and the
# KEY=VALUE environment to use them (`set -a; . .local/emulators.env; set +a`), and
# emulators/*.log the servers' output. Binaries come from scripts/install-emulators.sh
# (override with SHOPSTREAM_MOTO_BIN / SHOPSTREAM_TANSU_BIN).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="$REPO/.local"
ENV_FILE="$STATE_DIR/emulators.env"
LOG_DIR="$STATE_DIR/emulators"
CACHE="${SHOPSTREAM_CACHE:-$HOME/.cache/shopstream}"
MOTO_BIN="${SHOPSTREAM_MOTO_BIN:-$CACHE/venv/bin/moto_server}"
TANSU_BIN="${SHOPSTREAM_TANSU_BIN:-$CACHE/tansu/bin/tansu}"
STARTUP_TIMEOUT_SECONDS="${SHOPSTREAM_EMULATOR_STARTUP_TIMEOUT:-30}"

log() { echo "[emulators] $*" >&2; }
die() { log "error: $*"; exit 1; }

# Values recorded by a previous start (empty when there is none).
MOTO_PID="" MOTO_PORT="" TANSU_PID="" TANSU_PORT=""

load_state() {
  [[ -f "$ENV_FILE" ]] || return 0
  local key value
  while IFS='=' read -r key value; do
    case "$key" in
      SHOPSTREAM_MOTO_PID) MOTO_PID="$value" ;;
      SHOPSTREAM_MOTO_PORT) MOTO_PORT="$value" ;;
      SHOPSTREAM_TANSU_PID) TANSU_PID="$value" ;;
      SHOPSTREAM_TANSU_PORT) TANSU_PORT="$value" ;;
    esac
  done <"$ENV_FILE"
}

write_state() {
  local tmp="$ENV_FILE.tmp.$$"
  {
    echo "# Written by scripts/emulators.sh start; load with: set -a; . .local/emulators.env; set +a"
    echo "SHOPSTREAM_MOTO_PID=$MOTO_PID"
    echo "SHOPSTREAM_MOTO_PORT=$MOTO_PORT"
    echo "SHOPSTREAM_TANSU_PID=$TANSU_PID"
    echo "SHOPSTREAM_TANSU_PORT=$TANSU_PORT"
    echo "AWS_ENDPOINT_URL=http://127.0.0.1:$MOTO_PORT"
    echo "SHOPSTREAM_KAFKA_BOOTSTRAP=127.0.0.1:$TANSU_PORT"
    echo "AWS_REGION=us-east-1"
    echo "AWS_ACCESS_KEY_ID=testing"
    echo "AWS_SECRET_ACCESS_KEY=testing"
  } >"$tmp"
  mv "$tmp" "$ENV_FILE"
}

# True if $1 is a live process whose command line contains $2 (guards against pid reuse).
is_ours() {
  local pid="$1" needle="$2"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 0 # no procfs: trust the pid
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$needle"
}

# What the recorded servers' command lines contain: their own port (arguments end in a space).
moto_running() { [[ -n "$MOTO_PORT" ]] && is_ours "$MOTO_PID" "-p $MOTO_PORT "; }
tansu_running() { [[ -n "$TANSU_PORT" ]] && is_ours "$TANSU_PID" "tcp://127.0.0.1:$TANSU_PORT "; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_ready NAME PID PORT LOG MARKER: the child must log MARKER (it bound the port itself) and
# accept connections within the timeout.
wait_ready() {
  local name="$1" pid="$2" port="$3" logfile="$4" marker="$5"
  local deadline=$((SECONDS + STARTUP_TIMEOUT_SECONDS))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name exited during startup; last lines of $logfile:"
      tail -n 20 "$logfile" >&2 || true
      return 1
    fi
    if grep -qF -- "$marker" "$logfile" 2>/dev/null && port_open "$port"; then
      return 0
    fi
    sleep 0.2
  done
  log "$name did not become ready on 127.0.0.1:$port within ${STARTUP_TIMEOUT_SECONDS}s; last lines of $logfile:"
  tail -n 20 "$logfile" >&2 || true
  kill "$pid" 2>/dev/null || true
  return 1
}

# spawn LOGFILE CMD...: runs CMD detached in its own session with only stdin/stdout/stderr open
# (it must not hold our lock, nor a pipe of whoever ran this script); sets SPAWNED_PID.
spawn() {
  local logfile="$1"
  shift
  (
    if [[ -d "/proc/$BASHPID/fd" ]]; then
      for fd in /proc/"$BASHPID"/fd/*; do
        fd="${fd##*/}"
        if ((fd > 2)); then eval "exec $fd>&-"; fi
      done
    fi
    # Not a process-group leader (no job control), so setsid execs in place: the pid is $!.
    exec setsid "$@" >"$logfile" 2>&1 </dev/null 9>&-
  ) &
  SPAWNED_PID=$!
}

start_moto() {
  if moto_running; then
    return 0
  fi
  local port logfile="$LOG_DIR/moto.log"
  port="$(free_port)"
  spawn "$logfile" "$MOTO_BIN" -H 127.0.0.1 -p "$port"
  wait_ready moto "$SPAWNED_PID" "$port" "$logfile" "Running on http://127.0.0.1:$port" || return 1
  MOTO_PID="$SPAWNED_PID" MOTO_PORT="$port"
  log "moto started (pid $MOTO_PID) at http://127.0.0.1:$MOTO_PORT"
}

start_tansu() {
  if tansu_running; then
    return 0
  fi
  local port logfile="$LOG_DIR/tansu.log" url
  port="$(free_port)"
  url="tcp://127.0.0.1:$port"
  # env -u: tansu also reads these from the environment; the flags below must win outright.
  spawn "$logfile" env -u SCHEMA_REGISTRY -u OTEL_EXPORTER_OTLP_ENDPOINT -u DATA_LAKE \
    "$TANSU_BIN" broker --cluster-id shopstream-local --listener-url "$url" \
    --advertised-listener-url "$url" --storage-engine memory://tansu/
  wait_ready tansu "$SPAWNED_PID" "$port" "$logfile" "ready in" || return 1
  TANSU_PID="$SPAWNED_PID" TANSU_PORT="$port"
  log "tansu started (pid $TANSU_PID) at 127.0.0.1:$TANSU_PORT"
}

print_env() { grep -v '^#' "$ENV_FILE"; }

cmd_start() {
  load_state
  local missing=()
  moto_running || [[ -x "$MOTO_BIN" ]] || missing+=("moto_server ($MOTO_BIN)")
  tansu_running || [[ -x "$TANSU_BIN" ]] || missing+=("tansu ($TANSU_BIN)")
  if ((${#missing[@]})); then
    die "not installed: ${missing[*]}; run scripts/install-emulators.sh first"
  fi
  if moto_running && tansu_running; then
    log "already running"
    print_env
    return 0
  fi
  mkdir -p "$LOG_DIR"
  local ok=1
  start_moto || ok=0
  if ((ok)); then start_tansu || ok=0; fi
  if ((!ok)); then
    # Leave nothing half-started that the state file would not know about.
    moto_running || MOTO_PID=""
    tansu_running || TANSU_PID=""
    if [[ -n "$MOTO_PID$TANSU_PID" ]]; then write_state; fi
    die "could not start the emulators (logs in $LOG_DIR)"
  fi
  write_state
  print_env
}

# stop_one NAME PID CHECK: TERM, then KILL after 5 s, only if CHECK says PID is still the
# process we started.
stop_one() {
  local name="$1" pid="$2" check="$3"
  if ! "$check"; then
    [[ -z "$pid" ]] || log "$name (pid $pid) is not running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 5))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  log "$name (pid $pid) stopped"
}

cmd_stop() {
  load_state
  if [[ ! -f "$ENV_FILE" ]]; then
    log "not running (no $ENV_FILE)"
    return 0
  fi
  stop_one moto "$MOTO_PID" moto_running
  stop_one tansu "$TANSU_PID" tansu_running
  rm -f "$ENV_FILE"
}

cmd_status() {
  load_state
  local up=0
  if moto_running; then
    echo "moto:  running (pid $MOTO_PID) at http://127.0.0.1:$MOTO_PORT"
    up=$((up + 1))
  else
    echo "moto:  not running"
  fi
  if tansu_running; then
    echo "tansu: running (pid $TANSU_PID) at 127.0.0.1:$TANSU_PORT"
    up=$((up + 1))
  else
    echo "tansu: not running"
  fi
  ((up == 2)) || return 3
  echo "env:   $ENV_FILE"
}

with_lock() {
  mkdir -p "$STATE_DIR"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$STATE_DIR/emulators.lock"
    flock -w 60 9 || die "another scripts/emulators.sh is still running"
  fi
  "$@"
}

case "${1:-}" in
  start) with_lock cmd_start ;;
  stop) with_lock cmd_stop ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
