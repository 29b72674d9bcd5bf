#!/usr/bin/env bash
# The test command for developers and CI:
#   bash deploy/local/test.sh [pytest args...]
# Sets up .venv, installs the tools the tests call (promtool, amtool), starts the local
# Kafka broker and Redis, runs pytest against them and stops again whatever it
# started itself. Services that were already running (deploy/local/services-up.sh)
# are left running, which makes repeated runs faster. Exits with pytest's code.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

started=()
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    local svc
    for svc in "${started[@]}"; do
        bash "$SHOPPULSE_LOCAL_DIR/stop.sh" "$svc"
    done
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

t0=$SECONDS
bash "$SHOPPULSE_LOCAL_DIR/setup-python.sh"
ensure_apt_package promtool prometheus
ensure_apt_package amtool prometheus-alertmanager

pid_alive "$KAFKA_PID_FILE" >/dev/null || started+=(kafka)
bash "$SHOPPULSE_LOCAL_DIR/kafka-start.sh"
pid_alive "$REDIS_PID_FILE" >/dev/null || started+=(redis)
bash "$SHOPPULSE_LOCAL_DIR/redis-start.sh"

export SHOPPULSE_KAFKA_BOOTSTRAP="127.0.0.1:$SHOPPULSE_KAFKA_PORT"
export SHOPPULSE_REDIS_URL="redis://127.0.0.1:$SHOPPULSE_REDIS_PORT/0"
log "setup took $((SECONDS - t0))s; running pytest (Kafka $SHOPPULSE_KAFKA_BOOTSTRAP, Redis $SHOPPULSE_REDIS_URL)"

cd "$SHOPPULSE_REPO"
set +e
"$SHOPPULSE_PYTHON" -m pytest "$@"
rc=$?
set -e
log "pytest exited with $rc"
exit "$rc"
