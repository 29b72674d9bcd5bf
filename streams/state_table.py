"""Engine state in one Faust table, each key pinned to a partition by its own hash."""
from __future__ import annotations

import weakref
import zlib
from types import SimpleNamespace

import faust
import orjson
from faust.streams import _current_event

SEPARATOR = "\x1e"


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


class EngineStateTable:
    def __init__(self, app, name: str, partitions: int):
        self.partitions = partitions
        schema = faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
        self.table = app.Table(name, default=None, partitions=partitions, schema=schema,
                               help="KPI engine state: sessions, window buckets, dedup keys, entities.")
        self._pinned = {}

    def _pin(self, partition: int) -> _PinnedEvent:
        event = self._pinned.get(partition)
        if event is None:
            event = self._pinned[partition] = _PinnedEvent(self.table.changelog_topic.get_topic_name(), partition)
        return event

    def save(self, engine) -> int:
        """Write every key the engine changed since the last save; returns how many."""
        written = 0
        token = None
        try:
            for store in engine.stores:
                for key, value in store.drain_changes():
                    full = f"{store.name}{SEPARATOR}{key}".encode()
                    pinned = self._pin(zlib.crc32(full) % self.partitions)
                    if token is None:
                        token = _current_event.set(weakref.ref(pinned))
                    else:
                        _current_event.set(weakref.ref(pinned))
                    if value is None:
                        if full in self.table:
                            del self.table[full]
                    else:
                        self.table[full] = orjson.dumps(value)
                    written += 1
        finally:
            if token is not None:
                _current_event.reset(token)
        return written

    def load_into(self, engine) -> int:
        grouped: dict[str, list] = {}
        for full, value in self.table.items():
            if value is None:
                continue
            name, _, key = full.decode().partition(SEPARATOR)
            grouped.setdefault(name, []).append((key, orjson.loads(value)))
        for name, items in grouped.items():
            engine.load(name, items)
        return sum(len(v) for v in grouped.values())
