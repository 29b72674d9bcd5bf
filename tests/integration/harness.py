"""Real Kafka, Redis and `shoppulse worker` processes for integration tests."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = os.environ.get("SHOPPULSE_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
REDIS_URL = os.environ.get("SHOPPULSE_REDIS_URL", "redis://127.0.0.1:16379/0")
SHOPPULSE = str(Path(sys.executable).with_name("shoppulse"))
DEFAULT_TOPICS = {"clickstream": "shop.clickstream", "orders": "shop.orders", "chat": "shop.chat",
                  "support": "shop.support", "marketing": "shop.marketing", "catalog": "shop.catalog",
                  "operations": "shop.operations", "snapshots": "shop.kpi.snapshots", "alerts": "shop.kpi.alerts",
                  "deadletter": "shop.deadletter", "late": "shop.kpi.late"}


def require_services() -> None:
    """Fail (never skip) with a clear message when Kafka or Redis is not there."""
    try:
        KafkaAdminClient(bootstrap_servers=BOOTSTRAP, request_timeout_ms=5000).close()
    except Exception as exc:
        raise RuntimeError(f"Kafka is not reachable at {BOOTSTRAP} ({exc}); "
                           "run the tests with `bash deploy/local/test.sh`") from exc
    import redis

    redis.Redis.from_url(REDIS_URL, socket_timeout=3).ping()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Namespace:
    """Topic names, app id, Redis prefix and state directory private to one test."""

    def __init__(self, tmp_path: Path, **settings: str):
        self.id = "t" + uuid.uuid4().hex[:10]
        self.topics = {name: f"{self.id}.{default}" for name, default in DEFAULT_TOPICS.items()}
        self.by_default = {default: self.topics[name] for name, default in DEFAULT_TOPICS.items()}
        self.tmp = tmp_path
        self.web_port = free_port()
        self.settings = settings

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "SHOPPULSE_KAFKA_BOOTSTRAP": BOOTSTRAP, "SHOPPULSE_REDIS_URL": REDIS_URL,
            "SHOPPULSE_APP_ID": self.id, "SHOPPULSE_REDIS_KEY_PREFIX": self.id,
            "SHOPPULSE_DATA_DIR": str(self.tmp / "worker-state"), "SHOPPULSE_WEB_PORT": str(self.web_port),
            "SHOPPULSE_IDLE_PARTITION": "2s", "SHOPPULSE_INTERIM_INTERVAL": "2s",
        })
        env.update({f"SHOPPULSE_TOPIC_{name.upper()}": topic for name, topic in self.topics.items()})
        env.update({k.upper() if k.startswith("SHOPPULSE_") else f"SHOPPULSE_{k.upper()}": v
                    for k, v in {**self.settings, **extra}.items()})
        return env

    def retopic(self, source: Path, target: Path) -> Path:
        """Copy a `{"topic", "key", "event"}` JSONL file with this namespace's topic names."""
        with open(source, "rb") as src, open(target, "wb") as dst:
            for line in src:
                wrapper = orjson.loads(line)
                wrapper["topic"] = self.by_default.get(wrapper["topic"], wrapper["topic"])
                dst.write(orjson.dumps(wrapper) + b"\n")
        return target


def run_cli(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    result = subprocess.run([SHOPPULSE, *args], env=env, capture_output=True, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"shoppulse {' '.join(args)} exited {result.returncode}:\n"
                             f"{result.stderr.decode(errors='replace')[-3000:]}")
    return result


def compute(path: Path, env: dict[str, str]) -> list[dict]:
    out = run_cli(["compute", str(path)], env)
    return [orjson.loads(line) for line in out.stdout.splitlines() if line.strip()]


class ManagedProcess:
    """A child process in a process group of its own, logging to `log_path`."""

    log_path: Path
    proc: subprocess.Popen | None = None

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_bytes()[-n:].decode(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = 30) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def kill9(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


class Worker(ManagedProcess):
    """One `shoppulse worker` process with its own log file."""

    def __init__(self, ns: Namespace, name: str = "worker", **extra_env: str):
        self.ns = ns
        self.log_path = ns.tmp / f"{name}.log"
        self.env = ns.env(**extra_env)
        self.web_port = int(extra_env.get("web_port", ns.web_port))
        self.proc: subprocess.Popen | None = None

    def start(self, ready_timeout: float = 90, role: str | None = "active") -> "Worker":
        """Start and wait until /ready answers 200 (in `role`, when given: active or standby)."""
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([SHOPPULSE, "worker"], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.time() + ready_timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url("/ready"), timeout=2) as response:
                    if response.status == 200 and role in (None, orjson.loads(response.read())["role"]):
                        return self
            except Exception:
                pass
            time.sleep(0.5)
        raise AssertionError(f"worker not ready within {ready_timeout}s:\n{self.log_tail()}")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.web_port}{path}"

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url(path), timeout=10) as response:
            return response.read()

    def role(self) -> str | None:
        """"active", "standby" or "starting"; None while the web server does not answer."""
        try:
            with urllib.request.urlopen(self.url("/ready"), timeout=2) as response:
                return orjson.loads(response.read())["role"]
        except urllib.error.HTTPError as error:
            return orjson.loads(error.read())["role"]
        except Exception:
            return None


def producer() -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=BOOTSTRAP, linger_ms=5, max_request_size=4 * 1024 * 1024)


def read_topic(topic: str, *, until=None, timeout: float = 120, settle: float = 0.0) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of a topic from the start, until `until(records)` holds (bounded).

    With `settle`, keep reading that long after the condition first holds, to catch
    anything extra.
    """
    consumer = KafkaConsumer(bootstrap_servers=BOOTSTRAP, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=500)
    partitions = None
    deadline = time.time() + timeout
    while partitions is None and time.time() < deadline:
        partitions = consumer.partitions_for_topic(topic)
        if partitions is None:
            time.sleep(0.5)
    if partitions is None:
        consumer.close()
        raise AssertionError(f"topic {topic} does not exist")
    consumer.assign([TopicPartition(topic, p) for p in partitions])
    consumer.seek_to_beginning()
    records: list[tuple[bytes, bytes]] = []
    settled_at = None
    try:
        while time.time() < deadline:
            batch = consumer.poll(timeout_ms=500)
            for messages in batch.values():
                records += [(m.key, m.value) for m in messages]
            if until is None or until(records):
                if settled_at is None:
                    settled_at = time.time()
                if time.time() - settled_at >= settle:
                    return records
        if until is not None and not until(records):
            raise AssertionError(f"timed out after {timeout}s reading {topic}: {len(records)} records")
        return records
    finally:
        consumer.close()


def final_snapshots(records) -> dict[str, list[dict]]:
    """Final snapshots by key (several per key would be a repeat)."""
    by_key: dict[str, list[dict]] = {}
    for key, value in records:
        snap = orjson.loads(value)
        if snap.get("final"):
            by_key.setdefault(key.decode(), []).append(snap)
    return by_key


def comparable(snapshot: dict) -> tuple:
    return (snapshot["value"], snapshot["numerator"], snapshot["denominator"], snapshot["unit"],
            snapshot["window_end"], snapshot.get("currency"))
