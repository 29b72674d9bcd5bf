"""Engine state in one Faust table, saved in atomic checkpoints that survive kill -9.

Every batch is one checkpoint (an epoch). Each changed key is written as a wrapper
`{"e": epoch, "v": value, "p": value at the last committed epoch, "pe": its epoch}`;
once the producer has delivered all of them, a commit record names the epoch and the
input offsets the state includes. On load, a key written by an epoch that never got
its commit record falls back to its previous value, so the state is always exactly
that of the last committed checkpoint, and the input offsets it includes are skipped
when Kafka delivers them again (Faust commits consumer offsets only after the batch,
so it never passes a checkpoint).
"""
from __future__ import annotations

import weakref
import zlib
from types import SimpleNamespace

import faust
import orjson
from faust.streams import _current_event

SEPARATOR = "\x1e"
COMMIT_KEY = f"\x00checkpoint{SEPARATOR}commit".encode()
ABSENT = object()


class _PinnedEvent:
    """Stands in for the current stream event while a table key is written.

    Faust puts a table write into the changelog partition *and* the RocksDB partition
    of the event being processed. Engine state is shared by all input partitions, so a
    key written from different partitions would end up in several places and recovery
    could bring back a stale copy. Writing every key under one fixed partition (its
    hash) keeps changelog and RocksDB consistent.
    """

    def __init__(self, topic: str, partition: int):
        self.message = SimpleNamespace(topic=topic, partition=partition)


def committed_value(wrapper: dict, committed: int):
    """The value a key had at the committed epoch, or ABSENT."""
    if wrapper["e"] <= committed:
        return wrapper["v"]
    if wrapper.get("pe", -1) >= 0 and wrapper["pe"] <= committed:
        return wrapper["p"]
    return ABSENT


class EngineStateTable:
    def __init__(self, app, name: str, partitions: int):
        self.app = app
        self.partitions = partitions
        schema = faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
        self.table = app.Table(name, default=None, partitions=partitions, schema=schema,
                               help="KPI engine state: sessions, window buckets, dedup keys, entities.")
        self._pinned = {}
        self.committed = 0  # last epoch whose commit record was written
        self.epoch = 0  # last epoch written (>= committed)
        self._tombstones: list[bytes] = []  # deleted keys to drop once their epoch is committed

    def _pin(self, full: bytes) -> None:
        partition = zlib.crc32(full) % self.partitions
        event = self._pinned.get(partition)
        if event is None:
            event = self._pinned[partition] = _PinnedEvent(self.table.changelog_topic.get_topic_name(), partition)
        _current_event.set(weakref.ref(event))

    def _write(self, full: bytes, value: bytes | None) -> None:
        self._pin(full)
        if value is None:
            if full in self.table:
                del self.table[full]
        else:
            self.table[full] = value

    def save(self, persisted) -> int:
        """Write every key changed since the last save as part of a new epoch; returns how many."""
        token = _current_event.set(None)
        written = 0
        try:
            epoch = self.epoch = self.epoch + 1
            for full in self._tombstones:
                self._write(full, None)
            self._tombstones = []
            for store in persisted.stores:
                for key, value in store.drain_changes():
                    full = f"{store.name}{SEPARATOR}{key}".encode()
                    self._pin(full)
                    old = self.table.get(full)
                    prev, prev_epoch = None, -1
                    if old is not None:
                        wrapper = orjson.loads(old)
                        prev = committed_value(wrapper, self.committed)
                        if prev is ABSENT:
                            prev = None
                        else:
                            prev_epoch = wrapper["e"] if wrapper["e"] <= self.committed else wrapper["pe"]
                    self._write(full, orjson.dumps({"e": epoch, "v": value, "p": prev, "pe": prev_epoch}))
                    if value is None:
                        self._tombstones.append(full)
                    written += 1
        finally:
            _current_event.reset(token)
        return written

    async def commit(self, offsets: dict[str, int]) -> None:
        """Make the last saved epoch the committed one, once its records are delivered."""
        await self.app.producer.flush()
        token = _current_event.set(None)
        try:
            self._write(COMMIT_KEY, orjson.dumps({"epoch": self.epoch, "offsets": offsets}))
        finally:
            _current_event.reset(token)
        await self.app.producer.flush()
        self.committed = self.epoch

    def _repair(self, repairs: list[tuple[bytes, object]]) -> None:
        """Rewrite keys of an epoch that never committed with their committed value.

        Otherwise a later commit of a higher epoch would make the stale value look
        committed. Harmless to repeat if the worker dies again before delivery.
        """
        token = _current_event.set(None)
        try:
            for full, state in repairs:
                if state is ABSENT or state is None:
                    self._write(full, None)
                else:
                    self._write(full, orjson.dumps({"e": self.committed, "v": state, "p": None, "pe": -1}))
        finally:
            _current_event.reset(token)

    def load_into(self, persisted) -> tuple[int, dict[str, int]]:
        """Load the last committed checkpoint; returns (keys loaded, input offsets it includes)."""
        raw = self.table.get(COMMIT_KEY)
        commit = orjson.loads(raw) if raw else {"epoch": 0, "offsets": {}}
        self.committed = commit["epoch"]
        grouped: dict[str, list] = {}
        highest = self.committed
        repairs: list[tuple[bytes, object]] = []
        for full, value in list(self.table.items()):
            if value is None or full == COMMIT_KEY:
                continue
            wrapper = orjson.loads(value)
            highest = max(highest, wrapper["e"])
            state = committed_value(wrapper, self.committed)
            if wrapper["e"] > self.committed:
                repairs.append((full, state))
            if state is ABSENT or state is None:
                continue
            name, _, key = full.decode().partition(SEPARATOR)
            grouped.setdefault(name, []).append((key, state))
        # New epochs start above anything written, committed or not.
        self.epoch = highest
        self._repair(repairs)
        for name, items in grouped.items():
            persisted.load(name, items)
        return sum(len(v) for v in grouped.values()), commit["offsets"]
