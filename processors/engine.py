"""The KPI engine: validated events in, final and interim KPI snapshots out (pure, no I/O)."""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from schemas.events import Event, Rejection

from .aggregates import MICROS, UNKNOWN, BucketAggregates, to_micros
from .clock import PartitionClock
from .config import EngineConfig
from .fx import FxRates
from .registry import EVENT, KPIS, SCOPES, SESSION, Kpi
from .sessions import SessionTracker
from .service import ServiceTracker
from .commerce import OrderTracker
from .operations import OperationsTracker
from .marketing import MarketingTracker
from .catalog import CatalogTracker
from .snapshots import window_snapshots
from .state import TrackedStore
from .windows import bucket_size_s, floor_to

INF = math.inf


@dataclass
class LateEvent:
    """An event that arrived for windows that were already final (by window name)."""

    event: Event
    windows: list[str]


@dataclass
class IngestReport:
    accepted: int = 0
    duplicates: Counter = field(default_factory=Counter)  # topic -> repeated (source, id)
    late: list[LateEvent] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


class KpiEngine:
    """Holds all KPI state; `ingest` events, then `advance` to get final snapshots.

    Every state the engine keeps lives in a `TrackedStore` listed in `stores`, so a
    shell can persist exactly the keys a batch changed and load them back on start.
    """

    def __init__(self, config: EngineConfig = EngineConfig(), kpis: tuple[Kpi, ...] = KPIS):
        self.config = config
        self.sizes = tuple(sorted(config.window_sizes_s))
        self.bucket_s = bucket_size_s(list(self.sizes))
        self.kpis_by_scope = {scope: [k for k in kpis if k.scope == scope] for scope in SCOPES}
        self.aggregates = BucketAggregates(self.bucket_s, max_label_values=config.max_label_values)
        self.clock = PartitionClock(config.idle_partition_s)
        self.seen = TrackedStore("seen")
        self.meta = TrackedStore("meta")
        self.counters: Counter[str] = Counter()
        self.frontier: dict[str, dict[int, float]] = {s: {z: -INF for z in self.sizes} for s in SCOPES}
        self.sessions = SessionTracker(self)
        self.orders = OrderTracker(self)
        self.service = ServiceTracker(self)
        self.operations = OperationsTracker(self)
        self.marketing = MarketingTracker(self)
        self.catalog = CatalogTracker(self)
        self.fx = FxRates(config.reporting_currency, config.fx_rates)
        # Every tracker handles some event types and owns some stores; add new KPI
        # families here.
        self.trackers = [self.sessions, self.orders, self.service, self.operations, self.marketing, self.catalog, self.fx]
        self._handlers = {}
        for tracker in self.trackers:
            self._handlers.update(tracker.handlers())
        self._bucket_index: dict[str, set[int]] = {s: set() for s in SCOPES}
        self._touched: set[tuple[str, int, int]] = set()
        self._touched_buckets: set[tuple[str, int]] = set()  # expanded into windows by `interim`
        # Per scope, the time from which no window is final yet (the largest frontier):
        # a contribution at or after it skips the per-size lateness check.
        self._open_from: dict[str, float] = {s: -INF for s in SCOPES}
        self._seen_by_hour: dict[int, list[str]] = {}
        self._report = IngestReport()
        self._late_sizes: set[int] | None = None
        self._last_scan_wm = -INF
        self._last_gc_hour = -INF
        self._frontier_moved = True  # (also after a load: loaded buckets may be done)

    # ----------------------------------------------------------------- state
    @property
    def stores(self) -> list[TrackedStore]:
        stores = [self.aggregates.store, self.aggregates.base, self.aggregates.labels.values, self.seen, self.meta]
        for tracker in self.trackers:
            stores += tracker.stores()
        return stores

    def load(self, store_name: str, items) -> None:
        by_name = {s.name: s for s in self.stores}
        by_name[store_name].load(items)

    def after_load(self, now_wall: float) -> None:
        """Rebuild derived indexes once every store has been loaded."""
        for key in self.aggregates.store:
            scope, _, start = key.partition("|")
            self._bucket_index[scope].add(int(start))
        for key, t in self.seen.items():
            self._seen_by_hour.setdefault(int(t // 3600), []).append(key)
        frontier = self.meta.get("frontier")
        if frontier:
            for scope, by_size in frontier.items():
                for size, value in by_size.items():
                    if int(size) in self.frontier[scope]:
                        self.frontier[scope][int(size)] = -INF if value is None else value
            self._note_frontiers()
        clock = self.meta.get("clock")
        if clock:
            self.clock.restore(clock, now_wall)
            if self.clock.watermark is None:
                self.clock.watermark = -INF
        self.sessions.after_load()
        self.aggregates.after_load()

    def _save_meta(self) -> None:
        self.meta["frontier"] = {s: {str(z): (None if v == -INF else v) for z, v in f.items()}
                                 for s, f in self.frontier.items()}
        clock = self.clock.snapshot()
        self.meta["clock"] = {"max_time": clock["max_time"],
                              "watermark": None if clock["watermark"] == -INF else clock["watermark"]}

    # ---------------------------------------------------------------- ingest
    def ingest(self, events: list[Event], now_wall: float) -> IngestReport:
        report = self._report = IngestReport()
        seen, handlers, by_hour = self.seen, self._handlers, self._seen_by_hour
        seen_keys = seen.data
        hour, hour_keys = None, []
        newest: dict[tuple[str, int], float] = {}  # per input partition; the clock hears it once per batch
        for event in events:
            key = f"{event.source}\x1f{event.id}"
            if key in seen_keys:
                report.duplicates[event.topic] += 1
                continue
            t = seen[key] = event.time_s
            if t // 3600 != hour:
                hour = t // 3600
                hour_keys = by_hour.setdefault(int(hour), [])
            hour_keys.append(key)
            tp = (event.topic, event.partition)
            if t > newest.get(tp, -INF):
                newest[tp] = t
            report.accepted += 1
            handler = handlers.get(event.type)
            if handler is None:
                continue
            self._late_sizes = None
            try:
                handler(event)
            except Exception as exc:  # never let one event stop the worker; tests assert none
                self.counters["internal_errors"] += 1
                self.reject(event, "internal_error", f"{type(exc).__name__}: {exc}")
                continue
            if self._late_sizes:
                names = [_name(z) for z in self.sizes if z in self._late_sizes]
                report.late.append(LateEvent(event, names))
        self._late_sizes = None
        for (topic, partition), t in newest.items():
            self.clock.observe(f"{topic}:{partition}", t, now_wall)
        return report

    def reject(self, event: Event, reason: str, detail: str = "") -> None:
        """Turn an event the engine cannot use (e.g. a currency with no rate) into a dead letter."""
        import orjson

        value = orjson.dumps({"id": event.id, "source": event.source, "type": event.type, "data": event.data})
        self._report.rejected.append(
            Rejection(reason, event.topic, event.partition, event.offset, value, None, detail))

    def late_sizes(self, scope: str, t: float) -> list[int]:
        if t >= self._open_from[scope]:  # the window of `t` ends after every frontier
            return []
        return [z for z in self.sizes if floor_to(t, z) + z <= self.frontier[scope][z]]

    def mark_late(self, sizes) -> None:
        """Note that the event being handled missed the (already final) windows of these sizes."""
        if self._late_sizes is None:
            self._late_sizes = set(sizes)
        else:
            self._late_sizes.update(sizes)

    def contribute(self, scope: str, t: float, dims: dict[str, str], amounts: dict,
                   currency: str | None = None) -> bool:
        """Add amounts to the bucket of time `t`; False when every window of `t` is final."""
        if t < self._open_from[scope]:
            late = self.late_sizes(scope, t)
            if late:
                self.mark_late(late)
                self.counters["late_contributions"] += 1
                if len(late) == len(self.sizes):
                    return False
        bucket = floor_to(t, self.bucket_s)
        self.aggregates.add(scope, bucket, dims, amounts, currency)
        self._bucket_index[scope].add(bucket)
        self._touched_buckets.add((scope, bucket))
        return True

    def retract(self, scope: str, t: float, dims: dict[str, str], amounts: dict,
                currency: str | None = None) -> None:
        """Take back plain sums contributed at `t` (e.g. a first event replaced by an earlier one).

        A sum the retraction brings back to zero is forgotten, so that no window reports a
        zero it would not have had if the amounts had never been contributed (meant for counts
        and the sums that go with them: a zero contributed on its own would be forgotten too).
        """
        if not self.contribute(scope, t, dims, {m: -a for m, a in amounts.items()}, currency):
            return
        self.aggregates.forget_zeros(scope, floor_to(t, self.bucket_s), amounts, dims)

    # --------------------------------------------------------------- advance
    @property
    def watermark(self) -> float:
        return self.clock.watermark

    def advance(self, now_wall: float, emitted_at: float | None = None) -> list[dict]:
        """Move stream time forward; return the final snapshots of windows that closed."""
        wm = self.clock.advance(now_wall)
        if wm == -INF:
            return []
        if wm - self._last_scan_wm >= 1.0:
            self._last_scan_wm = wm
            self.sessions.close_due(wm)
        snapshots = self._finalize(wm, now_wall if emitted_at is None else emitted_at)
        self._collect_garbage(wm)
        self._save_meta()
        return snapshots

    def flush(self, emitted_at: float) -> list[dict]:
        """Close every session and finalize every window (end of a batch computation)."""
        self.sessions.close_due(INF)
        snapshots = self._finalize(INF, emitted_at)
        self._save_meta()
        return snapshots

    def _frontiers(self, wm: float) -> dict[str, dict[int, float]]:
        pending = self.sessions.min_pending_time()
        result = {}
        for scope in SCOPES:
            result[scope] = {}
            for z in self.sizes:
                edge = INF if wm == INF else floor_to(wm - self.config.grace_for(z), z)
                if scope == SESSION and pending != INF:
                    edge = min(edge, floor_to(pending, z))
                result[scope][z] = max(edge, self.frontier[scope][z])
        return result

    def _finalize(self, wm: float, emitted_at: float) -> list[dict]:
        snapshots: list[dict] = []
        new = self._frontiers(wm)
        for scope in SCOPES:
            if all(new[scope][z] <= self.frontier[scope][z] for z in self.sizes):
                continue  # most batches: no window of the scope closes
            self._frontier_moved = True
            starts = sorted(self._bucket_index[scope])
            for z in self.sizes:
                old_edge, new_edge = self.frontier[scope][z], new[scope][z]
                if new_edge <= old_edge:
                    continue
                windows = sorted({floor_to(b, z) for b in starts if old_edge < floor_to(b, z) + z <= new_edge})
                for w in windows:
                    snapshots += self._window_snapshots(scope, z, w, starts, final=True, emitted_at=emitted_at)
                    self._touched.discard((scope, z, w))
                self.frontier[scope][z] = new_edge
        self._note_frontiers()
        return snapshots

    def _note_frontiers(self) -> None:
        for scope, by_size in self.frontier.items():
            self._open_from[scope] = max(by_size.values())

    def interim(self, emitted_at: float) -> list[dict]:
        """Snapshots (final=false) of the open windows changed since the last call."""
        snapshots: list[dict] = []
        touched, self._touched = self._touched, set()
        for scope, bucket in self._touched_buckets:
            touched.update((scope, z, floor_to(bucket, z)) for z in self.sizes)
        self._touched_buckets = set()
        starts = {scope: sorted(self._bucket_index[scope]) for scope in SCOPES}
        newest = self.clock.newest()
        for scope, z, w in sorted(touched):
            if w + z <= self.frontier[scope][z]:
                continue
            if w > newest:
                # Stream time has not reached this window (changes scheduled ahead, e.g. a
                # churn date): report it once it has.
                self._touched.add((scope, z, w))
                continue
            snapshots += self._window_snapshots(scope, z, w, starts[scope], final=False, emitted_at=emitted_at)
        return snapshots

    def _window_snapshots(self, scope: str, z: int, w: int, starts: list[int], *, final: bool,
                          emitted_at: float) -> list[dict]:
        totals = self.aggregates.window_totals(scope, w, z, starts)
        end = w + z
        return window_snapshots(
            self.kpis_by_scope[scope], totals, z, w, final=final, emitted_at=emitted_at,
            currency=self.config.reporting_currency, rate_of=lambda c: self.fx.rate_at(c, end))

    # ------------------------------------------------------------ clean-up
    def _collect_garbage(self, wm: float) -> None:
        if self._frontier_moved:  # a bucket is done only once a frontier passes it
            self._frontier_moved = False
            self._drop_done_buckets()
        hour = int(wm // 3600)
        if hour <= self._last_gc_hour:
            return
        self._last_gc_hour = hour
        horizon = wm - self.config.dedup_retention_s
        for h in [h for h in self._seen_by_hour if (h + 1) * 3600 <= horizon]:
            for key in self._seen_by_hour.pop(h):
                self.seen.pop(key)
        entity_horizon = wm - self.config.entity_retention_s
        self.orders.expire(entity_horizon)
        self.service.expire(entity_horizon)
        self.marketing.expire(entity_horizon)

    def _drop_done_buckets(self) -> None:
        for scope in SCOPES:
            index = self._bucket_index[scope]
            done = [b for b in index
                    if all(floor_to(b, z) + z <= self.frontier[scope][z] for z in self.sizes)]
            for b in done:
                index.discard(b)
                self._touched_buckets.discard((scope, b))
                self.aggregates.drop(scope, b)


def _name(size_s: int) -> str:
    from .windows import window_name

    return window_name(size_s)


__all__ = ["KpiEngine", "IngestReport", "LateEvent", "EVENT", "SESSION", "MICROS", "UNKNOWN", "to_micros"]
