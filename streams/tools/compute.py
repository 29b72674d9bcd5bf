"""`shoppulse compute`: the stream's processors run as a batch over a JSONL file of events."""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from typing import Iterable, Iterator

import orjson

from processors.engine import KpiEngine
from schemas.decoder import Decoder, Limits
from streams.settings import Settings

# A watermark far in the future: every partition counts as idle, so stream time becomes
# the newest event time seen, exactly as a worker's does once its inputs go quiet.
_ALL_IDLE = 1e18


def read_messages(lines: Iterable[bytes], default_topic: str | None) -> Iterator[tuple[str, bytes]]:
    """(topic, raw value) per line: `{"topic", "key", "event"}` lines or bare events with a default topic."""
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        try:
            wrapper = orjson.loads(line)
        except orjson.JSONDecodeError:
            wrapper = None
        if isinstance(wrapper, dict) and "topic" in wrapper and "event" in wrapper:
            yield wrapper["topic"], orjson.dumps(wrapper["event"])
        elif default_topic:
            yield default_topic, line
        else:
            print(f"line {number}: no topic (use {{\"topic\", \"event\"}} lines or --topic)", file=sys.stderr)


def compute_snapshots(messages: Iterable[tuple[str, bytes]], settings: Settings, *, flush: bool = False,
                      chunk: int = 1000, stats: Counter | None = None) -> list[dict]:
    """Final snapshots of every window that a worker fed the same messages would finalize."""
    engine = KpiEngine(settings.engine_config())
    decoder = Decoder(Limits(settings.max_event_bytes, settings.max_batch_bytes), settings.topic_types())
    stats = Counter() if stats is None else stats
    snapshots: list[dict] = []
    batch = []
    now = time.time()
    for offset, (topic, value) in enumerate(messages):
        events, rejections = decoder.decode(value, topic, 0, offset)
        stats["rejected"] += len(rejections)
        batch += events
        if len(batch) >= chunk:
            snapshots += _run(engine, batch, stats, now)
            batch = []
    snapshots += _run(engine, batch, stats, now)
    snapshots += engine.advance(_ALL_IDLE, emitted_at=now)
    if flush:
        snapshots += engine.flush(now)
    return snapshots


def _run(engine: KpiEngine, events, stats: Counter, now: float) -> list[dict]:
    report = engine.ingest(events, 0.0)
    stats["events"] += report.accepted
    stats["duplicates"] += sum(report.duplicates.values())
    stats["late"] += len(report.late)
    stats["rejected"] += len(report.rejected)
    return engine.advance(0.0, emitted_at=now)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="JSONL file: {\"topic\", \"key\", \"event\"} per line (as written by "
                                     "`shoppulse simulate --out`), or bare CloudEvents with --topic; - for stdin")
    parser.add_argument("--topic", help="topic of bare CloudEvent lines")
    parser.add_argument("--out", help="write snapshots here instead of stdout")
    parser.add_argument("--flush", action="store_true",
                        help="also finalize windows still open at the end of the file (for backfills)")
    parser.add_argument("--kpi", action="append", help="only these KPIs (repeatable)")


def run_compute(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    source = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")
    stats: Counter = Counter()
    started = time.time()
    with source:
        snapshots = compute_snapshots(read_messages(source, args.topic), settings, flush=args.flush, stats=stats)
    if args.kpi:
        snapshots = [s for s in snapshots if s["kpi"] in set(args.kpi)]
    out = open(args.out, "wb") if args.out else sys.stdout.buffer
    with out if args.out else _nullcontext(out):
        for snap in snapshots:
            out.write(orjson.dumps(snap) + b"\n")
    elapsed = time.time() - started
    print(f"computed {len(snapshots)} final snapshots from {stats['events']} events "
          f"({stats['rejected']} rejected, {stats['duplicates']} duplicates, {stats['late']} late) "
          f"in {elapsed:.1f}s", file=sys.stderr)
    return 0


class _nullcontext:
    def __init__(self, value):
        self.value = value

    def __enter__(self):
        return self.value

    def __exit__(self, *exc):
        self.value.flush()
