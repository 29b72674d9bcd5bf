"""Throughput and latency of one `shoppulse worker` beside the raw aiokafka ceiling, on a real Kafka.

    .venv/bin/python bench/throughput.py [--events N | --quick] [--profile] [--soak [--soak-hours H]]
    .venv/bin/python bench/throughput.py --modes none --no-latency --soak   # the soak alone
    .venv/bin/python bench/throughput.py --bootstrap HOST:PORT --redis-url URL   # existing services

One run does, for one event per message ("single") and for batch messages of 100
events ("batch"):

1. writes the same N simulated events (core topics, simulator mix, fixed seed and
   start) to fresh topics with an aiokafka producer;
2. reads them back with a raw aiokafka consumer in its own process that only
   fetches and orjson-decodes (the ceiling for a Python consumer here), timed from
   the first fetch that returns records to the last event;
3. starts one `shoppulse worker` (own app id, topics, web port, Redis prefix, state
   dir) over the backlog and times it from the first consumed batch (`/ready`
   says `consuming`) to "all windows final": `/ready` reports a watermark at the
   newest event time (every partition drained and idle, so every window that can
   close at that watermark has been emitted in the same step) and `/metrics`
   counts all N events consumed. Partitions count as idle after 1 s
   (SHOPPULSE_IDLE_PARTITION=1s), which is part of the measured time;
4. reads the worker's peak RSS (VmHWM), its CPU seconds, the median time of 20
   GET /metrics, and the records it wrote per topic (state changelog included);
5. runs the checkout's `Pipeline` alone (decode, ingest, advance, changed state
   keys serialized; no Kafka) over the same events (at most 200,000) in another
   process: what the computation costs without the Faust shell.

Single and batch runs must end with the same final snapshots in the serving store
("exact"; keys must not matter, events.md); differing fields are listed.

Then a latency run: a fresh worker (SHOPPULSE_INTERIM_INTERVAL=0.2s) gets live
simulated traffic at half the single-message worker rate for `--latency-seconds`,
plus one marker order every 0.1 s (country ZZ, unique order and customer ids, all
on one partition so they are processed in order). A marker is visible when the
serving store's interim `orders|1m|country=ZZ` field (what GET /kpis returns) has
the marker's minute window with a count >= the marker's rank in that minute;
latency = first time seen - time the marker was handed to the producer. The store
is read directly (HGET, every 20 ms) because polling /kpis that often would load
the worker with whole-hash reads; the reported latency adds the median time of
the equivalent GET /kpis call.

With --soak, last: the events of exactly H simulated hours (--soak-hours, default 2;
every event that arrives before start + H h, about 500,000 sessions in 2 hours),
one event per message on fresh topics, and one worker over that backlog as in 3.
Its VmRSS is sampled with its stream time (the watermark of `/ready`, asked every
0.1 s; a busy worker answers later), its open-session and state-key gauges at each
progress report, and its full-state snapshots from its log; reported are the peak
RSS (VmHWM), the RSS nearest stream minutes 30, 60, 90 and 120, the growth from
minute 60 (sessions idle 30 min and the first hour windows have closed by then) to
the end, and a thinned RSS curve. The worker replays the backlog at its own pace,
so two hours of stream pass in a few minutes: memory held per event time is what
this measures, and snapshots (every 60 s of wall time) come less often per stream
hour than live. `--modes none` runs it alone.

Results: a table on stdout and bench/results/latest.json plus a dated copy. The
run starts its own Kafka and Redis (deploy/local, private run dir and ports) unless
--bootstrap is given, deletes its topics and Redis keys, and stops what it started.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from array import array
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streams.tools import simulator  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PY_SPY = Path(sys.executable).with_name("py-spy")
SIM_START_S = 1717200000.0  # 2024-06-01T00:00:00Z: fixed, so every run writes the same events
SIM_SEED = 7
SESSIONS_PER_S = 70.0  # 500,000 sessions in 2 hours
BATCH_SIZE = 100
PARTITIONS = 4
IDLE_PARTITION = "1s"
MARKER_COUNTRY = "ZZ"
MARKER_INTERVAL_S = 0.1
PIPELINE_ONLY_MAX_EVENTS = 200_000
TARGETS = {"single_events_per_s": 25_000, "batch_events_per_s": 150_000, "batch_ratio": 0.4,
           "latency_p99_s": 2.0, "metrics_render_s": 0.05, "peak_rss_mib": 1024, "soak_peak_rss_mib": 1024}
SOAK_SAMPLE_S = 0.1
SOAK_MARKS_MIN = (30, 60, 90, 120)
SOAK_CURVE_STEP_MIN = 5
SNAPSHOT_LINE = re.compile(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\].*?state snapshot at epoch \d+: "
                           r"(\d+) records, (\d+) chunks")


def say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- machine

def code_version(source: Path) -> dict:
    def git(*args: str) -> str:
        run = subprocess.run(["git", "-C", str(source), *args], capture_output=True, text=True)
        return run.stdout.strip() if run.returncode == 0 else ""

    import hashlib

    digest = hashlib.sha1()
    for path in sorted(p for d in ("schemas", "processors", "streams") for p in (source / d).rglob("*.py")):
        digest.update(path.relative_to(source).as_posix().encode() + b"\0" + path.read_bytes())
    changed = git("status", "--porcelain", "--untracked-files=no")
    return {"source": str(source), "commit": git("rev-parse", "--short", "HEAD"),
            "uncommitted_changes": len(changed.splitlines()), "python_sources_sha1": digest.hexdigest()[:12]}


def machine() -> dict:
    model, mem_kib = "", 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "ram_gib": round(mem_kib / 1024 ** 2, 1),
            "python": platform.python_version(), "kernel": platform.release(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


# ---------------------------------------------------------------------------- services

class Services:
    """The local Kafka and Redis of deploy/local in a private run dir, stopped only if started here."""

    def __init__(self, run_dir: Path, kafka_port: int, redis_port: int):
        self.env = {**os.environ, "SHOPPULSE_RUN_DIR": str(run_dir), "SHOPPULSE_KAFKA_PORT": str(kafka_port),
                    "SHOPPULSE_REDIS_PORT": str(redis_port)}
        self.run_dir = run_dir
        self.bootstrap = f"127.0.0.1:{kafka_port}"
        self.redis_url = f"redis://127.0.0.1:{redis_port}/0"
        self.started = False

    def start(self) -> None:
        running = all(_pid_alive(self.run_dir / f"{name}.pid") for name in ("kafka", "redis"))
        say(f"{'reusing' if running else 'starting'} Kafka {self.bootstrap} and Redis {self.redis_url} "
            f"(run dir {self.run_dir})")
        subprocess.run(["bash", str(ROOT / "deploy/local/services-up.sh")], env=self.env, check=True,
                       stdout=subprocess.DEVNULL)
        self.started = not running

    def stop(self) -> None:
        if self.started:
            say("stopping Kafka and Redis")
            subprocess.run(["bash", str(ROOT / "deploy/local/stop.sh"), "all"], env=self.env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _pid_alive(pidfile: Path) -> bool:
    try:
        os.kill(int(pidfile.read_text().strip()), 0)
        return True
    except (OSError, ValueError):
        return False


# ---------------------------------------------------------------------------- events

@dataclass
class EventSet:
    """Serialized simulated events in arrival order: (default topic, key, value, timestamp ms)."""

    rows: list[tuple[str, bytes | None, bytes, int]]
    first_time_s: float
    max_time_s: float
    bytes_total: int
    sessions: int  # distinct simulated session ids in the clickstream events


def build_events(n: float = float("inf"), span_s: float = float("inf")) -> EventSet:
    """The first `n` simulated events, or every event arriving before SIM_START_S + `span_s`."""
    rows, dumps, size = [], orjson.dumps, 0
    first, newest, sessions = None, float("-inf"), set()
    for arrival, topic, key, event in simulator.generate_timed(SIM_SEED, SIM_START_S, span_s, SESSIONS_PER_S):
        value = dumps(event)
        size += len(value)
        rows.append((topic, key.encode() if key is not None else None, value, int(arrival * 1000)))
        t = _event_time_s(event["time"])
        first = t if first is None else min(first, t)
        newest = max(newest, t)
        if topic == simulator.CLICKSTREAM:
            sessions.add(event["data"].get("session_id"))
        if len(rows) >= n:
            break
    sessions.discard(None)
    return EventSet(rows, first, newest, size, len(sessions))


def _event_time_s(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def batch_messages(rows, size: int):
    """Pack events of the same topic, in arrival order, into JSON array messages of `size`."""
    pending: dict[str, list] = {}
    for topic, _key, value, ts in rows:
        parts = pending.setdefault(topic, [])
        parts.append((value, ts))
        if len(parts) >= size:
            yield topic, None, b"[" + b",".join(v for v, _ in parts) + b"]", max(t for _, t in parts), len(parts)
            pending[topic] = []
    for topic, parts in pending.items():
        if parts:
            yield topic, None, b"[" + b",".join(v for v, _ in parts) + b"]", max(t for _, t in parts), len(parts)


# ----------------------------------------------------------------------------- kafka

def create_topics(bootstrap: str, names: list[str]) -> None:
    """Create the topics and wait until each partition has a leader (no retries on first writes)."""
    from kafka.admin import KafkaAdminClient

    from streams.tools.kafka_io import ensure_topics

    ensure_topics(bootstrap, dict.fromkeys(names, PARTITIONS))
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            described = admin.describe_topics(names)
            if len(described) == len(names) and all(
                    len([p for p in t["partitions"] if p["leader_id"] >= 0]) == PARTITIONS for t in described):
                return
            time.sleep(0.2)
    finally:
        admin.close()


def delete_topics(bootstrap: str, prefix: str) -> None:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
    try:
        ours = [t for t in admin.list_topics() if t.startswith(prefix)]
        if ours:
            admin.delete_topics(ours, timeout_ms=30000)
    finally:
        admin.close()


def records_by_topic(bootstrap: str, prefix: str) -> dict[str, int]:
    """Records written so far to each topic whose name starts with `prefix` (sum of end offsets)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        topics = [t for t in consumer.topics() if t.startswith(prefix)]
        parts = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
        counts: dict[str, int] = {}
        for tp, end in consumer.end_offsets(parts).items():
            counts[tp.topic] = counts.get(tp.topic, 0) + end
        return dict(sorted(counts.items()))
    finally:
        consumer.close()


async def produce(bootstrap: str, messages, topic_of) -> tuple[int, int, float]:
    """Write (topic, key, value, ts, events) messages; returns (messages, events, seconds)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1024 * 1024,
                                max_request_size=4 * 1024 * 1024, acks=1)
    await producer.start()
    count = events = 0
    started = time.monotonic()
    try:
        for topic, key, value, ts, n in messages:
            await producer.send(topic_of[topic], value, key=key, timestamp_ms=ts)
            count += 1
            events += n
        await producer.flush()
    finally:
        await producer.stop()
    return count, events, time.monotonic() - started


def singles(rows):
    for topic, key, value, ts in rows:
        yield topic, key, value, ts, 1


async def raw_consume(bootstrap: str, topics: list[str], expected: int, timeout_s: float) -> dict:
    """Fetch and orjson-decode every message of `topics` until `expected` events were seen."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest", fetch_max_bytes=64 * 1024 * 1024,
                                max_partition_fetch_bytes=16 * 1024 * 1024, fetch_max_wait_ms=100)
    await consumer.start()
    loads = orjson.loads
    events = messages = 0
    first = None
    deadline = time.monotonic() + timeout_s
    try:
        while events < expected and time.monotonic() < deadline:
            called = time.monotonic()
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                if first is None:
                    first = called
                for record in records:
                    value = loads(record.value)
                    events += len(value) if isinstance(value, list) else 1
                    messages += 1
        seconds = time.monotonic() - (first or time.monotonic())
    finally:
        await consumer.stop()
    return {"events": events, "messages": messages, "seconds": seconds,
            "events_per_s": events / seconds if seconds else 0.0}


def raw_consume_in_process(bootstrap: str, topics: list[str], expected: int) -> dict:
    """The raw consumer in a process of its own, like the worker (no bench state in its heap)."""
    spec = json.dumps({"bootstrap": bootstrap, "topics": topics, "expected": expected})
    out = subprocess.run([sys.executable, __file__, "--raw-consumer", spec], capture_output=True, check=True,
                         timeout=max(120, expected / 5000))
    return json.loads(out.stdout)


def pipeline_only(source: Path, n: int, mode: str, batch_messages_max: int = 2000) -> dict:
    """The worker's per-batch computation without Kafka: decode, ingest, advance, drain changed state keys.

    Runs the `source` checkout's Pipeline over the same events in batches of
    `batch_messages_max` messages (the worker's default batch), single-threaded.
    """
    for name in [m for m in sys.modules if m.split(".")[0] in ("streams", "processors", "schemas")]:
        del sys.modules[name]
    sys.path.insert(0, str(source))
    from processors.engine import KpiEngine
    from schemas.decoder import Limits
    from streams.pipeline import Pipeline, RawMessage
    from streams.settings import Settings

    events = build_events(n)
    settings = Settings.from_env({})
    pipeline = Pipeline(KpiEngine(settings.engine_config()), Limits(settings.max_event_bytes, settings.max_batch_bytes),
                        settings.topic_types())
    stores = pipeline.engine.stores
    offsets: dict[tuple[str, int], int] = {}
    rows = singles(events.rows) if mode == "single" else batch_messages(events.rows, BATCH_SIZE)
    messages = []
    for topic, key, value, _ts, _n in rows:
        partition = hash(key) % PARTITIONS if key else len(messages) % PARTITIONS
        offset = offsets[(topic, partition)] = offsets.get((topic, partition), -1) + 1
        messages.append(RawMessage(value, topic, partition, offset))
    keys_written = snapshots = 0
    rss_before = _own_rss_mib()
    started, cpu_started = time.perf_counter(), time.process_time()
    for i in range(0, len(messages), batch_messages_max):
        out = pipeline.process(messages[i:i + batch_messages_max])
        snapshots += len(out.snapshots)
        for store in stores:
            for key, value in store.drain_changes():
                orjson.dumps(value)  # the shell serializes every changed value
                keys_written += 1
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    return {"events": n, "seconds": round(seconds, 3), "events_per_s": round(n / seconds, 1),
            "cpu_s": round(cpu_s, 3), "events_per_cpu_s": round(n / cpu_s, 1),
            "state_keys_written": keys_written, "state_keys_written_per_event": round(keys_written / n, 2),
            "state_keys_held": {store.name: len(store) for store in stores},
            "rss_growth_mib": round(_own_rss_mib() - rss_before, 1), "batch_messages": batch_messages_max}


def _own_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pipeline_only_in_process(source: Path, n: int, mode: str) -> dict | None:
    spec = json.dumps({"source": str(source), "events": n, "mode": mode})
    out = subprocess.run([sys.executable, __file__, "--pipeline-only", spec], capture_output=True, timeout=900)
    if out.returncode != 0:
        say(f"  pipeline-only run failed: {out.stderr.decode(errors='replace')[-500:]}")
        return None
    return json.loads(out.stdout)


# ---------------------------------------------------------------------------- worker

@dataclass
class Namespace:
    """Topic names, app id, Redis prefix and state dir of one worker run."""

    prefix: str
    name: str
    run_dir: Path
    web_port: int = field(default_factory=lambda: _free_port())

    @property
    def app_id(self) -> str:
        return f"{self.prefix}-{self.name}"

    def topic(self, default: str) -> str:
        return f"{self.prefix}.{self.name}.{default}"

    @property
    def inputs(self) -> dict[str, str]:
        return {t: self.topic(t) for t in simulator.CORE_TOPICS}

    def env(self, bootstrap: str, redis_url: str, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPPULSE_")}
        env.update({"SHOPPULSE_KAFKA_BOOTSTRAP": bootstrap, "SHOPPULSE_REDIS_URL": redis_url,
                    "SHOPPULSE_APP_ID": self.app_id, "SHOPPULSE_REDIS_KEY_PREFIX": self.app_id,
                    "SHOPPULSE_DATA_DIR": str(self.run_dir / self.app_id / "state"),
                    "SHOPPULSE_WEB_PORT": str(self.web_port), "SHOPPULSE_PARTITIONS": str(PARTITIONS),
                    "SHOPPULSE_IDLE_PARTITION": IDLE_PARTITION})
        for name in ("clickstream", "orders", "chat", "support", "marketing", "catalog", "operations"):
            env[f"SHOPPULSE_TOPIC_{name.upper()}"] = self.topic(f"shop.{name}")
        for name, default in (("snapshots", "shop.kpi.snapshots"), ("alerts", "shop.kpi.alerts"),
                              ("deadletter", "shop.deadletter"), ("late", "shop.kpi.late")):
            env[f"SHOPPULSE_TOPIC_{name.upper()}"] = self.topic(default)
        env.update(extra)
        return env


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WorkerProcess:
    """One `shoppulse worker` with its own log, read through /ready, /metrics, /kpis and /proc."""

    def __init__(self, ns: Namespace, env: dict[str, str], source: Path = ROOT):
        self.ns = ns
        self.env = {**env, "PYTHONPATH": str(source)}
        self.source = source
        self.log_path = ns.run_dir / f"{ns.app_id}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        (self.ns.run_dir / self.ns.app_id).mkdir(parents=True, exist_ok=True)  # Faust makes only the last level
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "worker"], env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True, cwd=self.source)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def get(self, path: str, timeout: float = 10) -> tuple[int, bytes]:
        url = f"http://127.0.0.1:{self.ns.web_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def ready(self) -> dict | None:
        try:
            return orjson.loads(self.get("/ready", timeout=5)[1])
        except (OSError, ValueError):
            return None

    def metrics(self) -> str:
        return self.get("/metrics")[1].decode()

    def status_kib(self, name: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
        return 0

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_bytes()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 30) -> None:
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def metric_sum(text: str, prefix: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))


def _labelled(text: str, name: str) -> dict[str, float]:
    """{label values: value} of one metric family."""
    out = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels, _, value = line[len(name) + 1:].rpartition("} ")
            out[labels] = float(value)
    return out


def timed_gets(worker: WorkerProcess, path: str, n: int) -> list[float]:
    timings = []
    for _ in range(n):
        started = time.perf_counter()
        status, _ = worker.get(path)
        timings.append(time.perf_counter() - started)
        assert status == 200, f"GET {path}: {status}"
    return timings


def wait_until(what: str, check, timeout_s: float, worker: WorkerProcess, interval_s: float = 0.05):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not worker.alive():
            raise RuntimeError(f"worker exited while waiting for {what}:\n{worker.log_tail()}")
        result = check()
        if result:
            return result
        time.sleep(interval_s)
    raise RuntimeError(f"timed out after {timeout_s:.0f}s waiting for {what}:\n{worker.log_tail()}")


@dataclass
class Trace:
    """The soak's samples: (wall time, watermark, VmRSS KiB) at every poll; per progress report
    (wall time, watermark, events consumed, state gauges)."""

    rss: list = field(default_factory=list)
    gauges: list = field(default_factory=list)


def state_gauges(text: str) -> dict:
    """Open sessions and state keys per store, from a /metrics text."""
    keys = {labels.split('"')[1]: int(v) for labels, v in _labelled(text, "shoppulse_state_keys").items()}
    return {"open_sessions": int(metric_sum(text, "shoppulse_open_sessions ")), "state_keys": keys}


def run_worker_over_backlog(worker: WorkerProcess, events: EventSet, n: int, profile_to: Path | None,
                            interval_s: float = 0.2, trace: Trace | None = None) -> dict:
    """Start the worker over the written backlog; time first consume -> all windows final.

    Polls /ready every `interval_s`; with a `trace`, keeps every sample and the state gauges.
    """
    worker.start()
    spy = _start_py_spy(worker.pid, profile_to) if profile_to else None
    started = time.monotonic()
    wait_until("the worker to consume", lambda: (worker.ready() or {}).get("consuming"), 120, worker)
    t_first, cpu_first = time.monotonic(), worker.cpu_s()
    say(f"  worker consuming after {t_first - started:.1f} s (pid {worker.pid})")
    rss_samples, span = [], max(1e-9, events.max_time_s - events.first_time_s)
    next_report = t_first + 5
    timeout = max(300.0, n / 200)
    consumed, last_progress, last_move = 0.0, None, t_first
    while True:
        body = wait_until("/ready", worker.ready, 30, worker)
        now = time.monotonic()
        wm = body.get("watermark")
        progress = 0.0 if wm is None else min(1.0, max(0.0, (wm - events.first_time_s) / span))
        rss_kib = worker.status_kib("VmRSS")
        rss_samples.append((round(now - t_first, 2), round(progress, 3), rss_kib // 1024))
        if trace is not None:
            trace.rss.append((time.time(), wm, rss_kib))
        if wm is not None and wm >= events.max_time_s - 0.001:
            consumed = metric_sum(worker.metrics(), "shoppulse_events_consumed_total")
            if consumed >= n:
                t_done, cpu_done = time.monotonic(), worker.cpu_s()
                break
        if now >= next_report:  # also the stall check: neither events consumed nor stream time moved
            next_report = now + 5
            text = worker.metrics()
            consumed = metric_sum(text, "shoppulse_events_consumed_total")
            if trace is not None:
                trace.gauges.append((time.time(), wm, int(consumed), state_gauges(text)))
            if (consumed, wm) != last_progress:
                last_progress, last_move = (consumed, wm), now
            say(f"  {consumed:9,.0f} events  stream time {100 * progress:5.1f}%  {now - t_first:6.1f} s  "
                f"RSS {rss_samples[-1][2]} MiB")
        if now - t_first > timeout or now - last_move > 60:
            raise RuntimeError(f"worker did not finish within {timeout:.0f}s or made no progress for 60 s:\n"
                               f"{worker.log_tail()}")
        time.sleep(interval_s)
    if spy is not None:
        _stop_py_spy(spy)
    seconds = t_done - t_first
    text = worker.metrics()
    finals = _settled_final_count(worker)
    consumed = metric_sum(text, "shoppulse_events_consumed_total")
    render = timed_gets(worker, "/metrics", 20)
    kpis = timed_gets(worker, "/kpis?kpi=orders&window=1m&final=true", 5)
    return {
        "worker_s": round(seconds, 3), "worker_events_per_s": round(n / seconds, 1),
        "worker_cpu_s": round(cpu_done - cpu_first, 2), "worker_cpu_share": round((cpu_done - cpu_first) / seconds, 2),
        "worker_events_per_cpu_s": round(n / max(1e-9, cpu_done - cpu_first), 1),
        "startup_to_consume_s": round(t_first - started, 2),
        "consumed": int(consumed), "rejected": int(metric_sum(text, "shoppulse_events_rejected_total")),
        "late": int(metric_sum(text, "shoppulse_events_late_total")),
        "duplicates": int(metric_sum(text, "shoppulse_events_duplicate_total")),
        "engine_events": _labelled(text, "shoppulse_engine_events_total"),
        "final_snapshots": finals,
        "metrics_render_s": round(statistics.median(render), 4), "metrics_bytes": len(text),
        "metrics_series": sum(1 for line in text.splitlines() if line and not line.startswith("#")),
        "kpis_render_s": round(statistics.median(kpis), 4),
        "peak_rss_mib": round(worker.status_kib("VmHWM") / 1024, 1),
        "rss_mib_end": round(worker.status_kib("VmRSS") / 1024, 1),
        "rss_samples": {"fields": ["seconds", "stream_time_share", "rss_mib"], "values": _thin(rss_samples, 20)},
    }


def _settled_final_count(worker: WorkerProcess, timeout_s: float = 10) -> int:
    """Final snapshots emitted, once two reads 1 s apart agree."""
    last = -1.0
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        count = metric_sum(worker.metrics(), 'shoppulse_snapshots_emitted_total{final="true"}')
        if count == last:
            break
        last = count
        time.sleep(1.0)
    return int(last)


def _thin(samples: list, k: int) -> list:
    if len(samples) <= k:
        return samples
    step = (len(samples) - 1) / (k - 1)
    return [samples[round(i * step)] for i in range(k)]


# ---------------------------------------------------------------------------- profile

def _start_py_spy(pid: int, out: Path) -> subprocess.Popen | None:
    if not PY_SPY.exists():
        say("  py-spy not installed in the venv (.venv/bin/pip install py-spy); no profile")
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([str(PY_SPY), "record", "--pid", str(pid), "--rate", "100", "--format", "raw",
                             "--nonblocking", "--output", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop_py_spy(spy: subprocess.Popen) -> None:
    spy.send_signal(signal.SIGINT)
    try:
        spy.wait(30)
    except subprocess.TimeoutExpired:
        spy.kill()


# Where a sample's time goes: the first rule whose frame text appears anywhere in the stack.
COMPONENTS = (
    ("engine: decode + ingest + advance (Pipeline.process)", "Pipeline.process"),
    ("engine: timer tick and interim snapshots", "advance_stream_time"),
    ("state: EngineStateTable.save (changelog writes)", "EngineStateTable.save"),
    ("state: EngineStateTable.commit", "EngineStateTable.commit"),
    ("serving store (Redis)", "ServingStore."),
    ("metrics", "OperationalMetrics."), ("metrics", "KpiCollector."),
    ("producer: aiokafka sender", "Sender._"),
    ("producer: Faust buffer / send / callbacks", "ProducerBuffer."),
    ("producer: Faust buffer / send / callbacks", "Producer.send"),
    ("producer: Faust buffer / send / callbacks", "_on_published"),
    ("producer: Faust buffer / send / callbacks", "publish_message"),
    ("consumer: fetch, on_message, stream", "Fetcher."), ("consumer: fetch, on_message, stream", "on_message"),
    ("consumer: fetch, on_message, stream", "Stream."), ("consumer: fetch, on_message, stream", "Consumer."),
    ("web views", "View."),
    ("event loop: select", "EpollSelector.select"),
    ("event loop: scheduling (_run_once)", "_run_once"),
)  # "other": mostly asyncio plumbing (wait_for, futures, tasks) with no identifying frame


def summarize_profile(collapsed: Path, out: Path, top: int = 40) -> list[tuple[str, float, float]]:
    """Cumulative and own share of samples per function from py-spy's collapsed stacks."""
    cumulative: dict[str, int] = {}
    own: dict[str, int] = {}
    components: dict[str, int] = {}
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = [_function(f) for f in stack.split(";")]
        for name in set(frames):
            cumulative[name] = cumulative.get(name, 0) + count
        own[frames[-1]] = own.get(frames[-1], 0) + count
        part = next((label for label, text in COMPONENTS if text in stack), "other")
        components[part] = components.get(part, 0) + count
    rows = sorted(((name, c / total, own.get(name, 0) / total) for name, c in cumulative.items()),
                  key=lambda r: -r[1])
    lines = [f"py-spy record --rate 100 --nonblocking (active samples: {total}; collapsed stacks: {collapsed}); "
             f"share of samples with the function on the stack (cumulative) and at the top (own)", "",
             "by component (first matching rule of COMPONENTS in bench/throughput.py; "
             "\"other\" is mostly asyncio plumbing):"]
    lines += [f"{n / total:7.1%}  {label}" for label, n in sorted(components.items(), key=lambda kv: -kv[1])]
    lines += ["", f"{'cumul':>7} {'own':>7}  function (file)"]
    lines += [f"{c:7.1%} {o:7.1%}  {name}" for name, c, o in rows[:top]]
    lines += ["", "by own time:", f"{'own':>7} {'cumul':>7}  function (file)"]
    by_own = sorted(rows, key=lambda r: -r[2])
    lines += [f"{o:7.1%} {c:7.1%}  {name}" for name, c, o in by_own[:top]]
    out.write_text("\n".join(lines) + "\n")
    return rows


def _function(frame: str) -> str:
    """`fn (path/to/file.py:123)` -> `fn (to/file.py)`: one entry per function, not per line."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", str(ROOT) + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


# ---------------------------------------------------------------------------- modes

def run_mode(mode: str, events: EventSet, args, prefix: str, run_dir: Path) -> dict:
    ns = Namespace(prefix, mode, run_dir)
    n = len(events.rows)
    create_topics(args.bootstrap, list(ns.inputs.values()))
    messages = singles(events.rows) if mode == "single" else batch_messages(events.rows, BATCH_SIZE)
    say(f"{mode}: writing {n:,} events" + ("" if mode == "single" else f" in batches of {BATCH_SIZE}"))
    count, written, seconds = asyncio.run(produce(args.bootstrap, messages, ns.inputs))
    assert written == n, (written, n)
    say(f"  {count:,} messages in {seconds:.1f} s ({n / seconds:,.0f} events/s)")
    say(f"{mode}: raw aiokafka consumer")
    raw = raw_consume_in_process(args.bootstrap, list(ns.inputs.values()), n)
    assert raw["events"] == n, raw
    say(f"  {raw['events']:,} events in {raw['seconds']:.2f} s ({raw['events_per_s']:,.0f} events/s)")
    pipeline_n = min(n, PIPELINE_ONLY_MAX_EVENTS)
    say(f"{mode}: the worker's Pipeline alone (no Kafka) over {pipeline_n:,} events")
    pipeline = pipeline_only_in_process(args.source, pipeline_n, mode)
    if pipeline:
        say(f"  {pipeline['events_per_s']:,.0f} events/s ({pipeline['events_per_cpu_s']:,.0f} per CPU second), "
            f"{pipeline['state_keys_written_per_event']} state keys written per event")
    say(f"{mode}: shoppulse worker")
    worker = WorkerProcess(ns, ns.env(args.bootstrap, args.redis_url, **args.worker_env), args.source)
    profile_to = run_dir / f"profile-{mode}-{args.stamp}.collapsed" if args.profile and mode == "single" else None
    try:
        result = run_worker_over_backlog(worker, events, n, profile_to)
    finally:
        worker.stop()
    outputs = {ns.topic(t): t for t in ("shop.kpi.snapshots", "shop.kpi.alerts", "shop.kpi.late", "shop.deadletter")}
    result["records_written"] = {outputs.get(topic) or topic.removeprefix(ns.app_id + "-"): count
                                 for topic, count in records_by_topic(args.bootstrap, ns.prefix).items()
                                 if topic in outputs or topic.startswith(ns.app_id + "-")}
    say(f"  {n:,} events in {result['worker_s']:.1f} s ({result['worker_events_per_s']:,.0f} events/s), "
        f"peak RSS {result['peak_rss_mib']:.0f} MiB, /metrics {1000 * result['metrics_render_s']:.1f} ms")
    out = {"events": n, "messages": count, "produce_s": round(seconds, 2),
           "raw_events_per_s": round(raw["events_per_s"], 1), "raw_s": round(raw["seconds"], 3),
           **result, "ratio": round(result["worker_events_per_s"] / raw["events_per_s"], 3),
           "pipeline_only": pipeline,
           "redis_prefix": ns.app_id}
    if profile_to and profile_to.exists():
        summary = RESULTS / profile_to.with_suffix(".txt").name
        RESULTS.mkdir(parents=True, exist_ok=True)
        rows = summarize_profile(profile_to, summary)
        out["profile"] = str(summary.relative_to(ROOT))
        out["profile_top"] = [[name, round(c, 3), round(o, 3)] for name, c, o in rows[:15]]
    return out


# ---------------------------------------------------------------------------- latency

def run_latency(args, rate: float, prefix: str, run_dir: Path) -> dict:
    """Live traffic at `rate` events/s plus marker orders; time from send to visible in /kpis' store."""
    import redis

    ns = Namespace(prefix, "latency", run_dir)
    create_topics(args.bootstrap, list(ns.inputs.values()))
    worker = WorkerProcess(ns, ns.env(args.bootstrap, args.redis_url, **{"SHOPPULSE_INTERIM_INTERVAL": "0.2s",
                                                                         **args.worker_env}), args.source)
    worker.start()
    try:
        wait_until("the latency worker to be ready", lambda: (worker.ready() or {}).get("ready"), 120, worker)
        rows, t0 = live_events(rate, args.latency_seconds)
        store = redis.Redis.from_url(args.redis_url)
        hash_key, field_name = f"{ns.app_id}:latest:interim", f"orders|1m|country={MARKER_COUNTRY}"
        watcher = MarkerWatcher(lambda: store.hget(hash_key, field_name))
        watcher.start()
        cpu_before = worker.cpu_s()
        sent = asyncio.run(send_live(args.bootstrap, rows, t0, args.latency_seconds, ns.inputs, watcher))
        cpu_s = worker.cpu_s() - cpu_before
        deadline = time.monotonic() + 15
        while watcher.unseen() and time.monotonic() < deadline:
            time.sleep(0.1)
        watcher.stop()
        kpis = timed_gets(worker, f"/kpis?kpi=orders&window=1m&final=false&country={MARKER_COUNTRY}", 10)
        status, body = worker.get(f"/kpis?kpi=orders&window=1m&final=false&country={MARKER_COUNTRY}")
        via_kpis = orjson.loads(body)["snapshots"]
        peak = worker.status_kib("VmHWM") / 1024
    finally:
        worker.stop()
    latencies = sorted(watcher.latencies())
    kpis_s = statistics.median(kpis)
    store_p50, store_p99 = _quantile(latencies, 0.5), _quantile(latencies, 0.99)
    return {
        "target_events_per_s": round(rate, 1), "sent_events_per_s": round(sent["events"] / sent["seconds"], 1),
        "seconds": round(sent["seconds"], 1), "markers": len(watcher.markers), "markers_seen": len(latencies),
        "store_p50_s": round(store_p50, 3), "store_p99_s": round(store_p99, 3),
        "store_max_s": round(latencies[-1], 3) if latencies else None,
        "kpis_render_s": round(kpis_s, 4),
        "p50_s": round(store_p50 + kpis_s, 3), "p99_s": round(store_p99 + kpis_s, 3),
        "kpis_agrees_with_store": bool(via_kpis) and via_kpis[-1]["numerator"] == watcher.last_count,
        "worker_cpu_share": round(cpu_s / sent["seconds"], 2), "peak_rss_mib": round(peak, 1),
        "redis_prefix": ns.app_id,
    }


def live_events(rate: float, seconds: float) -> tuple[list, float]:
    """Simulated events for [t0, t0 + seconds) at about `rate` events/s, t0 a little ahead of now.

    Sessions start 60 s before t0 (their events before t0 are dropped) so traffic is
    already flowing at t0; the session rate is calibrated to give `rate` events/s.
    """
    warmup = 60.0
    probe = sum(1 for a, *_ in simulator.generate_timed(SIM_SEED, 0.0, warmup + 30, SESSIONS_PER_S) if a >= warmup)
    sessions_per_s = SESSIONS_PER_S * rate * 30 / max(1, probe)
    estimate_s = (warmup + seconds) * rate * 1.3 / 80_000  # about 80k simulated events/s here, to be safe
    t0 = time.time() + 2 + estimate_s
    rows, dumps = [], orjson.dumps
    for arrival, topic, key, event in simulator.generate_timed(SIM_SEED + 1, round(t0 - warmup, 3), warmup + seconds,
                                                               sessions_per_s):
        if arrival >= t0:
            rows.append((arrival, topic, key.encode() if key is not None else None, dumps(event)))
    return rows, t0


class MarkerWatcher(threading.Thread):
    """Polls the serving-store field of the marker orders and notes when each marker shows."""

    def __init__(self, read):
        super().__init__(daemon=True)
        self.read = read
        self.markers: list[list] = []  # [sent_wall, window_start, rank, seen_wall | None]
        self.last_count = 0
        self._halt = threading.Event()
        self._lock = threading.Lock()

    def add(self, sent_wall: float, window_start: str, rank: int) -> None:
        with self._lock:
            self.markers.append([sent_wall, window_start, rank, None])

    def run(self) -> None:
        while not self._halt.is_set():
            raw = self.read()
            now = time.time()
            if raw:
                snap = orjson.loads(raw)
                self.last_count = snap["numerator"]
                with self._lock:
                    for marker in self.markers:
                        if marker[3] is None and (marker[1] < snap["window_start"] or
                                                  marker[1] == snap["window_start"] and marker[2] <= snap["numerator"]):
                            marker[3] = now
            self._halt.wait(0.02)

    def unseen(self) -> int:
        with self._lock:
            return sum(1 for m in self.markers if m[3] is None)

    def latencies(self) -> list[float]:
        with self._lock:
            return [m[3] - m[0] for m in self.markers if m[3] is not None]

    def stop(self) -> None:
        self._halt.set()
        self.join(5)


async def send_live(bootstrap: str, rows, t0: float, seconds: float, topic_of: dict, watcher: MarkerWatcher) -> dict:
    """Send rows at their arrival times and a marker order every MARKER_INTERVAL_S."""
    from aiokafka import AIOKafkaProducer

    from processors.snapshots import format_utc

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks=1)
    await producer.start()
    wait = t0 - time.time()
    if wait > 0:
        await asyncio.sleep(wait)
    else:
        say(f"  live events ready {-wait:.1f} s late; skipping those already due")
    started = time.time()
    next_marker, marker_n, ranks, events = started + 0.5, 0, {}, 0
    try:
        for arrival, topic, key, value in rows:
            now = time.time()
            if arrival < started:
                continue
            while next_marker <= arrival and next_marker < t0 + seconds - 0.5:
                if next_marker > now:
                    await asyncio.sleep(next_marker - now)
                marker_n += 1
                sent = time.time()
                window = format_utc(int(sent // 60) * 60)
                ranks[window] = ranks.get(window, 0) + 1
                watcher.add(sent, window, ranks[window])
                await producer.send(topic_of[simulator.ORDERS], _marker(marker_n, sent), key=b"bench-marker",
                                    timestamp_ms=int(sent * 1000))
                next_marker += MARKER_INTERVAL_S
                now = time.time()
            if arrival > now + 0.002:
                await asyncio.sleep(arrival - now)
            await producer.send(topic_of[topic], value, key=key, timestamp_ms=int(arrival * 1000))
            events += 1
        await producer.flush()
    finally:
        await producer.stop()
    return {"events": events + marker_n, "seconds": time.time() - started}


def _marker(n: int, sent_wall: float) -> bytes:
    return orjson.dumps({
        "specversion": "1.0", "id": f"bench-marker-{n}", "source": "bench", "type": "order_completed",
        "time": simulator.rfc3339(sent_wall),
        "data": {"order_id": f"bench-order-{n}", "customer_id": f"bench-customer-{n}", "currency": "USD",
                 "revenue": 1.0, "country": MARKER_COUNTRY}})


def _quantile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank quantile."""
    if not sorted_values:
        return float("nan")
    index = max(0, min(len(sorted_values) - 1, int(-(-q * len(sorted_values) // 1)) - 1))
    return sorted_values[index]


# ------------------------------------------------------------------------------- soak

def run_soak(args, prefix: str, run_dir: Path) -> dict:
    """One worker over exactly `args.soak_hours` simulated hours; its RSS against its stream time."""
    hours = args.soak_hours
    say(f"soak: simulating {hours:g} h of events (seed {SIM_SEED}, {SESSIONS_PER_S:g} sessions/s)")
    events = build_events(span_s=hours * 3600)
    n = len(events.rows)
    ns = Namespace(prefix, "soak", run_dir)
    create_topics(args.bootstrap, list(ns.inputs.values()))
    say(f"soak: writing {n:,} events of {events.sessions:,} sessions, one per message")
    count, written, produce_s = asyncio.run(produce(args.bootstrap, singles(events.rows), ns.inputs))
    assert written == n, (written, n)
    arrivals = array("d", (ts / 1000 for *_, ts in events.rows))  # only times are needed from here on
    events.rows.clear()
    say(f"soak: shoppulse worker, RSS sampled every {SOAK_SAMPLE_S:g} s")
    worker = WorkerProcess(ns, ns.env(args.bootstrap, args.redis_url, **args.worker_env), args.source)
    trace = Trace()
    try:
        run = run_worker_over_backlog(worker, events, n, None, interval_s=SOAK_SAMPLE_S, trace=trace)
        end_state = state_gauges(worker.metrics())
    finally:
        worker.stop()
    snapshots = state_snapshots(worker.log_path.read_text(errors="replace"), trace)
    out = {"simulated_hours": hours, "events": n, "sessions": events.sessions, "messages": count,
           "produce_s": round(produce_s, 2), "simulated_span_s": round(events.max_time_s - events.first_time_s, 1),
           **{k: run[k] for k in ("worker_s", "worker_events_per_s", "worker_cpu_s", "worker_events_per_cpu_s",
                                  "consumed", "rejected", "late", "duplicates", "final_snapshots",
                                  "peak_rss_mib", "rss_mib_end")},
           **soak_rss(trace, hours), **soak_state(trace, arrivals, end_state), "state_snapshots": snapshots,
           "redis_prefix": ns.app_id}
    say(f"  {n:,} events in {out['worker_s']:.1f} s ({out['worker_events_per_s']:,.0f} events/s), peak RSS "
        f"{out['peak_rss_mib']:.0f} MiB, growth from minute 60 {out['rss_growth_from_60_min_mib']} MiB")
    return out


def _stream_minute(wm: float) -> float:
    return (wm - SIM_START_S) / 60


def _nearest(points: list, minute: float):
    return min(points, key=lambda p: abs(p[0] - minute))


def soak_rss(trace: Trace, hours: float) -> dict:
    """RSS at the marks and over the stream, by the worker's stream minute (nearest sample)."""
    points = [(_stream_minute(wm), kib / 1024) for _t, wm, kib in trace.rss if wm is not None]
    marks = [m for m in SOAK_MARKS_MIN if m <= hours * 60]
    at = {str(m): {"stream_minute": round(p[0], 1), "rss_mib": round(p[1], 1)}
          for m in marks for p in [_nearest(points, m)]}
    end = points[-1][1]
    base = _nearest(points, 60)[1] if hours * 60 >= 60 else None
    curve = list(dict.fromkeys(_nearest(points, m) for m in range(0, int(hours * 60) + 1, SOAK_CURVE_STEP_MIN)))
    return {"rss_samples_taken": len(trace.rss), "rss_sample_interval_s": SOAK_SAMPLE_S,
            "rss_at_stream_minute": at, "rss_mib_at_all_final": round(end, 1),
            "rss_growth_from_60_min_mib": None if base is None else round(end - base, 1),
            "rss_growth_from_60_min_pct": None if base is None else round(100 * (end - base) / base, 1),
            "rss_curve": {"fields": ["stream_minute", "rss_mib"],
                          "values": [[round(m, 1), round(r, 1)] for m, r in curve]}}


def soak_state(trace: Trace, arrivals, end_state: dict) -> dict:
    """Open sessions and state keys per store over the stream (at each progress report) and at the end.

    A backlog is not read evenly: small topics are drained first, so the state at
    watermark minute m already holds their later events. `read_minute` is the
    arrival minute of the last event consumed, for comparison.
    """
    rows = [(_stream_minute(wm), (arrivals[c - 1] - SIM_START_S) / 60 if c else 0.0, g)
            for _t, wm, c, g in trace.gauges if wm is not None]
    near = min(rows, key=lambda r: abs(r[0] - 60)) if rows and rows[-1][0] >= 60 else None
    return {"state_at_end": end_state,
            "state_near_60_min": near and {"stream_minute": round(near[0], 1), "read_minute": round(near[1], 1),
                                           **near[2]},
            "state_curve": {"fields": ["stream_minute", "read_minute", "open_sessions", "state_keys"],
                            "values": [[round(m, 1), round(r, 1), g["open_sessions"], g["state_keys"]]
                                       for m, r, g in rows]}}


def state_snapshots(log: str, trace: Trace) -> list[dict]:
    """The worker's full-state snapshots (log lines), at the stream minute and RSS of the nearest sample."""
    out = []
    for stamp, records, chunks in SNAPSHOT_LINE.findall(log):
        when = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
        sample = min(trace.rss, key=lambda r: abs(r[0] - when))
        out.append({"stream_minute": None if sample[1] is None else round(_stream_minute(sample[1]), 1),
                    "records": int(records), "chunks": int(chunks), "rss_mib": round(sample[2] / 1024, 1)})
    return out


# ---------------------------------------------------------------------------- exactness

def compare_finals(redis_url: str, prefix_a: str, prefix_b: str) -> dict:
    """Do two runs over the same events leave the same latest final snapshots in the serving store?"""
    import redis

    store = redis.Redis.from_url(redis_url)

    def finals(prefix: str) -> dict:
        return {k: _comparable(orjson.loads(v)) for k, v in store.hgetall(f"{prefix}:latest:final").items()}

    a, b = finals(prefix_a), finals(prefix_b)
    different = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return {"fields": len(a), "identical": not different, "differing": [k.decode() for k in different[:50]],
            "examples": {k.decode(): [a.get(k), b.get(k)] for k in different[:3]}}


def _comparable(snap: dict) -> tuple:
    return (snap["window_start"], snap["value"], snap["numerator"], snap["denominator"], snap.get("currency"))


def cleanup_redis(redis_url: str, prefix: str) -> None:
    import redis

    store = redis.Redis.from_url(redis_url)
    keys = list(store.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        store.delete(*keys)


# ---------------------------------------------------------------------------- report

def verdicts(result: dict) -> dict:
    single, batch = result.get("single", {}), result.get("batch", {})
    checks = {
        "single_events_per_s": (single.get("worker_events_per_s"), ">=", TARGETS["single_events_per_s"]),
        "batch_events_per_s": (batch.get("worker_events_per_s"), ">=", TARGETS["batch_events_per_s"]),
        "batch_ratio": (batch.get("ratio"), ">=", TARGETS["batch_ratio"]),
        "latency_p99_s": (result.get("latency_p99_s"), "<", TARGETS["latency_p99_s"]),
        "metrics_render_s": (result.get("metrics_render_s"), "<", TARGETS["metrics_render_s"]),
        "peak_rss_mib": (result.get("peak_rss_mib"), "<", TARGETS["peak_rss_mib"]),
        "soak_peak_rss_mib": (result.get("soak", {}).get("peak_rss_mib"), "<", TARGETS["soak_peak_rss_mib"]),
    }
    out = {}
    for name, (value, op, target) in checks.items():
        ok = None if value is None else (value >= target if op == ">=" else value < target)
        out[name] = {"value": value, "target": f"{op} {target}", "met": ok}
    return out


def print_table(result: dict) -> None:
    rows = [("", "worker ev/s", "raw ev/s", "worker/raw", "worker ev/CPU-s", "pipeline-only ev/s",
             "changelog rec/ev", "peak RSS MiB", "/metrics ms")]
    for mode in ("single", "batch"):
        r = result.get(mode)
        if r:
            pipeline = r.get("pipeline_only") or {}
            changelog = r["records_written"].get("engine_state-changelog", 0) / r["events"]
            rows.append((mode, f"{r['worker_events_per_s']:,.0f}", f"{r['raw_events_per_s']:,.0f}",
                         f"{r['ratio']:.3f}", f"{r['worker_events_per_cpu_s']:,.0f}",
                         f"{pipeline.get('events_per_s', 0):,.0f}", f"{changelog:.2f}",
                         f"{r['peak_rss_mib']:.0f}", f"{1000 * r['metrics_render_s']:.1f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print()
    for row in rows if len(rows) > 1 else ():
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths)))
    lat = result.get("latency")
    if lat:
        print(f"\nlatency at {lat['sent_events_per_s']:,.0f} events/s: p50 {lat['p50_s']:.3f} s, "
              f"p99 {lat['p99_s']:.3f} s (serving store p99 {lat['store_p99_s']:.3f} s + GET /kpis "
              f"{1000 * lat['kpis_render_s']:.1f} ms; {lat['markers_seen']}/{lat['markers']} markers)")
    if "exact" in result:
        e = result["exact"]
        print(f"single and batch final snapshots identical: {e['identical']} ({e['fields']} serving fields)")
    if result.get("soak"):
        print_soak(result["soak"])
    print("\ntargets:")
    for name, v in result["targets"].items():
        mark = {True: "met", False: "NOT met", None: "not measured"}[v["met"]]
        print(f"  {name:22} {v['value']!s:>12}  {v['target']:>10}  {mark}")
    m = result["machine"]
    print(f"\nmachine: {m['cpus']} x {m['cpu_model']}, {m['ram_gib']} GiB RAM, load average "
          f"{m['load_average_at_start']} at start, {m.get('load_average_at_end')} at end")
    print(f"command: {result['command']}")


def print_soak(soak: dict) -> None:
    marks = ", ".join(f"{m} min {v['rss_mib']:.0f}" for m, v in soak["rss_at_stream_minute"].items())
    growth = soak["rss_growth_from_60_min_mib"]
    print(f"\nsoak: {soak['simulated_hours']:g} simulated hours, {soak['events']:,} events, "
          f"{soak['sessions']:,} sessions, one per message; worker {soak['worker_events_per_s']:,.0f} events/s "
          f"({soak['worker_s']:.0f} s)")
    print(f"  RSS MiB: {'at stream time ' + marks + '; ' if marks else ''}at all windows final "
          f"{soak['rss_mib_at_all_final']:.0f}; peak {soak['peak_rss_mib']:.0f}")
    if growth is not None:
        print(f"  growth from minute 60 to the end: {growth:+.1f} MiB ({soak['rss_growth_from_60_min_pct']:+.1f}%)")
    curve = soak["rss_curve"]["values"]
    print("  curve (stream minute: MiB): " + ", ".join(f"{m:.0f}: {r:.0f}" for m, r in curve))
    end, mid = soak["state_at_end"], soak.get("state_near_60_min")
    keys = ", ".join(f"{k} {v:,}" for k, v in end["state_keys"].items())
    print(f"  at the end: {end['open_sessions']:,} open sessions; state keys {keys}")
    if mid:
        keys = ", ".join(f"{k} {v:,}" for k, v in mid["state_keys"].items())
        print(f"  near minute {mid['stream_minute']:.0f} (events read through minute {mid['read_minute']:.0f}): "
              f"{mid['open_sessions']:,} open sessions; state keys {keys}")
    for snap in soak["state_snapshots"]:
        print(f"  full state snapshot near minute {snap['stream_minute']}: {snap['records']:,} records, "
              f"{snap['chunks']} chunks; RSS then {snap['rss_mib']:.0f} MiB")


def write_results(result: dict, stamp: str, profiled: bool) -> Path:
    """A dated copy, and latest.json unless the worker ran under the profiler (figures perturbed)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2) + "\n"
    dated = RESULTS / f"{'profiled' if profiled else 'throughput'}-{stamp}.json"
    dated.write_text(text)
    if not profiled:
        (RESULTS / "latest.json").write_text(text)
    return dated


# ------------------------------------------------------------------------------ main

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, help="events per mode (default 1,000,000; 100,000 with --quick)")
    parser.add_argument("--quick", action="store_true", help="100,000 events and a 15 s latency run")
    parser.add_argument("--modes", default="single,batch", help="single, batch, both (default) or none "
                        "(e.g. with --soak alone)")
    parser.add_argument("--latency-seconds", type=float, default=30.0, help="length of the latency run")
    parser.add_argument("--latency-rate", type=float, help="events/s of the latency run "
                        "(default: half the single-message worker rate)")
    parser.add_argument("--no-latency", action="store_true", help="skip the latency run")
    parser.add_argument("--soak", action="store_true", help="last, one worker over exactly --soak-hours simulated "
                        "hours (one event per message); RSS against stream time")
    parser.add_argument("--soak-hours", type=float, default=2.0, help="simulated hours of the soak (default 2: "
                        "about 500,000 sessions, 2.1 million events)")
    parser.add_argument("--profile", action="store_true", help="py-spy profile of the single-message worker "
                        "(bench/results/profile-single-*.txt)")
    parser.add_argument("--bootstrap", help="use this Kafka instead of starting one (needs --redis-url)")
    parser.add_argument("--redis-url", help="Redis of the serving store when --bootstrap is given")
    parser.add_argument("--run-dir", default="/tmp/shoppulse-bench-run", help="private run dir for the services, "
                        "worker state and logs (default /tmp/shoppulse-bench-run)")
    parser.add_argument("--kafka-port", type=int, default=49092)
    parser.add_argument("--redis-port", type=int, default=46379)
    parser.add_argument("--source", type=Path, default=ROOT, help="run the worker from this checkout, e.g. a "
                        "`git worktree` of another commit (default: this repository)")
    parser.add_argument("--worker-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment of the workers, e.g. SHOPPULSE_BATCH_MAX_EVENTS=500 (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep topics, Redis keys and worker state")
    parser.add_argument("--raw-consumer", help=argparse.SUPPRESS)
    parser.add_argument("--pipeline-only", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.events is None:
        args.events = 100_000 if args.quick else 1_000_000
    if args.quick:
        args.latency_seconds = min(args.latency_seconds, 15.0)
    args.worker_env = dict(item.split("=", 1) for item in args.worker_env)
    if args.soak_hours <= 0:
        parser.error("--soak-hours must be positive")
    if args.bootstrap and not args.redis_url:
        parser.error("--bootstrap needs --redis-url")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    if args.pipeline_only:
        spec = json.loads(args.pipeline_only)
        print(json.dumps(pipeline_only(Path(spec["source"]), spec["events"], spec["mode"])))
        return 0
    if args.raw_consumer:
        spec = json.loads(args.raw_consumer)
        result = asyncio.run(raw_consume(spec["bootstrap"], spec["topics"], spec["expected"], 600))
        print(json.dumps(result))
        return 0
    args.stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    modes = [m for m in ("single", "batch") if m in args.modes.split(",")]
    run_dir = Path(args.run_dir)
    services = None if args.bootstrap else Services(run_dir, args.kafka_port, args.redis_port)
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    result: dict = {"command": shlex.join([Path(sys.executable).name, "bench/throughput.py", *(argv or sys.argv[1:])]),
                    "started_at": args.stamp, "machine": machine(), "code": code_version(args.source),
                    "events": args.events if modes else None,
                    "settings": {"sessions_per_s": SESSIONS_PER_S, "seed": SIM_SEED, "batch_size": BATCH_SIZE,
                                 "partitions": PARTITIONS, "idle_partition": IDLE_PARTITION,
                                 "marker_interval_s": MARKER_INTERVAL_S, "worker_env": args.worker_env}}
    try:
        if services:
            services.start()
            args.bootstrap, args.redis_url = services.bootstrap, services.redis_url
        if modes:
            say(f"simulating {args.events:,} events (seed {SIM_SEED}, {SESSIONS_PER_S:g} sessions/s)")
            events = build_events(args.events)
            result["simulated_span_s"] = round(events.max_time_s - events.first_time_s, 1)
            result["mean_event_bytes"] = round(events.bytes_total / len(events.rows), 1)
            for mode in modes:
                result[mode] = run_mode(mode, events, args, prefix, run_dir)
            if len(modes) == 2:
                result["exact"] = compare_finals(args.redis_url, result["single"]["redis_prefix"],
                                                 result["batch"]["redis_prefix"])
            del events
        rate = args.latency_rate or (result["single"]["worker_events_per_s"] / 2 if "single" in result else None)
        if not args.no_latency and rate:
            say(f"latency: live traffic at {rate:,.0f} events/s for {args.latency_seconds:g} s")
            result["latency"] = run_latency(args, rate, prefix, run_dir)
            result["latency_p50_s"] = result["latency"]["p50_s"]
            result["latency_p99_s"] = result["latency"]["p99_s"]
        if args.soak:
            result["soak"] = run_soak(args, prefix, run_dir)
        if "single" in result:
            result["metrics_render_s"] = result["single"]["metrics_render_s"]
        peaks = [result[m]["peak_rss_mib"] for m in modes] + ([result["latency"]["peak_rss_mib"]]
                                                              if "latency" in result else [])
        result["peak_rss_mib"] = max(peaks) if peaks else None  # the soak has its own target
        result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        result["targets"] = verdicts(result)
        dated = write_results(result, args.stamp, args.profile)
        print_table(result)
        print(f"results: {dated.relative_to(ROOT)}" + ("" if args.profile else " and bench/results/latest.json"))
        return 0
    finally:
        if args.bootstrap and not args.keep:
            try:
                delete_topics(args.bootstrap, prefix)
                cleanup_redis(args.redis_url, prefix)
            except Exception as exc:  # clean-up must not hide the run's own error
                say(f"clean-up failed: {exc!r}")
        if not args.keep:
            for path in run_dir.glob(f"{prefix}-*"):
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
        if services:
            services.stop()


if __name__ == "__main__":
    sys.exit(main())
