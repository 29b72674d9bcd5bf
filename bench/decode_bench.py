"""Decoder throughput: events/s for single-event messages and for batch messages.

    .venv/bin/python bench/decode_bench.py [--single N] [--batches N] [--batch-size N] [--runs N]

Messages cycle through the catalogue's example events (every type once per cycle, with
clickstream weighted like real traffic), each with its own id; each figure is the median
of `--runs` runs over the same pre-built messages.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from schemas.catalog import CLICKSTREAM, EVENT_TYPES  # noqa: E402
from schemas.decoder import Decoder  # noqa: E402
from schemas.examples import example_event  # noqa: E402

CLICKSTREAM_WEIGHT = 10  # clickstream types appear this many times per cycle, the rest once


def traffic_mix() -> list[str]:
    return [name for name, t in EVENT_TYPES.items()
            for _ in range(CLICKSTREAM_WEIGHT if t.topic == CLICKSTREAM else 1)]


def build_events(n: int) -> list[dict]:
    mix = traffic_mix()
    return [example_event(mix[i % len(mix)], id=f"ev-{i}") for i in range(n)]


def run(decoder: Decoder, messages: list[tuple[str, bytes]], runs: int) -> tuple[float, int]:
    """Median seconds over `runs` passes over (topic, value) messages, and the events one pass decodes."""
    timings, decoded = [], 0
    decode = decoder.decode
    for _ in range(runs):
        decoded = 0
        start = time.perf_counter()
        for offset, (topic, message) in enumerate(messages):
            events, rejections = decode(message, topic, 0, offset)
            decoded += len(events)
            assert not rejections, rejections[0]
        timings.append(time.perf_counter() - start)
    return statistics.median(timings), decoded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--single", type=int, default=100_000, help="single-event messages")
    parser.add_argument("--batches", type=int, default=1_000, help="batch messages")
    parser.add_argument("--batch-size", type=int, default=100, help="events per batch message")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    decoder = Decoder()

    singles = [(EVENT_TYPES[e["type"]].topic, orjson.dumps(e)) for e in build_events(args.single)]
    seconds, n = run(decoder, singles, args.runs)
    mean_bytes = sum(len(value) for _, value in singles) / len(singles)
    print(f"single: {n} events in {seconds:.3f} s = {n / seconds:,.0f} events/s "
          f"({seconds / n * 1e6:.2f} us/event, mean {mean_bytes:.0f} bytes)")

    events = build_events(args.batches * args.batch_size)
    # Collectors batch across types, so batches go to a topic outside the type map.
    batches = [("shop.collector", orjson.dumps(events[i:i + args.batch_size]))
               for i in range(0, len(events), args.batch_size)]
    seconds, n = run(decoder, batches, args.runs)
    print(f"batch:  {n} events in {len(batches)} messages of {args.batch_size} in {seconds:.3f} s = "
          f"{n / seconds:,.0f} events/s ({seconds / n * 1e6:.2f} us/event)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
