"""`shoppulse simulate`: write a simulated storefront's events to Kafka or to a JSONL file."""
from __future__ import annotations

import argparse
import math
import os
import re
import sys
import time
from datetime import datetime, timezone
from typing import BinaryIO

import orjson
from kafka.errors import KafkaError

from streams.tools import simulator
from streams.tools.kafka_io import EventWriter, Progress, ensure_topics, make_producer

DEFAULT_BOOTSTRAP = "127.0.0.1:19092"
BOOTSTRAP_ENV = "SHOPPULSE_KAFKA_BOOTSTRAP"
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw]?)")
_UNIT_S = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(text: str) -> float:
    """`90`, `90s`, `10m`, `2h`, `1d`, `1h30m` -> seconds."""
    text = text.strip().lower()
    pos, total = 0, 0.0
    while pos < len(text):
        m = _DURATION_PART.match(text, pos)
        if not m or (m.group(2) == "" and m.end() != len(text)):
            raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 30s, 10m, 2h, 1d)")
        total += float(m.group(1)) * _UNIT_S[m.group(2)]
        pos = m.end()
    if not text:
        raise argparse.ArgumentTypeError("empty duration")
    return total


def parse_time(text: str) -> float:
    """ISO 8601 time -> epoch seconds; a time without offset is UTC."""
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def resolve_bootstrap(value: str | None) -> str:
    return value or os.environ.get(BOOTSTRAP_ENV) or DEFAULT_BOOTSTRAP


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Simulate a storefront (visitors, sessions, carts, orders, refunds, chats, tickets, "
        "surveys; optionally marketing/catalog/operations feeds) and write its events. "
        "To Kafka the events follow the real clock: --backfill history first as fast as "
        "possible, then live. With --out they go to a JSONL file as fast as possible.")
    parser.add_argument("--bootstrap", metavar="HOST:PORT",
                        help=f"Kafka bootstrap servers (default: ${BOOTSTRAP_ENV} or "
                             f"{DEFAULT_BOOTSTRAP})")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--rate", type=float, default=20.0, metavar="SESSIONS_PER_S",
                        help="new sessions per second (default 20, about 90 events/s)")
    parser.add_argument("--duration", type=parse_duration, default=0.0, metavar="DURATION",
                        help="how long to run after the backfill, e.g. 10m, 2h "
                             "(default 0 = forever; with --out, 0 = just the backfill)")
    parser.add_argument("--backfill", type=parse_duration, default=0.0, metavar="DURATION",
                        help="first write the events of [now - DURATION, now) as fast as "
                             "possible, then continue in real time")
    parser.add_argument("--start", type=parse_time, metavar="ISO_TIME",
                        help="simulation start, e.g. 2024-06-01T00:00:00Z (instead of "
                             "--backfill; gives identical files for identical options)")
    parser.add_argument("--feeds", action="store_true",
                        help="also write the marketing, catalog and operations feeds")
    parser.add_argument("--batch", type=int, default=1, metavar="N",
                        help="events per Kafka message: 1 = one event per message (default); "
                             "N > 1 packs N events of a topic into one JSON array message "
                             "(CloudEvents batch, no key)")
    parser.add_argument("--duplicates", type=float, default=0.0, metavar="SHARE",
                        help="re-send this share of events unchanged and some orders under a "
                             "new event id, to exercise dedup (default 0)")
    parser.add_argument("--out", metavar="FILE.jsonl",
                        help="write to this file ('-' = stdout) instead of Kafka, one line per "
                             'event: {"topic": ..., "key": ..., "event": {...}}')


def run_simulate(args: argparse.Namespace) -> int:
    now = time.time()
    if args.start is not None and args.backfill:
        return _fail("--start and --backfill are alternatives; give one")
    if args.rate <= 0 or args.batch < 1 or not 0.0 <= args.duplicates < 1.0:
        return _fail("--rate must be > 0, --batch >= 1, --duplicates in [0, 1)")
    start_s = args.start if args.start is not None else round(now - args.backfill, 3)
    span_s = args.duration + (args.backfill if args.start is None else 0.0)
    if args.duration == 0:
        span_s = args.backfill if args.out else math.inf
    if span_s <= 0:
        return _fail("--out needs --duration (or --backfill) to end")
    events = simulator.generate_timed(args.seed, start_s, span_s, args.rate,
                                      feeds=args.feeds, duplicate_share=args.duplicates)
    if args.out:
        if args.batch > 1:
            print("simulate: --batch applies to Kafka only; the file has one event a line",
                  file=sys.stderr)
        return _to_file(args.out, events, start_s, span_s)
    return _to_kafka(resolve_bootstrap(args.bootstrap), args, events, start_s, span_s)


def _to_file(path: str, events, start_s: float, span_s: float) -> int:
    started = time.monotonic()
    clock = SimClock(start_s, span_s)
    progress = Progress(None, "simulate", detail=clock.describe)
    out: BinaryIO = sys.stdout.buffer if path == "-" else open(path, "wb")
    try:
        dumps = orjson.dumps
        for arrival, topic, key, event in events:
            out.write(dumps({"topic": topic, "key": key, "event": event}))
            out.write(b"\n")
            clock.now_s = arrival
            progress.update()
    except KeyboardInterrupt:
        print("\nsimulate: interrupted", file=sys.stderr)
    finally:
        progress.close()
        if out is not sys.stdout.buffer:
            out.close()
    seconds = time.monotonic() - started
    print(f"simulate: {progress.count:,} events to {path} in {seconds:.1f} s "
          f"({progress.count / max(seconds, 1e-9):,.0f} events/s)", file=sys.stderr)
    return 0


def _to_kafka(bootstrap: str, args: argparse.Namespace, events, start_s: float,
              span_s: float) -> int:
    topics = simulator.ALL_TOPICS if args.feeds else simulator.CORE_TOPICS
    try:
        ensure_topics(bootstrap, {t: simulator.DEFAULT_PARTITIONS[t] for t in topics})
        writer = EventWriter(make_producer(bootstrap), batch=args.batch)
    except KafkaError as exc:
        return _fail(f"cannot reach Kafka at {bootstrap}: {exc!r}")
    started = time.monotonic()
    clock = SimClock(start_s, span_s)
    progress = Progress(None, "simulate", detail=clock.describe)
    try:
        for arrival, topic, key, event in events:
            if arrival > time.time():
                writer.flush_batches()  # a batch must not wait for the next event
                _sleep_until(arrival, progress)
            writer.write(topic, key, event, int(arrival * 1000))
            clock.now_s = arrival
            progress.update()
    except KeyboardInterrupt:
        print("\nsimulate: interrupted, flushing", file=sys.stderr)
    finally:
        progress.close()
        writer.close()
    seconds = time.monotonic() - started
    print(f"simulate: {writer.events:,} events in {writer.messages:,} messages to "
          f"{bootstrap} in {seconds:.1f} s ({writer.events / max(seconds, 1e-9):,.0f} "
          f"events/s)", file=sys.stderr)
    if writer.failed:
        return _fail(f"{writer.failed:,} messages failed, first: {writer.first_error!r}")
    return 0


def _sleep_until(t: float, progress) -> None:
    while (wait := t - time.time()) > 0:
        time.sleep(min(wait, 0.5))
        progress.tick()


class SimClock:
    """The simulated time reached, shown in the progress line."""

    def __init__(self, start_s: float, span_s: float):
        self.start_s = start_s
        self.span_s = span_s
        self.now_s = start_s

    def describe(self) -> str:
        text = "at " + simulator.rfc3339(self.now_s)[:19] + "Z"
        if math.isfinite(self.span_s):
            text += f" ({100.0 * (self.now_s - self.start_s) / self.span_s:.0f}% of run)"
        return text


def _fail(message: str) -> int:
    print(f"simulate: {message}", file=sys.stderr)
    return 2
