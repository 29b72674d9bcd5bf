#!/usr/bin/env bash
# Start Redis (Debian redis-server, installed when missing) on
# 127.0.0.1:$SHOPPULSE_REDIS_PORT with its own dir under $SHOPPULSE_RUN_DIR/redis,
# no persistence. Idempotent: exits 0 when it is already running.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

START_TIMEOUT="${SHOPPULSE_REDIS_START_TIMEOUT:-30}"

if pid="$(pid_alive "$REDIS_PID_FILE")"; then
    log "Redis already running (pid $pid) on 127.0.0.1:$SHOPPULSE_REDIS_PORT"
    exit 0
fi
rm -f "$REDIS_PID_FILE"
if port_open 127.0.0.1 "$SHOPPULSE_REDIS_PORT"; then
    die "port $SHOPPULSE_REDIS_PORT is already in use by another process; stop it or set SHOPPULSE_REDIS_PORT"
fi

ensure_apt_package redis-server redis-server
ensure_apt_package redis-cli redis-tools

mkdir -p "$REDIS_RUN_DIR"
[[ -f "$REDIS_LOG_FILE" ]] && mv -f "$REDIS_LOG_FILE" "$REDIS_LOG_FILE.1"
log "starting Redis on 127.0.0.1:$SHOPPULSE_REDIS_PORT (log: $REDIS_LOG_FILE)"
start=$SECONDS
# No config file: everything on the command line. The server daemonizes itself
# and writes its pid file.
redis-server \
    --bind 127.0.0.1 --port "$SHOPPULSE_REDIS_PORT" --protected-mode yes \
    --dir "$REDIS_RUN_DIR" --save '' --appendonly no \
    --daemonize yes --pidfile "$REDIS_PID_FILE" --logfile "$REDIS_LOG_FILE" \
    --databases 16 </dev/null >/dev/null 2>&1 \
    || die "redis-server failed to start (see $REDIS_LOG_FILE)"

deadline=$((SECONDS + START_TIMEOUT))
until [[ "$(redis-cli -h 127.0.0.1 -p "$SHOPPULSE_REDIS_PORT" ping 2>/dev/null || true)" == PONG ]]; do
    if ((SECONDS >= deadline)); then
        tail -n 20 "$REDIS_LOG_FILE" >&2 || true
        stop_pid redis "$REDIS_PID_FILE" 5
        die "Redis did not answer PING within ${START_TIMEOUT}s (log: $REDIS_LOG_FILE)"
    fi
    sleep 0.1
done
for _ in $(seq 50); do [[ -s "$REDIS_PID_FILE" ]] && break; sleep 0.1; done
pid="$(pid_alive "$REDIS_PID_FILE")" || die "Redis answers but wrote no pid file ($REDIS_PID_FILE)"
log "Redis ready on 127.0.0.1:$SHOPPULSE_REDIS_PORT (pid $pid, $((SECONDS - start))s)"
