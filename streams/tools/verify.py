"""`shoppulse verify`: recompute KPIs in batch and diff them with the final snapshots on Kafka."""
from __future__ import annotations

import argparse
import heapq
import sys
import time
from typing import Iterator

import orjson
from kafka import KafkaConsumer, TopicPartition

from processors.snapshots import snapshot_key
from schemas.timestamps import parse_time
from streams.settings import Settings
from streams.tools.compute import compute_snapshots, read_messages
from streams.tools.kafka_io import Progress
from streams.topics import kafka_python_security

COMPARED = ("value", "numerator", "denominator", "unit", "window_end", "ranking")


def read_topics(settings: Settings, topics: list[str], label: str) -> Iterator[tuple[str, bytes, bytes | None, int]]:
    """(topic, key, value, timestamp ms) of every record up to the current end, merged by timestamp."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False,
                             auto_offset_reset="earliest", client_id="shoppulse-verify",
                             **kafka_python_security(settings))
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(partitions)
        per_partition: dict[TopicPartition, list] = {tp: [] for tp in partitions}
        remaining = {tp for tp in partitions if ends[tp] > consumer.position(tp)}
        progress = Progress(sum(ends.values()) or None, label)
        while remaining:
            for tp, records in consumer.poll(timeout_ms=1000).items():
                for r in records:
                    if r.offset < ends[tp]:
                        per_partition[tp].append((r.timestamp, tp.partition, r.offset, tp.topic, r.key, r.value))
                progress.update(len(records))
                if consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        progress.close()
    finally:
        consumer.close()
    for ts, _, _, topic, key, value in heapq.merge(*per_partition.values()):
        yield topic, key, value, ts


def stream_finals(settings: Settings) -> tuple[dict[str, dict], list[str]]:
    """The final snapshots on the snapshots topic by key, and keys re-emitted with other values."""
    finals: dict[str, dict] = {}
    changed: list[str] = []
    for _, key, value, _ in read_topics(settings, [settings.topic_snapshots], "snapshots"):
        if not value:
            continue
        snap = orjson.loads(value)
        if not snap.get("final"):
            continue
        k = key.decode() if key else snapshot_key(snap["kpi"], snap["window"], snap["window_start"], snap["dims"])
        old = finals.get(k)
        if old is not None and _compared(old) != _compared(snap):
            changed.append(k)
        finals[k] = snap
    return finals, changed


def _compared(snap: dict) -> tuple:
    return tuple(orjson.dumps(snap.get(f)) for f in COMPARED)


def in_range(snap: dict, start: float | None, end: float | None) -> bool:
    return ((start is None or parse_time(snap["window_start"]) >= start)
            and (end is None or parse_time(snap["window_end"]) <= end))


def diff(batch: list[dict], stream: dict[str, dict], start: float | None, end: float | None) -> list[str]:
    expected = {snapshot_key(s["kpi"], s["window"], s["window_start"], s["dims"]): s
                for s in batch if in_range(s, start, end)}
    seen = {k: s for k, s in stream.items() if in_range(s, start, end)}
    problems = [f"missing  {k}" for k in sorted(set(expected) - set(seen))]
    problems += [f"extra    {k}" for k in sorted(set(seen) - set(expected))]
    for k in sorted(set(expected) & set(seen)):
        if _compared(expected[k]) != _compared(seen[k]):
            a, b = expected[k], seen[k]
            problems.append(f"differs  {k}: batch value={a['value']} num={a['numerator']} den={a['denominator']}"
                            f" / stream value={b['value']} num={b['numerator']} den={b['denominator']}")
    return problems


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", help="first window start to compare (RFC 3339); default: all")
    parser.add_argument("--to", dest="end", help="last window end to compare (RFC 3339); default: all")
    parser.add_argument("--file", help="recompute from this JSONL file instead of the input topics")
    parser.add_argument("--bootstrap", help="Kafka bootstrap servers (SHOPPULSE_KAFKA_BOOTSTRAP)")
    parser.add_argument("--show", type=int, default=20, help="mismatches to print (default 20)")


def run_verify(args: argparse.Namespace) -> int:
    settings = Settings.from_env(kafka_bootstrap=args.bootstrap)
    start = parse_time(args.start) if args.start else None
    end = parse_time(args.end) if args.end else None
    started = time.time()
    if args.file:
        with open(args.file, "rb") as f:
            batch = compute_snapshots(list(read_messages(f, None)), settings)
    else:
        messages = ((topic, value) for topic, _, value, _ in
                    read_topics(settings, settings.input_topics, "input events"))
        batch = compute_snapshots(messages, settings)
    stream, changed = stream_finals(settings)
    problems = diff(batch, stream, start, end)
    problems += [f"changed  {k}: a final snapshot was re-emitted with other values" for k in changed]
    compared = sum(1 for s in batch if in_range(s, start, end))
    for line in problems[: args.show]:
        print(line)
    if len(problems) > args.show:
        print(f"... and {len(problems) - args.show} more")
    verdict = "OK" if not problems else f"{len(problems)} MISMATCHES"
    print(f"verify: {verdict}: {compared} batch snapshots compared with {len(stream)} final snapshots on "
          f"{settings.topic_snapshots} in {time.time() - started:.1f}s", file=sys.stderr)
    return 0 if not problems else 1
