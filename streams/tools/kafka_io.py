"""Kafka plumbing for the command-line tools: producer, topic creation, batching, progress.

All kafka-python usage of the tools lives here.
"""
from __future__ import annotations

import sys
import time
from typing import IO, Callable

import orjson
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError, TopicAlreadyExistsError

BATCH_MAX_BYTES = 1_000_000  # under the 1 MiB a batch message may have (events.md)


def make_producer(bootstrap: str, **overrides) -> KafkaProducer:
    """A producer tuned for throughput with full acknowledgement; values are bytes."""
    config = dict(bootstrap_servers=bootstrap, linger_ms=20, batch_size=256 * 1024,
                  compression_type=None, acks="all", client_id="shoppulse-tools")
    config.update(overrides)
    return KafkaProducer(**config)


def ensure_topics(bootstrap: str, topics: dict[str, int], *, replication_factor: int = 1,
                  timeout_ms: int = 30_000, configs: dict[str, dict] | None = None, **client_options) -> list[str]:
    """Create the missing topics (name -> partitions); return the names created.

    `configs` maps a topic name to its topic configs (e.g. cleanup.policy); `client_options`
    are extra kafka-python client settings (security).
    """
    if not topics:
        return []
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="shoppulse-tools",
                             request_timeout_ms=timeout_ms, **client_options)
    try:
        request = {name: {"num_partitions": partitions, "replication_factor": replication_factor,
                          "configs": (configs or {}).get(name, {})}
                   for name, partitions in topics.items()}
        result = admin.create_topics(request, timeout_ms=timeout_ms, raise_errors=False)
        created = []
        for topic in result.get("topics", ()):
            code = topic.get("error_code", 0)
            if code == 0:
                created.append(topic["name"])
            elif code != TopicAlreadyExistsError.errno:
                raise KafkaError(f"cannot create topic {topic['name']}: error {code} "
                                 f"{topic.get('error_message') or ''}".strip())
        return created
    finally:
        admin.close()


class EventWriter:
    """Writes CloudEvents to Kafka, one per message or packed into batch messages.

    With `batch > 1`, up to `batch` events of the same topic travel in one JSON array
    message (CloudEvents batch format, no key, the newest event's timestamp).
    `flush_batches()` sends partial batches; call it before idling so nothing waits.
    """

    def __init__(self, producer: KafkaProducer, *, batch: int = 1):
        self.producer = producer
        self.batch = max(1, batch)
        self.events = 0
        self.messages = 0
        self.failed = 0
        self.first_error: BaseException | None = None
        self._pending: dict[str, tuple[list[bytes], int, int | None]] = {}

    def write(self, topic: str, key: str | None, event: dict, timestamp_ms: int | None) -> None:
        self.write_event_bytes(topic, key, orjson.dumps(event), timestamp_ms)

    def write_event_bytes(self, topic: str, key: str | None, value: bytes,
                          timestamp_ms: int | None) -> None:
        """Write one already serialized CloudEvent (batchable like `write`)."""
        self.events += 1
        if self.batch == 1:
            self._send(topic, key, value, timestamp_ms)
            return
        parts, size, ts = self._pending.get(topic, ([], 0, None))
        if parts and size + len(value) + 1 > BATCH_MAX_BYTES:
            self._send_batch(topic, parts, ts)
            parts, size, ts = [], 0, None
        parts.append(value)
        size += len(value) + 1
        # A collector sends a batch when it fills up: stamp it with its newest event.
        ts = timestamp_ms if ts is None or (timestamp_ms or 0) > ts else ts
        if len(parts) >= self.batch:
            self._send_batch(topic, parts, ts)
            self._pending.pop(topic, None)
        else:
            self._pending[topic] = (parts, size, ts)

    def write_raw(self, topic: str, key: str | None, value: bytes, timestamp_ms: int | None,
                  *, events: int = 0) -> None:
        """Send bytes as they are (after any pending batch of that topic, keeping order)."""
        if topic in self._pending:
            parts, _, ts = self._pending.pop(topic)
            self._send_batch(topic, parts, ts)
        self.events += events
        self._send(topic, key, value, timestamp_ms)

    def flush_batches(self) -> None:
        pending, self._pending = self._pending, {}
        for topic, (parts, _, ts) in pending.items():
            self._send_batch(topic, parts, ts)

    def flush(self, timeout_s: float = 60.0) -> None:
        self.flush_batches()
        self.producer.flush(timeout=timeout_s)

    def close(self, timeout_s: float = 60.0) -> None:
        self.flush(timeout_s)
        self.producer.close(timeout=timeout_s)

    def _send_batch(self, topic: str, parts: list[bytes], timestamp_ms: int | None) -> None:
        self._send(topic, None, b"[" + b",".join(parts) + b"]", timestamp_ms)

    def _send(self, topic: str, key: str | None, value: bytes, timestamp_ms: int | None) -> None:
        future = self.producer.send(topic, value=value,
                                    key=key.encode() if key is not None else None,
                                    timestamp_ms=timestamp_ms)
        future.add_errback(self._on_error)
        self.messages += 1

    def _on_error(self, exc: BaseException) -> None:
        self.failed += 1
        if self.first_error is None:
            self.first_error = exc


class Progress:
    """A one-line text progress report on stderr: count, rate, and % / ETA if total known.

    Redraws in place on a terminal at most every 0.5 s; writes a line every 5 s
    otherwise (logs). `close()` prints the final line.
    """

    def __init__(self, total: int | None, label: str, *, stream: IO[str] | None = None,
                 unit: str = "events", detail: Callable[[], str] | None = None):
        self.total = total
        self.detail = detail
        self.label = label
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval_s = 0.5 if self.tty else 5.0
        self.count = 0
        self.started = time.monotonic()
        self._next_print = self.started + self.interval_s
        self._closed = False

    def update(self, n: int = 1) -> None:
        self.count += n
        now = time.monotonic()
        if now >= self._next_print:
            self._next_print = now + self.interval_s
            self._print(now, final=False)

    def tick(self) -> None:
        """Redraw if due, without counting (call while idle)."""
        now = time.monotonic()
        if now >= self._next_print:
            self._next_print = now + self.interval_s
            self._print(now, final=False)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._print(time.monotonic(), final=True)

    def line(self, now: float | None = None) -> str:
        elapsed = max(1e-9, (now or time.monotonic()) - self.started)
        rate = self.count / elapsed
        text = f"{self.label}: {self.count:,} {self.unit}  {rate:,.0f}/s  {_hms(elapsed)}"
        if self.total:
            pct = 100.0 * self.count / self.total
            text += f"  {pct:5.1f}%"
            if rate > 0 and self.count < self.total:
                text += f"  ETA {_hms((self.total - self.count) / rate)}"
        if self.detail is not None:
            text += "  " + self.detail()
        return text

    def _print(self, now: float, *, final: bool) -> None:
        text = self.line(now)
        if self.tty:
            self.stream.write("\r\x1b[K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def _hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
