#!/usr/bin/env bash
# Resolve the Apache Kafka broker jars from Maven Central into
#   $SHOPPULSE_CACHE_DIR/kafka-$KAFKA_VERSION/libs
# using deploy/maven/pom.xml and a Maven repository kept under the cache dir.
# A completion marker (tied to the version and the pom) makes later runs a no-op
# that needs no network.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

POM="$SHOPPULSE_REPO/deploy/maven/pom.xml"
MARKER="$KAFKA_LIBS/.complete"
want="kafka=$KAFKA_VERSION pom=$(sha256sum "$POM" | cut -d' ' -f1)"

if [[ -f "$MARKER" && "$(cat "$MARKER")" == "$want" ]]; then
    log "Kafka $KAFKA_VERSION jars already in $KAFKA_LIBS"
    exit 0
fi

command -v java >/dev/null 2>&1 || die "java not found (Kafka needs Java 17+)"
command -v mvn >/dev/null 2>&1 || ensure_apt_package mvn maven

log "fetching Kafka $KAFKA_VERSION jars with Maven (one-time, into $KAFKA_HOME)"
mkdir -p "$KAFKA_HOME" "$SHOPPULSE_CACHE_DIR/m2"
tmp="$(mktemp -d "$KAFKA_HOME/libs.tmp.XXXXXX")"
mvn_log="$KAFKA_HOME/mvn.log"
start=$SECONDS
if ! mvn -B -q -f "$POM" \
        -Dkafka.version="$KAFKA_VERSION" \
        -Dmaven.repo.local="$SHOPPULSE_CACHE_DIR/m2" \
        dependency:copy-dependencies \
        -DincludeScope=runtime \
        -DoutputDirectory="$tmp" >"$mvn_log" 2>&1; then
    tail -n 40 "$mvn_log" >&2 || true
    rm -rf "$tmp"
    die "Maven could not resolve Kafka $KAFKA_VERSION (full log: $mvn_log)"
fi
ls "$tmp"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null 2>&1 \
    || { rm -rf "$tmp"; die "kafka_2.13-$KAFKA_VERSION.jar missing after Maven run (log: $mvn_log)"; }

rm -rf "$KAFKA_LIBS"
mv "$tmp" "$KAFKA_LIBS"
printf '%s\n' "$want" >"$MARKER"
log "Kafka $KAFKA_VERSION: $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars in $((SECONDS - start))s"
