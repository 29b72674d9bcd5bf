"""Every KPI of the catalogue (numbers 1-54) is in the registry and reaches every output."""
from __future__ import annotations

import orjson
from prometheus_client import CollectorRegistry, generate_latest

from processors.registry import KPIS
from streams.metrics import KpiCollector, family_name, part_name
from streams.settings import Settings
from streams.tools.compute import compute_snapshots
from streams.tools.simulator import generate

T0 = 1_560_412_800.0  # 2019-06-13T08:00:00Z


def test_every_catalogue_number_has_a_kpi():
    assert {k.seed for k in KPIS} == set(range(1, 55))


def test_a_simulated_store_with_feeds_yields_every_kpi_in_snapshots_and_metrics():
    messages = [(topic, orjson.dumps(event)) for topic, _, event in generate(3, T0, 100 * 60, 1.0, feeds=True)]
    snapshots = compute_snapshots(messages, Settings(), flush=True)
    overall = {s["kpi"] for s in snapshots if not s["dims"] and (s["value"] is not None or s.get("ranking"))}
    assert overall == {k.id for k in KPIS}

    collector = KpiCollector()
    for snap in snapshots:
        collector.observe(snap)
    registry = CollectorRegistry()
    registry.register(collector)
    exposed = generate_latest(registry).decode()
    for kpi in KPIS:
        if kpi.ranking:  # rankings have no Prometheus series; they are served by /kpis
            continue
        # The value family, or for a ratio whose latest window has no value (a zero
        # denominator: no sample), its numerator family.
        families = [family_name(kpi)] + ([part_name(kpi, "numerator")] if kpi.denominator else [])
        assert any(f"\n{name}{{" in exposed for name in families), kpi.id
