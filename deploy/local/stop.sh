#!/usr/bin/env bash
# Stop the local services by pid: stop.sh [kafka|redis|all] (default: all).
# TERM first, KILL after a bounded wait. Quiet and successful when nothing runs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

stop_kafka() { stop_pid kafka "$KAFKA_PID_FILE" "${SHOPPULSE_KAFKA_STOP_TIMEOUT:-60}"; }
stop_redis() { stop_pid redis "$REDIS_PID_FILE" "${SHOPPULSE_REDIS_STOP_TIMEOUT:-20}"; }

case "${1:-all}" in
    kafka) stop_kafka ;;
    redis) stop_redis ;;
    all) stop_redis; stop_kafka ;;
    -h|--help) echo "usage: $0 [kafka|redis|all]"; exit 0 ;;
    *) die "usage: $0 [kafka|redis|all]" ;;
esac
