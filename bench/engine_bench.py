"""Engine throughput without Kafka: decode + ingest + advance per batch, single vs batch messages.

    .venv/bin/python bench/engine_bench.py [--events N] [--runs N] [--feeds] [--profile] [--dump FILE]

Generates `--events` simulated events in-process (fixed seed and start, core topics or
with `--feeds` all topics, the simulator's traffic mix), encodes them as Kafka message
values (one event per message, and JSON arrays of `--batch-size` events of one topic)
and feeds each message list through a fresh `Decoder` + `KpiEngine` the way a worker's
pipeline does: `--batch-messages` messages per batch, every message decoded, then one
`ingest` and one `advance` per batch, then the changed state keys are taken (as a worker
does to persist them; `--serialize-state` also encodes them); at the end every window
is finalized (`flush`).
Wall time is fixed at 0 during the run (every partition active, deterministic), then
moved far ahead so idle partitions release the last windows.

Prints events/s per mode (median of `--runs` runs); `--gc-threshold` shows what a less
eager garbage collector (a worker setting) would save. `--profile` runs each mode once
under cProfile and prints the top entries. `--dump FILE` writes the sorted final
snapshots (without emission times) of a single-message run, to diff before and after a
change of the engine; batch runs must give the same snapshots (checked every run).
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import shlex
import statistics
import sys
import time
import zlib
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from processors.config import EngineConfig  # noqa: E402
from processors.engine import KpiEngine  # noqa: E402
from schemas.decoder import Decoder  # noqa: E402
from streams.tools import simulator  # noqa: E402

SIM_START_S = 1717200000.0  # 2024-06-01T00:00:00Z, as bench/throughput.py
SIM_SEED = 7
SESSIONS_PER_S = 70.0
PARTITIONS = 4
ALL_IDLE_WALL_S = 1e18  # a wall time at which every partition counts as idle
SNAPSHOT_FIELDS = ("kpi", "window", "window_start", "dims", "value", "numerator", "denominator", "ranking")

Message = tuple[str, int, int, bytes]  # (topic, partition, offset, value)


def simulated_events(n: int, feeds: bool, duplicates: float) -> list[tuple[str, str | None, bytes]]:
    """The first `n` simulated events as (topic, key, encoded event), in arrival order."""
    rows = []
    for _arrival, topic, key, event in simulator.generate_timed(
            SIM_SEED, SIM_START_S, float("inf"), SESSIONS_PER_S, feeds=feeds, duplicate_share=duplicates):
        rows.append((topic, key, orjson.dumps(event)))
        if len(rows) >= n:
            break
    return rows


def single_messages(rows) -> list[Message]:
    """One event per message; keyed events go to the partition of their key (stable hash)."""
    return _with_offsets([(topic, _partition(key, i), value) for i, (topic, key, value) in enumerate(rows)])


def batch_messages(rows, size: int) -> list[Message]:
    """Events of one topic, in arrival order, packed into JSON arrays of `size` (no key)."""
    pending: dict[str, list[bytes]] = {}
    out = []
    for topic, _key, value in rows:
        parts = pending.setdefault(topic, [])
        parts.append(value)
        if len(parts) >= size:
            out.append((topic, len(out) % PARTITIONS, b"[" + b",".join(parts) + b"]"))
            pending[topic] = []
    for topic, parts in pending.items():
        if parts:
            out.append((topic, len(out) % PARTITIONS, b"[" + b",".join(parts) + b"]"))
    return _with_offsets(out)


def _partition(key: str | None, i: int) -> int:
    return zlib.crc32(key.encode()) % PARTITIONS if key else i % PARTITIONS


def _with_offsets(rows) -> list[Message]:
    offsets: dict[tuple[str, int], int] = {}
    out = []
    for topic, partition, value in rows:
        offset = offsets[(topic, partition)] = offsets.get((topic, partition), -1) + 1
        out.append((topic, partition, offset, value))
    return out


def run_once(messages: list[Message], batch_messages_n: int, serialize: bool) -> tuple[float, float, list[dict], dict]:
    """Wall and CPU seconds for the whole message list (decode, ingest, advance per batch, final flush)."""
    engine, decoder = KpiEngine(EngineConfig()), Decoder()
    decode, snapshots = decoder.decode, []
    stats = {"events": 0, "rejected": 0, "late": 0, "duplicates": 0, "state_keys_written": 0}
    stores = engine.stores
    started, cpu_started = time.perf_counter(), time.process_time()
    for i in range(0, len(messages), batch_messages_n):
        events = []
        for topic, partition, offset, value in messages[i:i + batch_messages_n]:
            decoded, rejections = decode(value, topic, partition, offset)
            events += decoded
            stats["rejected"] += len(rejections)
        report = engine.ingest(events, 0.0)
        stats["events"] += report.accepted
        stats["late"] += len(report.late)
        stats["duplicates"] += sum(report.duplicates.values())
        snapshots += engine.advance(0.0)
        stats["state_keys_written"] += _drain(stores, serialize)
    snapshots += engine.advance(ALL_IDLE_WALL_S, emitted_at=0.0)
    snapshots += engine.flush(0.0)
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    return seconds, cpu_s, snapshots, stats


def _drain(stores, serialize: bool) -> int:
    """What a shell does after each batch: take the changed state keys (and serialize their values)."""
    written = 0
    for store in stores:
        for _key, value in store.drain_changes():
            if serialize:
                orjson.dumps(value)
            written += 1
    return written


def snapshot_lines(snapshots: list[dict]) -> list[bytes]:
    """Sorted final snapshots without emission times: equal lines mean equal results."""
    return sorted(orjson.dumps({f: s.get(f) for f in SNAPSHOT_FIELDS}, option=orjson.OPT_SORT_KEYS)
                  for s in snapshots)


def profile(messages: list[Message], batch_messages_n: int, serialize: bool, top: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    run_once(messages, batch_messages_n, serialize)
    profiler.disable()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return "\n".join(line for line in text.getvalue().splitlines() if line.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000, help="simulated events (default 200,000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per mode; the median is reported (default 3)")
    parser.add_argument("--batch-size", type=int, default=100, help="events per batch message (default 100)")
    parser.add_argument("--batch-messages", type=int, default=2000,
                        help="messages per engine batch, as a worker takes them (default 2000)")
    parser.add_argument("--feeds", action="store_true", help="also simulate the marketing/catalog/operations feeds")
    parser.add_argument("--duplicates", type=float, default=0.0, help="share of re-sent events (default 0)")
    parser.add_argument("--serialize-state", action="store_true",
                        help="also serialize the changed state values each batch (the worker's checkpoint writes)")
    parser.add_argument("--mode", choices=("both", "single", "batch"), default="both")
    parser.add_argument("--profile", action="store_true", help="run each mode once under cProfile, print top entries")
    parser.add_argument("--top", type=int, default=30, help="profile entries per listing (default 30)")
    parser.add_argument("--gc-threshold", type=int, metavar="N",
                        help="collect the youngest GC generation every N allocations instead of 700 (0 = no GC; "
                             "a worker setting)")
    parser.add_argument("--dump", metavar="FILE", help="write the sorted final snapshots of a single-message run")
    args = parser.parse_args(argv)

    print("command:", shlex.join([Path(sys.executable).name, *sys.argv]))
    if args.gc_threshold is not None:
        if args.gc_threshold == 0:
            gc.disable()
        else:
            gc.set_threshold(args.gc_threshold, *gc.get_threshold()[1:])
    t0 = time.perf_counter()
    rows = simulated_events(args.events, args.feeds, args.duplicates)
    modes = {"single": single_messages(rows), "batch": batch_messages(rows, args.batch_size)}
    if args.mode != "both":
        modes = {args.mode: modes[args.mode]}
    # A worker does not hold its input: keep the garbage collector off these lists.
    gc.collect()
    gc.freeze()
    print(f"{len(rows):,} events ({sum(len(v) for *_, v in rows) / len(rows):.0f} bytes mean), "
          f"generated in {time.perf_counter() - t0:.1f} s; {args.batch_messages} messages per engine batch")

    if args.profile:
        for mode, messages in modes.items():
            print(f"\n=== profile: {mode} ({len(messages):,} messages) ===")
            print(profile(messages, args.batch_messages, args.serialize_state, args.top))
        return 0

    reference, results = None, {}
    for mode, messages in modes.items():
        timings, cpu_timings = [], []
        for _ in range(args.runs):
            seconds, cpu_s, snapshots, stats = run_once(messages, args.batch_messages, args.serialize_state)
            timings.append(seconds)
            cpu_timings.append(cpu_s)
            lines = snapshot_lines(snapshots)
            if reference is None:
                reference = lines
            elif lines != reference:
                print(f"MISMATCH: {mode} run gave different final snapshots", file=sys.stderr)
                return 1
        results[mode] = (timings, cpu_timings, len(messages), stats, len(lines))

    # Other processes on the machine slow the wall clock; CPU time is the steadier figure.
    print(f"\n{'mode':<7} {'messages':>9} {'events/s':>10} {'us/event':>9} {'events/cpu-s':>13} "
          f"{'median s':>9}  runs (s)")
    for mode, (timings, cpu_timings, n_messages, _stats, _) in results.items():
        n, seconds, cpu_s = len(rows), statistics.median(timings), statistics.median(cpu_timings)
        print(f"{mode:<7} {n_messages:>9,} {n / seconds:>10,.0f} {seconds / n * 1e6:>9.2f} {n / cpu_s:>13,.0f} "
              f"{seconds:>9.3f}  " + " ".join(f"{t:.3f}" for t in timings))
    for mode, (_s, _c, _m, stats, n_snapshots) in results.items():
        print(f"{mode}: {n_snapshots:,} final snapshots, " + ", ".join(f"{k} {v:,}" for k, v in stats.items()))
    if args.dump:
        Path(args.dump).write_bytes(b"\n".join(reference) + b"\n")
        print(f"final snapshots written to {args.dump}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
