#!/usr/bin/env bash
# Start the local Kafka broker and Redis (each is a no-op when already running).
# Stop them with deploy/local/stop.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

bash "$SHOPPULSE_LOCAL_DIR/kafka-start.sh"
bash "$SHOPPULSE_LOCAL_DIR/redis-start.sh"
log "services up: SHOPPULSE_KAFKA_BOOTSTRAP=127.0.0.1:$SHOPPULSE_KAFKA_PORT SHOPPULSE_REDIS_URL=redis://127.0.0.1:$SHOPPULSE_REDIS_PORT/0"
