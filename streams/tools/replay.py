"""`shoppulse replay`: write the events of a JSONL file to Kafka, keeping their event time."""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from datetime import datetime

import orjson
from kafka.errors import KafkaError

from streams.tools import simulator
from streams.tools.kafka_io import EventWriter, Progress, ensure_topics, make_producer
from streams.tools.simulate import resolve_bootstrap

RECOMMENDED_KEYS = ("session_id", "order_id", "conversation_id", "ticket_id")
_WRAPPER_PREFIX = b'{"topic":"'
_WARN_MAX = 5


@dataclass(slots=True)
class Line:
    """One input line, ready to send.

    `event` holds one CloudEvent's JSON bytes (batchable); otherwise `raw` holds bytes
    sent unchanged in a message of their own (a batch array, or text that is not JSON).
    """

    topic: str | None
    key: str | None
    timestamp_ms: int | None
    event: bytes | None = None
    raw: bytes | None = None
    events: int = 1  # CloudEvents the line holds (0 for text that is not JSON)


def parse_line(line: bytes, default_topic: str | None) -> Line | None:
    """Decode one line: a `{"topic", "key", "event"}` wrapper, a bare CloudEvent, a
    JSON array of CloudEvents, or anything else (kept as raw bytes). None if blank."""
    line = line.strip()
    if not line:
        return None
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return Line(default_topic, None, None, raw=line, events=0)
    if isinstance(obj, dict) and "event" in obj and isinstance(obj.get("topic"), str):
        key = obj.get("key")
        inner = obj["event"]
        if isinstance(inner, dict):
            return Line(obj["topic"], key if isinstance(key, str) else None,
                        event_time_ms(inner), event=orjson.dumps(inner))
        return Line(obj["topic"], None, _first_time_ms(inner), raw=orjson.dumps(inner),
                    events=len(inner) if isinstance(inner, list) else 1)
    if isinstance(obj, dict):
        return Line(default_topic, recommended_key(obj), event_time_ms(obj), event=line)
    if isinstance(obj, list):
        return Line(default_topic, None, _first_time_ms(obj), raw=line, events=len(obj))
    return Line(default_topic, None, None, raw=line)


def event_time_ms(event: dict) -> int | None:
    value = event.get("time")
    if not isinstance(value, str):
        return None
    try:
        return int(datetime.fromisoformat(value).timestamp() * 1000)
    except ValueError:
        return None


def recommended_key(event: dict) -> str | None:
    """The key events.md recommends: the session, order, conversation or ticket id."""
    data = event.get("data")
    if isinstance(data, dict):
        for field in RECOMMENDED_KEYS:
            value = data.get(field)
            if isinstance(value, str):
                return value
    return None


def _first_time_ms(value) -> int | None:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return event_time_ms(value[0])
    return None


def scan(path: str) -> tuple[int, set[str]]:
    """Count the non-blank lines and collect the topics named by wrapper lines."""
    lines, topics = 0, set()
    with open(path, "rb") as f:
        for line in f:
            if not line.strip():
                continue
            lines += 1
            if line.startswith(_WRAPPER_PREFIX):
                end = line.find(b'"', len(_WRAPPER_PREFIX))
                if end > 0:
                    topics.add(line[len(_WRAPPER_PREFIX):end].decode("utf-8", "replace"))
    return lines, topics


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Write every line of a JSONL file to Kafka. A line is either "
        '{"topic": ..., "key": ..., "event": {...}} (as written by `simulate --out`) or, '
        "with --topic, a bare CloudEvent or JSON array of CloudEvents. Events are sent "
        "unchanged, with the Kafka record timestamp set to their event time. Lines that "
        "are not valid JSON are still sent, as raw bytes, to --topic (skipped with a "
        "warning without one): the worker dead-letters them.")
    parser.add_argument("file", help="the JSONL file to replay")
    parser.add_argument("--bootstrap", metavar="HOST:PORT",
                        help="Kafka bootstrap servers (default: $SHOPPULSE_KAFKA_BOOTSTRAP "
                             "or 127.0.0.1:19092)")
    parser.add_argument("--topic", metavar="TOPIC",
                        help="topic for lines that name none (bare events, arrays, non-JSON)")
    parser.add_argument("--batch", type=int, default=1, metavar="N",
                        help="pack up to N consecutive events of a topic into one JSON array "
                             "message (CloudEvents batch, no key); default 1")
    parser.add_argument("--rate", type=float, default=0.0, metavar="EVENTS_PER_S",
                        help="at most this many events per second (default 0 = as fast as "
                             "possible)")
    parser.add_argument("--record-time", choices=("event", "now"), default="event",
                        help="Kafka record timestamp: the event time (default) or the send "
                             "time. Note: the broker's retention deletes records whose "
                             "timestamp is older than retention.ms soon after the write")


def run_replay(args: argparse.Namespace) -> int:
    if args.batch < 1 or args.rate < 0:
        return _fail("--batch must be >= 1 and --rate >= 0")
    bootstrap = resolve_bootstrap(args.bootstrap)
    try:
        total, topics = scan(args.file)
    except OSError as exc:
        return _fail(f"cannot read {args.file}: {exc}")
    if args.topic:
        topics.add(args.topic)
    try:
        ensure_topics(bootstrap, {t: simulator.DEFAULT_PARTITIONS.get(t, 4) for t in topics})
        writer = EventWriter(make_producer(bootstrap), batch=args.batch)
    except KafkaError as exc:
        return _fail(f"cannot reach Kafka at {bootstrap}: {exc!r}")
    progress = Progress(total, "replay", unit="lines")
    started = time.monotonic()
    skipped = raw_invalid = 0
    try:
        with open(args.file, "rb") as f:
            for raw_line in f:
                item = parse_line(raw_line, args.topic)
                if item is None:
                    continue
                progress.update()
                if item.topic is None:
                    skipped += 1
                    if skipped <= _WARN_MAX:
                        print(f"\nreplay: no topic for line {progress.count} (use --topic); "
                              "skipped", file=sys.stderr)
                    continue
                ts = item.timestamp_ms if args.record_time == "event" else None
                if item.event is not None:
                    writer.write_event_bytes(item.topic, item.key, item.event, ts)
                else:
                    raw_invalid += item.events == 0
                    writer.write_raw(item.topic, item.key, item.raw, ts, events=item.events)
                if args.rate:
                    _pace(started, writer.events, args.rate, progress)
    except KeyboardInterrupt:
        print("\nreplay: interrupted, flushing", file=sys.stderr)
    finally:
        progress.close()
        writer.close()
    seconds = time.monotonic() - started
    print(f"replay: {writer.events:,} events in {writer.messages:,} messages, "
          f"{raw_invalid:,} non-JSON lines sent raw, {skipped:,} lines skipped, "
          f"{seconds:.1f} s, {writer.events / max(seconds, 1e-9):,.0f} events/s")
    if writer.failed:
        return _fail(f"{writer.failed:,} messages failed, first: {writer.first_error!r}")
    return 0


def _pace(started: float, events: int, rate: float, progress: Progress) -> None:
    wait = started + events / rate - time.monotonic()
    while wait > 0:
        time.sleep(min(wait, 0.5))
        progress.tick()
        wait = started + events / rate - time.monotonic()


def _fail(message: str) -> int:
    print(f"replay: {message}", file=sys.stderr)
    return 2
