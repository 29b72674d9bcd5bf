# shellcheck shell=bash disable=SC2034
# Shared settings and helpers for the local run/test scripts. Source it:
#   source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
#
# Settings (environment overrides):
#   SHOPPULSE_RUN_DIR     runtime state: pid files, logs, Kafka/Redis data (default <repo>/.run)
#   SHOPPULSE_CACHE_DIR   downloads: Kafka jars, local Maven repo (default <repo>/.cache)
#   SHOPPULSE_KAFKA_PORT  Kafka PLAINTEXT listener (default 19092); controller = port + 1
#   SHOPPULSE_REDIS_PORT  Redis port (default 16379)
#   KAFKA_VERSION         org.apache.kafka:kafka_2.13 version (default 4.1.1)
#   SHOPPULSE_KAFKA_HEAP  broker heap (default 512m)

SHOPPULSE_LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SHOPPULSE_REPO="$(cd "$SHOPPULSE_LOCAL_DIR/../.." && pwd)"

SHOPPULSE_RUN_DIR="${SHOPPULSE_RUN_DIR:-$SHOPPULSE_REPO/.run}"
SHOPPULSE_CACHE_DIR="${SHOPPULSE_CACHE_DIR:-$SHOPPULSE_REPO/.cache}"
SHOPPULSE_KAFKA_PORT="${SHOPPULSE_KAFKA_PORT:-19092}"
SHOPPULSE_KAFKA_CONTROLLER_PORT="$((SHOPPULSE_KAFKA_PORT + 1))"
SHOPPULSE_REDIS_PORT="${SHOPPULSE_REDIS_PORT:-16379}"
SHOPPULSE_KAFKA_HEAP="${SHOPPULSE_KAFKA_HEAP:-512m}"
KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"

SHOPPULSE_VENV="$SHOPPULSE_REPO/.venv"
SHOPPULSE_PYTHON="$SHOPPULSE_VENV/bin/python"
KAFKA_HOME="$SHOPPULSE_CACHE_DIR/kafka-$KAFKA_VERSION"
KAFKA_LIBS="$KAFKA_HOME/libs"
KAFKA_RUN_DIR="$SHOPPULSE_RUN_DIR/kafka"
KAFKA_PID_FILE="$SHOPPULSE_RUN_DIR/kafka.pid"
KAFKA_LOG_FILE="$SHOPPULSE_RUN_DIR/kafka.log"
REDIS_RUN_DIR="$SHOPPULSE_RUN_DIR/redis"
REDIS_PID_FILE="$SHOPPULSE_RUN_DIR/redis.pid"
REDIS_LOG_FILE="$SHOPPULSE_RUN_DIR/redis.log"

export SHOPPULSE_RUN_DIR SHOPPULSE_CACHE_DIR SHOPPULSE_KAFKA_PORT SHOPPULSE_REDIS_PORT KAFKA_VERSION

log() { printf '[shoppulse] %s\n' "$*" >&2; }
warn() { printf '[shoppulse] WARNING: %s\n' "$*" >&2; }
die() { printf '[shoppulse] ERROR: %s\n' "$*" >&2; exit 1; }

# port_open HOST PORT -> 0 when something accepts TCP connections there.
port_open() {
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# wait_for_port HOST PORT TIMEOUT_SECONDS [PID]
# Waits until HOST:PORT accepts connections. Fails after the timeout, or at once
# when PID (optional) is given and that process has died.
wait_for_port() {
    local host="$1" port="$2" timeout="$3" pid="${4:-}"
    local deadline=$((SECONDS + timeout))
    while ! port_open "$host" "$port"; do
        if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
            warn "process $pid exited while waiting for $host:$port"
            return 1
        fi
        if ((SECONDS >= deadline)); then
            warn "timed out after ${timeout}s waiting for $host:$port"
            return 1
        fi
        sleep 0.2
    done
}

# pid_alive PIDFILE -> prints the pid and returns 0 when the process is running.
pid_alive() {
    local pid
    [[ -f "$1" ]] || return 1
    pid="$(tr -dc '0-9' <"$1")"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
    printf '%s\n' "$pid"
}

# stop_pid NAME PIDFILE [TIMEOUT_SECONDS]: TERM, wait (bounded), then KILL.
stop_pid() {
    local name="$1" pidfile="$2" timeout="${3:-30}" pid deadline
    if ! pid="$(pid_alive "$pidfile")"; then
        rm -f "$pidfile"
        return 0
    fi
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + timeout))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            warn "$name (pid $pid) did not stop within ${timeout}s, killing it"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.2
    done
    rm -f "$pidfile"
    log "$name stopped"
}

# apt_install PACKAGE...: install Debian packages (apt-get update only when needed).
apt_install() {
    local sudo=()
    if [[ "$(id -u)" != 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "cannot install Debian package(s) $* without root; install them first"
        sudo=(sudo)
    fi
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install $* by hand"
    log "installing Debian package(s): $*"
    export DEBIAN_FRONTEND=noninteractive
    if ! "${sudo[@]}" apt-get install -y -q "$@" >/dev/null 2>&1; then
        log "apt-get install failed, running apt-get update first"
        "${sudo[@]}" apt-get update -q >/dev/null || die "apt-get update failed"
        "${sudo[@]}" apt-get install -y -q "$@" >/dev/null || die "could not install Debian package(s): $*"
    fi
}

# ensure_apt_package BINARY PACKAGE: install the Debian PACKAGE when BINARY is not on PATH.
ensure_apt_package() {
    local binary="$1" package="$2"
    command -v "$binary" >/dev/null 2>&1 && return 0
    log "$binary not found"
    apt_install "$package"
    hash -r
    command -v "$binary" >/dev/null 2>&1 || die "'$package' is installed but $binary is still not on PATH"
}
