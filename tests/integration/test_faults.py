"""Exact numbers under crashes, restarts, broker and Redis outages, duplicates and late data.

Each scenario replays the same seeded event file (all topics, with re-sent duplicates)
through the real Kafka into `shoppulse worker` processes, injects a fault, and compares
every final snapshot with `shoppulse compute` over the same file: equal, nothing
missing, nothing extra; a key emitted twice must carry identical values (a re-emission
after a crash). Run alone with `bash deploy/local/test.sh -m faults`.
"""
from __future__ import annotations

import os
import random
import subprocess
import threading
import time
from pathlib import Path

import orjson
import pytest

from .harness import ROOT, Namespace, Worker, comparable, compute, producer, read_topic, run_cli

pytestmark = pytest.mark.faults

EVENTS_AT_LEAST = 100_000


@pytest.fixture(scope="module")
def event_file(tmp_path_factory) -> Path:
    """A seeded storefront with feeds and 2% re-sent duplicates: over 100,000 events."""
    path = tmp_path_factory.mktemp("faults") / "events.jsonl"
    run_cli(["simulate", "--seed", "23", "--start", "2019-06-13T08:00:00Z", "--duration", "100m",
             "--rate", "5", "--feeds", "--duplicates", "0.02", "--out", str(path)], dict(os.environ))
    assert path.read_bytes().count(b"\n") >= EVENTS_AT_LEAST
    return path


def _key(s: dict) -> str:
    dims = ",".join(f"{k}={v}" for k, v in sorted(s["dims"].items()))
    return f"{s['kpi']}|{s['window']}|{s['window_start']}|{dims}"


class Run:
    """One scenario: its namespace, the expected snapshots, the worker(s)."""

    def __init__(self, tmp_path: Path, event_file: Path, **settings: str):
        self.ns = Namespace(tmp_path, **settings)
        self.events = self.ns.retopic(event_file, tmp_path / "events.jsonl")
        self.expected = {_key(s): s for s in compute(self.events, self.ns.env())}

    def replay_in_background(self, *extra: str) -> threading.Thread:
        thread = threading.Thread(target=run_cli, args=(["replay", str(self.events), *extra], self.ns.env()),
                                  daemon=True)
        thread.start()
        return thread

    def wait_and_compare(self, timeout: float = 240) -> dict[str, list[dict]]:
        keys = set(self.expected)
        finals: dict[str, list[dict]] = {}
        parsed = [0]

        def complete(records) -> bool:
            for key, value in records[parsed[0]:]:
                if b'"final":true' in value:
                    finals.setdefault(key.decode(), []).append(orjson.loads(value))
            parsed[0] = len(records)
            return keys <= set(finals)

        read_topic(self.ns.topics["snapshots"], until=complete, timeout=timeout, settle=5)
        missing = sorted(keys - set(finals))
        extra = sorted(set(finals) - keys)
        assert not missing, f"{len(missing)} final snapshots missing, e.g. {missing[:5]}"
        assert not extra, f"{len(extra)} unexpected final snapshots, e.g. {extra[:5]}"
        for key, snaps in finals.items():
            want = comparable(self.expected[key])
            got = {comparable(s) for s in snaps}
            assert got == {want}, f"{key}: stream {sorted(map(str, got))} != batch {want}"
        return finals


def _consumed(worker: Worker) -> float:
    try:
        text = worker.get("/metrics").decode()
    except Exception:
        return 0.0
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("shoppulse_events_consumed_total"))


def test_kill_9_at_random_points_five_times(tmp_path, event_file):
    # Full state snapshots every few seconds: restarts load a snapshot plus the deltas after it.
    run = Run(tmp_path, event_file, state_snapshot_interval="2s")
    rng = random.Random(5)
    worker = Worker(run.ns).start()
    replay = run.replay_in_background()
    try:
        for _ in range(5):
            time.sleep(rng.uniform(2.0, 5.0))
            worker.kill9()
            worker = Worker(run.ns).start()
        replay.join(300)
        run.wait_and_compare()
        assert b"state snapshot at epoch" in worker.log_path.read_bytes()
    finally:
        worker.stop()


def test_graceful_stop_and_restart_mid_stream(tmp_path, event_file):
    run = Run(tmp_path, event_file)
    worker = Worker(run.ns).start()
    replay = run.replay_in_background()
    try:
        time.sleep(4)
        worker.stop()
        time.sleep(2)
        worker = Worker(run.ns).start()
        replay.join(300)
        run.wait_and_compare()
    finally:
        worker.stop()


def _group_member(run: Run, n: int) -> Worker:
    """Worker n of one consumer group: its own web port, log and state directory."""
    from .harness import free_port

    return Worker(run.ns, f"worker-{n}", web_port=str(free_port()), data_dir=str(run.ns.tmp / f"state-{n}"))


def _wait_for_roles(workers: list[Worker], timeout: float = 60) -> Worker:
    """Wait until exactly one worker holds the engine lease and the rest are standbys; return it."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        roles = [w.role() for w in workers]
        if roles.count("active") == 1 and roles.count("standby") == len(workers) - 1:
            return workers[roles.index("active")]
        time.sleep(0.5)
    raise AssertionError(f"roles {[w.role() for w in workers]} after {timeout}s")


@pytest.mark.parametrize("members", [2, 3])
def test_workers_in_one_group_one_killed_and_one_added_mid_stream(tmp_path, event_file, members):
    run = Run(tmp_path, event_file)
    workers = [_group_member(run, 0).start()]
    workers += [_group_member(run, n).start(role=None) for n in range(1, members)]
    try:
        active = _wait_for_roles(workers)
        replay = run.replay_in_background()
        time.sleep(4)
        consumed = _consumed(active)
        assert 0 < consumed < EVENTS_AT_LEAST, f"killed mid-stream, not after {consumed:.0f} events"
        active.kill9()  # a standby takes the lease over and recovers the state from the changelog
        workers.remove(active)
        time.sleep(3)
        workers.append(_group_member(run, members).start(role=None))  # a rebalance mid-stream
        replay.join(300)
        run.wait_and_compare(timeout=300)
        holder = _wait_for_roles(workers)
        assert holder is not active
        for standby in (w for w in workers if w is not holder):  # sums across workers stay right
            assert "shoppulse_sessions{" not in standby.get("/metrics").decode()
    finally:
        for worker in workers:
            worker.stop()


def _service(action: str, name: str) -> None:
    script = "stop.sh" if action == "stop" else f"{name}-start.sh"
    args = ["bash", str(ROOT / "deploy" / "local" / script)] + ([name] if action == "stop" else [])
    subprocess.run(args, check=True, timeout=180, capture_output=True)


def test_broker_stop_and_restart_mid_stream(tmp_path, event_file):
    run = Run(tmp_path, event_file)
    worker = Worker(run.ns).start()
    try:
        run_cli(["replay", str(run.events)], run.ns.env())
        time.sleep(2)
        _service("stop", "kafka")
        time.sleep(5)
        _service("start", "kafka")
        run.wait_and_compare(timeout=300)
        assert worker.proc.poll() is None, "the worker should recover from a broker restart on its own"
    finally:
        worker.stop()
        _service("start", "kafka")


def test_redis_outage_mid_stream(tmp_path, event_file):
    run = Run(tmp_path, event_file)
    worker = Worker(run.ns).start()
    try:
        _service("stop", "redis")
        replay = run.replay_in_background()
        time.sleep(6)
        status = None
        try:
            worker.get("/kpis")
        except Exception as exc:  # 503 while the serving store is down
            status = getattr(exc, "code", None)
        assert status == 503
        _service("start", "redis")
        replay.join(300)
        run.wait_and_compare()
        deadline = time.time() + 60
        while time.time() < deadline:
            kpis = orjson.loads(worker.get("/kpis?final=true&kpi=orders"))
            if kpis["count"]:
                break
            time.sleep(1)
        assert kpis["count"] > 0, "the serving store catches up after Redis returns"
    finally:
        worker.stop()
        _service("start", "redis")


def _order(n: int, seconds: int, country: str = "US") -> bytes:
    """An order `seconds` after 2019-06-13T10:00:00Z."""
    hour, rest = divmod(seconds, 3600)
    minute, second = divmod(rest, 60)
    return orjson.dumps({"specversion": "1.0", "id": f"late-{n}", "source": "shop", "type": "order_completed",
                         "time": f"2019-06-13T{10 + hour:02d}:{minute:02d}:{second:02d}Z",
                         "data": {"order_id": f"o{n}", "customer_id": f"c{n}", "currency": "USD",
                                  "revenue": 10.0, "country": country}})


def _finals(ns: Namespace, kpi: str, window: str, start: str, until_count: int = 1) -> list[dict]:
    def found(records) -> bool:
        return sum(1 for _, v in records if f'"kpi":"{kpi}"'.encode() in v and f'"window":"{window}"'.encode() in v
                   and b'"final":true' in v and b'"dims":{}' in v and start.encode() in v) >= until_count

    records = read_topic(ns.topics["snapshots"], until=found, timeout=90, settle=2)
    return [s for s in (orjson.loads(v) for _, v in records) if s["kpi"] == kpi and s["window"] == window
            and s["final"] and not s["dims"] and s["window_start"] == start]


def test_events_past_grace_go_to_the_late_topic_and_finals_never_change(tmp_path):
    ns = Namespace(tmp_path)
    worker = Worker(ns).start()
    try:
        with producer() as send:
            for n in (1, 2):  # two orders in 10:00-10:01, one out of order but within grace
                send.send(ns.topics["orders"], _order(n, 30 - 20 * (n - 1)))
            send.send(ns.topics["orders"], _order(3, 600))  # 10:10: the 10:00 1m and 5m windows close
            send.flush()
        first = _finals(ns, "orders", "1m", "2019-06-13T10:00:00Z")
        assert [s["value"] for s in first] == [2]
        with producer() as send:  # a third order for 10:00:40, after its 1m and 5m windows are final
            send.send(ns.topics["orders"], _order(4, 40)).get(timeout=30)
        late = read_topic(ns.topics["late"], until=lambda r: len(r) >= 1, timeout=60, settle=3)
        assert len(late) == 1
        record = orjson.loads(late[0][1])
        assert record["event"]["id"] == "late-4" and record["missed_windows"] == ["1m", "5m"]
        metrics = worker.get("/metrics").decode()
        assert f'shoppulse_events_late_total{{topic="{ns.topics["orders"]}"}} 1.0' in metrics
        worker.stop()  # the 1h window closes at the end: it counts the late order (4 orders)
        worker = Worker(ns).start()
        with producer() as send:
            send.send(ns.topics["orders"], _order(5, 3700)).get(timeout=30)  # 11:01:40 closes 10:00-11:00
        hour = _finals(ns, "orders", "1h", "2019-06-13T10:00:00Z")
        assert [s["value"] for s in hour] == [4]
        # The 10:00 1m window was emitted once, with the value it had: the late order did not change it.
        assert [s["value"] for s in _finals(ns, "orders", "1m", "2019-06-13T10:00:00Z")] == [2]
    finally:
        worker.stop()


def test_a_flood_of_new_label_values_is_capped_with_an_other_bucket(tmp_path):
    ns = Namespace(tmp_path, max_label_values="10")
    worker = Worker(ns).start()
    countries = [a + b for a in "QRSTUVWXYZ" for b in "ABC"]  # 30 made-up country codes
    try:
        with producer() as send:
            # One key, one partition: the order of arrival decides which values are admitted.
            for n, country in enumerate(countries):
                send.send(ns.topics["orders"], _order(100 + n, n, country), key=b"flood")
            send.send(ns.topics["orders"], _order(999, 600), key=b"flood")  # closes 10:00-10:01
            send.flush()
        _finals(ns, "orders", "1m", "2019-06-13T10:00:00Z")
        deadline = time.time() + 30
        while time.time() < deadline:
            metrics = worker.get("/metrics").decode()
            by_country = [line for line in metrics.splitlines()
                          if line.startswith('shoppulse_orders{breakdown="country"') and 'window="1m"' in line]
            if by_country:
                break
            time.sleep(1)
        # 10 admitted countries plus "other" (the overall order at 10:10 is US, the 11th value: other).
        assert len(by_country) == 11, by_country
        other = [line for line in by_country if 'country="other"' in line]
        assert other and float(other[0].rsplit(" ", 1)[1]) == 20.0  # 30 - 10 folded in 10:00-10:01
        folded = [line for line in metrics.splitlines() if line.startswith("shoppulse_label_values_folded_total")]
        assert folded and float(folded[0].rsplit(" ", 1)[1]) >= 20
    finally:
        worker.stop()


def test_poison_messages_are_dead_lettered_once_and_the_worker_keeps_going(tmp_path):
    ns = Namespace(tmp_path)
    worker = Worker(ns).start()
    poison = {b"not json": "not_json", b"[1]": "not_object",
              orjson.dumps({"specversion": "1.0"}): "missing_field:id",
              b"x" * (1024 * 1024 + 10): "too_large", None: "no_value"}
    try:
        with producer() as send:
            for n, value in enumerate(poison):
                send.send(ns.topics["orders"], value, key=f"k{n}".encode())
            send.flush()
        read_topic(ns.topics["deadletter"], until=lambda r: len(r) >= len(poison), timeout=60)
        worker.stop()  # a restart must not dead-letter them again
        worker = Worker(ns).start()
        with producer() as send:
            send.send(ns.topics["orders"], _order(1, 5)).get(timeout=30)
            send.send(ns.topics["orders"], _order(2, 600)).get(timeout=30)
        assert [s["value"] for s in _finals(ns, "orders", "1m", "2019-06-13T10:00:00Z")] == [1]
        dead = read_topic(ns.topics["deadletter"], until=lambda r: len(r) >= len(poison), timeout=30, settle=3)
        assert sorted(orjson.loads(v)["reason"] for _, v in dead) == sorted(poison.values())
    finally:
        worker.stop()
