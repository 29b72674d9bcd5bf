"""Prometheus exposition: KPI gauge families built from the latest final snapshots on each scrape."""
from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily

from processors.registry import KPIS, RATIO, SECONDS, Kpi

disable_created_metrics()  # one series per counter, not two

UNIT_SUFFIX = {RATIO: "_ratio", SECONDS: "_seconds"}


def family_name(kpi: Kpi) -> str:
    base = f"shoppulse_{kpi.id}"
    if kpi.unit == SECONDS and base.endswith("_s"):
        base = base[:-2]
    suffix = UNIT_SUFFIX.get(kpi.unit, "")
    return base if base.endswith(suffix) else base + suffix


def part_name(kpi: Kpi, part: str) -> str:
    """`shoppulse_<kpi>_numerator` / `_denominator`, a `_s` id ending spelled `_seconds` (promtool lint)."""
    base = f"shoppulse_{kpi.id}"
    if kpi.unit == SECONDS and base.endswith("_s"):
        base = base[:-2] + "_seconds"
    return f"{base}_{part}"


def kpi_labels(kpi: Kpi) -> list[str]:
    return ["window", "breakdown", *kpi.dims]


class KpiCollector:
    """Yields one value, numerator and denominator family per KPI of the registry.

    `latest` maps (kpi, window, breakdown) -> the latest final snapshot; series are
    bounded by the registry's dims, never ids.
    """

    def __init__(self, kpis: tuple[Kpi, ...] = KPIS):
        self.kpis = kpis
        self.latest: dict[tuple[str, str, str], dict] = {}

    def observe(self, snapshot: dict) -> None:
        if not snapshot["final"]:
            return
        dims = snapshot["dims"]
        breakdown = ",".join(f"{k}={v}" for k, v in sorted(dims.items()))
        key = (snapshot["kpi"], snapshot["window"], breakdown)
        old = self.latest.get(key)
        if old is None or old["window_start"] <= snapshot["window_start"]:
            self.latest[key] = snapshot

    def describe(self):
        return []

    def collect(self):
        by_kpi: dict[str, list[dict]] = {}
        for (kpi_id, _, _), snap in self.latest.items():
            by_kpi.setdefault(kpi_id, []).append(snap)
        for kpi in self.kpis:
            name, labels = family_name(kpi), kpi_labels(kpi)
            value = GaugeMetricFamily(name, f"{kpi.help} Latest final window.", labels=labels)
            numerator = GaugeMetricFamily(part_name(kpi, "numerator"),
                                          f"Numerator of {kpi.id} ({kpi.formula}).", labels=labels)
            denominator = GaugeMetricFamily(part_name(kpi, "denominator"),
                                            f"Denominator of {kpi.id} ({kpi.formula}).", labels=labels)
            for snap in by_kpi.get(kpi.id, ()):
                dims = snap["dims"]
                breakdown = next(iter(dims), "overall")
                label_values = [snap["window"], breakdown, *(dims.get(d, "") for d in kpi.dims)]
                if snap["value"] is not None:
                    value.add_metric(label_values, float(snap["value"]))
                if snap["numerator"] is not None:
                    numerator.add_metric(label_values, float(snap["numerator"]))
                if kpi.denominator is not None and snap["denominator"] is not None:
                    denominator.add_metric(label_values, float(snap["denominator"]))
            yield value
            if kpi.factors:  # a product of ratios has no parts of its own (see Kpi)
                continue
            yield numerator
            if kpi.denominator is not None:
                yield denominator


class OperationalMetrics:
    """Counters and gauges about the worker itself."""

    def __init__(self, registry: CollectorRegistry):
        self.consumed = Counter("shoppulse_events_consumed", "Events accepted from input topics.",
                                ["topic"], registry=registry)
        self.rejected = Counter("shoppulse_events_rejected", "Input messages or batch elements dead-lettered.",
                                ["topic", "reason"], registry=registry)
        self.late = Counter("shoppulse_events_late", "Events that arrived for already-final windows.",
                            ["topic"], registry=registry)
        self.duplicates = Counter("shoppulse_events_duplicate", "Events ignored as repeats of (source, id).",
                                  ["topic"], registry=registry)
        self.snapshots = Counter("shoppulse_snapshots_emitted", "KPI snapshots written to Kafka.",
                                 ["final"], registry=registry)
        self.engine_events = Counter("shoppulse_engine_events", "Engine observations (unmatched replies, "
                                     "orders without session, ...).", ["kind"], registry=registry)
        self.watermark = Gauge("shoppulse_watermark_timestamp_seconds",
                               "Stream time (event time) up to which windows can be final.", registry=registry)
        self.processing_lag = Gauge("shoppulse_processing_lag_seconds",
                                    "Wall time minus the newest event time processed.", registry=registry)
        self.finalization_lag = Gauge("shoppulse_window_finalization_lag_seconds",
                                      "Wall time between the end of the last final window and its emission.",
                                      ["window"], registry=registry)
        self.consumer_lag = Gauge("shoppulse_consumer_lag_messages",
                                  "Messages between the consumed position and the partition end.",
                                  ["topic", "partition"], registry=registry)
        self.open_sessions = Gauge("shoppulse_open_sessions", "Sessions not yet closed.", registry=registry)
        self.state_keys = Gauge("shoppulse_state_keys", "Keys held in engine state.", ["store"], registry=registry)
        self.ready = Gauge("shoppulse_ready", "1 when the worker is a standby in the group, or holds the engine lease with its state loaded.",
                           registry=registry)
        self.engine_active = Gauge("shoppulse_engine_active",
                                   "1 on the worker that holds the engine lease and computes the KPIs.",
                                   registry=registry)
        self.serving_backlog = Gauge("shoppulse_serving_backlog",
                                     "Snapshots waiting to be written to the serving store (Redis).",
                                     registry=registry)
        self.folded_labels = Counter("shoppulse_label_values_folded",
                                     "Breakdown values reported as `other` because a dimension reached its "
                                     "cap (SHOPPULSE_MAX_LABEL_VALUES).", registry=registry)
        self._folded = 0
        self._engine_counts: dict[str, int] = {}

    def record_batch(self, out) -> None:
        for topic, n in out.consumed.items():
            self.consumed.labels(topic).inc(n)
        for (topic, reason), n in out.rejected.items():
            self.rejected.labels(topic, reason).inc(n)
        for topic, n in out.late_by_topic.items():
            self.late.labels(topic).inc(n)
        for topic, n in out.duplicates.items():
            self.duplicates.labels(topic).inc(n)
        for snap in out.snapshots:
            self.snapshots.labels("true" if snap["final"] else "false").inc()

    def record_engine(self, engine, now: float | None = None) -> None:
        now = time.time() if now is None else now
        if engine.watermark != float("-inf"):
            self.watermark.set(engine.watermark)
            self.processing_lag.set(max(0.0, now - engine.clock.newest()))
        self.open_sessions.set(engine.sessions.open_sessions())
        for store in engine.stores:
            self.state_keys.labels(store.name).set(len(store))
        folded = engine.aggregates.labels.folded
        if folded > self._folded:
            self.folded_labels.inc(folded - self._folded)
            self._folded = folded
        for kind, total in engine.counters.items():
            delta = total - self._engine_counts.get(kind, 0)
            if delta > 0:
                self.engine_events.labels(kind).inc(delta)
            self._engine_counts[kind] = total
