#!/usr/bin/env bash
# Create .venv (when missing) and install the project editable with its test
# extras. The install is skipped while pyproject.toml is unchanged since the last
# successful install (hash kept in .venv).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PYTHON_BIN="${SHOPPULSE_PYTHON_BIN:-python3}"
MARKER="$SHOPPULSE_VENV/.shoppulse-install.sha256"

if [[ ! -x "$SHOPPULSE_PYTHON" ]]; then
    command -v "$PYTHON_BIN" >/dev/null 2>&1 || die "$PYTHON_BIN not found (need Python 3.11 or 3.12)"
    if ! "$PYTHON_BIN" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        apt_install python3-venv
    fi
    log "creating virtualenv $SHOPPULSE_VENV"
    "$PYTHON_BIN" -m venv "$SHOPPULSE_VENV" || die "could not create $SHOPPULSE_VENV (Debian: apt-get install python3-venv)"
fi

want="$( { sha256sum "$SHOPPULSE_REPO/pyproject.toml" | cut -d' ' -f1; "$SHOPPULSE_PYTHON" -VV; } | sha256sum | cut -d' ' -f1)"
if [[ -f "$MARKER" && "$(cat "$MARKER")" == "$want" ]]; then
    exit 0
fi

log "installing shoppulse (editable, with test extras) into $SHOPPULSE_VENV"
pip_log="$SHOPPULSE_VENV/pip-install.log"
start=$SECONDS
if ! (cd "$SHOPPULSE_REPO" && "$SHOPPULSE_PYTHON" -m pip install --disable-pip-version-check -q -e '.[test]') \
        >"$pip_log" 2>&1; then
    tail -n 40 "$pip_log" >&2 || true
    rm -f "$MARKER"
    die "pip install failed (full log: $pip_log)"
fi
printf '%s\n' "$want" >"$MARKER"
log "python environment ready ($((SECONDS - start))s)"
