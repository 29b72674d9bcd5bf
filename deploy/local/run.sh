#!/usr/bin/env bash
# Local demo: Kafka + Redis, one ShopPulse worker and the event simulator.
#   bash deploy/local/run.sh [extra args for `shoppulse simulate`]
# Ctrl-C stops the simulator, the worker and the services this script started.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

WORKER_PID_FILE="$SHOPPULSE_RUN_DIR/worker.pid"
WORKER_LOG_FILE="$SHOPPULSE_RUN_DIR/worker.log"
WEB_PORT="${SHOPPULSE_WEB_PORT:-6066}"

started=()
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    [[ -n "${sim_pid:-}" ]] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
    stop_pid worker "$WORKER_PID_FILE" 30
    local svc
    for svc in "${started[@]}"; do
        bash "$SHOPPULSE_LOCAL_DIR/stop.sh" "$svc"
    done
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bash "$SHOPPULSE_LOCAL_DIR/setup-python.sh"
pid_alive "$KAFKA_PID_FILE" >/dev/null || started+=(kafka)
bash "$SHOPPULSE_LOCAL_DIR/kafka-start.sh"
pid_alive "$REDIS_PID_FILE" >/dev/null || started+=(redis)
bash "$SHOPPULSE_LOCAL_DIR/redis-start.sh"

export SHOPPULSE_KAFKA_BOOTSTRAP="127.0.0.1:$SHOPPULSE_KAFKA_PORT"
export SHOPPULSE_REDIS_URL="redis://127.0.0.1:$SHOPPULSE_REDIS_PORT/0"

if pid="$(pid_alive "$WORKER_PID_FILE")"; then
    die "a worker is already running (pid $pid); stop it first: kill $pid"
fi
[[ -f "$WORKER_LOG_FILE" ]] && mv -f "$WORKER_LOG_FILE" "$WORKER_LOG_FILE.1"
log "starting worker (log: $WORKER_LOG_FILE)"
cd "$SHOPPULSE_REPO"
# shellcheck disable=SC2016
setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$WORKER_PID_FILE" \
    "$SHOPPULSE_VENV/bin/shoppulse" worker </dev/null >"$WORKER_LOG_FILE" 2>&1 &
for _ in $(seq 50); do [[ -s "$WORKER_PID_FILE" ]] && break; sleep 0.1; done
worker_pid="$(cat "$WORKER_PID_FILE")"
wait_for_port 127.0.0.1 "$WEB_PORT" 120 "$worker_pid" \
    || { tail -n 30 "$WORKER_LOG_FILE" >&2; die "worker did not open port $WEB_PORT (log: $WORKER_LOG_FILE)"; }

log "worker up (pid $worker_pid)"
log "  metrics: http://127.0.0.1:$WEB_PORT/metrics"
log "  KPIs:    http://127.0.0.1:$WEB_PORT/kpis"
log "simulating events (Ctrl-C to stop everything)"
# In the background and waited for, so that a TERM to this script stops everything at once.
"$SHOPPULSE_VENV/bin/shoppulse" simulate --backfill 40m --rate 10 "$@" &
sim_pid=$!
wait "$sim_pid"
