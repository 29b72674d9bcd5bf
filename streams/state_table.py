"""Engine state in one Faust table, as atomic per-batch deltas plus periodic snapshots.

Faust writes one changelog record per table key, and each costs a few hundred
microseconds; a key per changed session or dedup id would cap a worker at a few
thousand events/s and a crash could leave a batch half written. So every batch is one
*delta* (all keys it changed, in one record or a few numbered chunks that are only
applied when all are present), and every `snapshot_interval_s` the full state is
written as a *snapshot* (chunks plus a mark written last). Loading takes the newest
complete snapshot and applies the deltas after it in epoch order, stopping at the first
incomplete one; each delta names the input offsets its state includes, so the worker
skips those when Kafka delivers them again after a crash.

Record keys: `delta|<epoch>|<chunk>|<chunks>`, `snap|<epoch>|<chunk>`, `snapmark|<epoch>`.
"""
from __future__ import annotations

import logging
import time
import weakref
import zlib
from types import SimpleNamespace

import orjson
from faust.streams import _current_event

log = logging.getLogger(__name__)

CHUNK_BYTES = 512 * 1024  # well under Kafka's default 1 MiB message limit
FLUSH_EVERY_CHUNKS = 8
# The table is written all along but read only when a worker takes the engine over, so
# RocksDB needs little cache; Faust's defaults (2 GiB block cache, 3 x 64 MiB write
# buffers) would let it grow to gigabytes beside the engine.
ROCKSDB_OPTIONS = {"block_cache_size": 32 * 1024**2, "block_cache_compressed_size": 16 * 1024**2,
                   "write_buffer_size": 16 * 1024**2, "max_write_buffer_number": 2}


class _PinnedEvent:
    """Stands in for the current stream event while a table key is written.

    Faust puts a table write into the changelog partition *and* the RocksDB partition
    of the event being processed. The records here are not tied to one input partition,
    so each is pinned to the partition of its own key's hash, keeping changelog and
    RocksDB consistent.
    """

    def __init__(self, topic: str, partition: int):
        self.message = SimpleNamespace(topic=topic, partition=partition)


def _chunks(items, limit: int = CHUNK_BYTES):
    """Encode (store, key, value) triples into JSON lists of at most about `limit` bytes (lazily)."""
    current, size = [], 0
    for item in items:
        encoded = orjson.dumps(item)
        if current and size + len(encoded) > limit:
            yield b"[" + b",".join(current) + b"]"
            current, size = [], 0
        current.append(encoded)
        size += len(encoded) + 1
    yield b"[" + b",".join(current) + b"]"


def _delta_chunks(items: list, limit: int = CHUNK_BYTES, slice_items: int = 512) -> list[bytes]:
    """A batch's changes in chunks of at most about `limit` bytes, a few encode calls in all.

    Slices of items are encoded in one call each and joined while they fit; only a slice
    that alone exceeds the limit is encoded item by item.
    """
    chunks, current, size = [], [], 0
    for i in range(0, len(items), slice_items):
        part = items[i:i + slice_items]
        encoded = orjson.dumps(part)[1:-1]  # the items, without the list's brackets
        if len(encoded) > limit:
            pieces = [piece[1:-1] for piece in _chunks(part, limit)]
        else:
            pieces = [encoded]
        for piece in pieces:
            if current and size + len(piece) > limit:
                chunks.append(b"[" + b",".join(current) + b"]")
                current, size = [], 0
            current.append(piece)
            size += len(piece) + 1
    chunks.append(b"[" + b",".join(current) + b"]")
    return chunks


def _all_items(persisted, offsets: dict[str, int]):
    """Every (store, key, value) of the state, one at a time."""
    yield ["offsets", "", offsets]
    for store in persisted.stores:
        for key, value in store.encoded_items():
            yield [store.name, key, value]


class EngineStateTable:
    def __init__(self, app, name: str, partitions: int, snapshot_interval_s: float = 60.0):
        self.app = app
        self.partitions = partitions
        self.snapshot_interval_s = snapshot_interval_s
        # A snapshot costs time proportional to the whole state: write one only once the
        # deltas since the last weigh as much, so a restart reads at most about twice the
        # state and a large, slowly changing state is not rewritten every minute.
        self._snapshot_bytes = 0
        self._delta_bytes = 0
        # bytes key and value types make Faust store and return raw bytes (not JSON).
        self.table = app.Table(name, default=None, partitions=partitions, key_type=bytes, value_type=bytes,
                               options=dict(ROCKSDB_OPTIONS),
                               help="KPI engine state: per-batch deltas and periodic snapshots.")
        self._pinned = {}
        self.epoch = 0  # last epoch written
        self.snapshot_epoch = 0  # epoch of the newest complete snapshot
        self._last_snapshot_at = time.monotonic()
        self._pending: list = []  # (store, key, value) changed since the last commit
        self._offsets: dict[str, int] = {}  # input offsets of the last delta
        self._delta_keys: list[bytes] = []  # delta records since the newest snapshot
        self._snapshot_keys: list[bytes] = []  # records of the newest snapshot

    # ------------------------------------------------------------- writing
    def _write(self, key: bytes, value: bytes | None) -> None:
        partition = zlib.crc32(key) % self.partitions
        event = self._pinned.get(partition)
        if event is None:
            event = self._pinned[partition] = _PinnedEvent(self.table.changelog_topic.get_topic_name(), partition)
        token = _current_event.set(weakref.ref(event))
        try:
            if value is None:
                if key in self.table:
                    del self.table[key]
            else:
                self.table[key] = value
        finally:
            _current_event.reset(token)

    def save(self, persisted) -> int:
        """Collect every key changed since the last save; returns how many."""
        before = len(self._pending)
        for store in persisted.stores:
            for key, value in store.drain_changes():
                self._pending.append((store.name, key, value))
        return len(self._pending) - before

    async def commit(self, offsets: dict[str, int], persisted=None) -> None:
        """Write the changes collected so far as one delta (and a snapshot when due)."""
        if self._pending or offsets != self._offsets:
            self.epoch += 1
            chunks = _delta_chunks([["offsets", "", offsets]] + self._pending)
            for i, chunk in enumerate(chunks):
                key = f"delta|{self.epoch:012d}|{i}|{len(chunks)}".encode()
                self._write(key, chunk)
                self._delta_keys.append(key)
                self._delta_bytes += len(chunk)
            self._pending = []
            self._offsets = dict(offsets)
        if persisted is not None and self._snapshot_due():
            await self.snapshot(persisted, offsets)

    def _snapshot_due(self) -> bool:
        return (time.monotonic() - self._last_snapshot_at >= self.snapshot_interval_s
                and self._delta_bytes >= self._snapshot_bytes)

    async def snapshot(self, persisted, offsets: dict[str, int]) -> None:
        """Write the full state, then its mark; then drop what it supersedes."""
        await self.app.producer.flush()  # deltas before the snapshot are delivered
        epoch, keys, size = self.epoch, [], 0
        for chunk in _chunks(_all_items(persisted, offsets)):
            key = f"snap|{epoch:012d}|{len(keys)}".encode()
            self._write(key, chunk)
            keys.append(key)
            size += len(chunk)
            if len(keys) % FLUSH_EVERY_CHUNKS == 0:
                await self.app.producer.flush()  # bounds what waits in the producer
        await self.app.producer.flush()
        self._write(f"snapmark|{epoch:012d}".encode(), orjson.dumps({"chunks": len(keys)}))
        await self.app.producer.flush()
        old_marks = [f"snapmark|{self.snapshot_epoch:012d}".encode()] if self.snapshot_epoch else []
        for key in self._delta_keys + self._snapshot_keys + old_marks:
            self._write(key, None)
        self._delta_keys, self._snapshot_keys = [], keys
        self.snapshot_epoch = epoch
        self._last_snapshot_at = time.monotonic()
        self._snapshot_bytes, self._delta_bytes = size, 0
        records = 1 + sum(len(store) for store in persisted.stores)
        log.info("state snapshot at epoch %d: %d records, %d chunks, %.1f MB", epoch, records, len(keys), size / 1e6)

    # ------------------------------------------------------------- loading
    def load_into(self, persisted) -> tuple[int, dict[str, int]]:
        """Rebuild the state; returns (keys loaded, input offsets the state includes)."""
        marks, snaps, deltas = {}, {}, {}
        for key, value in list(self.table.items()):
            if value is None:
                continue
            kind, _, rest = key.decode().partition("|")
            if kind == "snapmark":
                marks[int(rest)] = orjson.loads(value)["chunks"]
            elif kind == "snap":
                epoch, _, chunk = rest.partition("|")
                snaps.setdefault(int(epoch), {})[int(chunk)] = value
            elif kind == "delta":
                epoch, chunk, count = (int(x) for x in rest.split("|"))
                deltas.setdefault(epoch, {})[chunk] = (count, value)
        base = max((e for e, n in marks.items() if len(snaps.get(e, {})) == n), default=0)
        state: dict[str, dict] = {}
        offsets: dict[str, int] = {}
        if base:
            for i in range(marks[base]):
                self._apply(orjson.loads(snaps[base][i]), state, offsets)
        applied = base
        for epoch in sorted(e for e in deltas if e > base):
            chunks = deltas[epoch]
            count = next(iter(chunks.values()))[0]
            if epoch != applied + 1 or len(chunks) != count:
                break  # an incomplete batch and everything after it never happened
            for i in range(count):
                self._apply(orjson.loads(chunks[i][1]), state, offsets)
            applied = epoch
        self._forget_after(applied, snaps, marks, deltas, base)
        for name, values in state.items():
            persisted.load(name, [(k, v) for k, v in values.items() if v is not None])
        self.epoch, self.snapshot_epoch = applied, base
        self._offsets = dict(offsets)
        self._snapshot_keys = [f"snap|{base:012d}|{i}".encode() for i in range(marks.get(base, 0))]
        self._delta_keys = [f"delta|{e:012d}|{i}|{deltas[e][i][0]}".encode()
                            for e in sorted(deltas) if base < e <= applied for i in deltas[e]]
        return sum(len(v) for v in state.values()), offsets

    @staticmethod
    def _apply(items: list, state: dict, offsets: dict) -> None:
        for store, key, value in items:
            if store == "offsets":
                offsets.clear()
                offsets.update(value)
            else:
                state.setdefault(store, {})[key] = value

    def _forget_after(self, applied: int, snaps: dict, marks: dict, deltas: dict, base: int) -> None:
        """Delete records of epochs that will be written anew, and superseded ones."""
        for epoch, chunks in deltas.items():
            if epoch > applied or epoch <= base:
                for i, (count, _) in chunks.items():
                    self._write(f"delta|{epoch:012d}|{i}|{count}".encode(), None)
        for epoch in set(snaps) | set(marks):
            if epoch != base:
                for i in snaps.get(epoch, {}):
                    self._write(f"snap|{epoch:012d}|{i}".encode(), None)
                if epoch in marks:
                    self._write(f"snapmark|{epoch:012d}".encode(), None)
