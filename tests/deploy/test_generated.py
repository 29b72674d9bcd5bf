"""The generated deploy files: current with the registry and alert rules, and hand-checked pieces."""
from __future__ import annotations

import json
import re

import pytest
import yaml

from processors.alerts import load_rules
from processors.registry import KPIS, KPIS_BY_ID
from streams.deploygen import DASHBOARD, RUNBOOK, stale_files
from streams.deploygen.alerting import baseline_expression, condition, for_duration_s, kpi_alert
from streams.deploygen.dashboard import panel_queries
from streams.deploygen.promql import kind_of, kpi_records, prom_duration

from .tools import PROMETHEUS_DIR, ROOT


def test_generated_files_are_current():
    stale = stale_files()
    assert not stale, f"stale generated files {stale}: run `.venv/bin/python -m streams.deploygen`"


@pytest.mark.parametrize("seconds, text", [
    (0, "0s"), (30, "30s"), (270, "4m30s"), (5400, "1h30m"), (86400, "1d"), (129600, "1d12h"), (0.5, "500ms"),
])
def test_prometheus_durations(seconds, text):
    assert prom_duration(seconds) == text


def rule(**fields):
    base = {"name": "r", "kpi": "conversion_rate", "window": "5m", "op": "<", "threshold": 0.01,
            "severity": "critical"}
    if fields.get("kind") == "anomaly":
        del base["op"], base["threshold"]
    return load_rules(yaml.safe_dump({"rules": [{**base, **fields}]}))[0]


@pytest.mark.parametrize("fields, seconds", [
    ({}, 0),  # for 1: fires on the first breaching window
    ({"for": 2}, 450),  # (2 - 1/2) x 300
    ({"for": 3, "window": "1h"}, 9000),  # 2.5 x 3600
])
def test_for_keeps_the_condition_through_for_windows(fields, seconds):
    assert for_duration_s(rule(**fields)) == seconds


def test_ratio_kpi_records_sum_parts_then_divide():
    records = kpi_records(KPIS_BY_ID["conversion_rate"])
    labels = "window, breakdown, channel, device, country"
    assert records == [
        {"record": "window_breakdown:shoppulse_conversion_rate_numerator:sum",
         "expr": f"sum by ({labels}) (shoppulse_conversion_rate_numerator)"},
        {"record": "window_breakdown:shoppulse_conversion_rate_denominator:sum",
         "expr": f"sum by ({labels}) (shoppulse_conversion_rate_denominator)"},
        {"record": "window_breakdown:shoppulse_conversion_rate:ratio",
         "expr": "window_breakdown:shoppulse_conversion_rate_numerator:sum / "
                 "(window_breakdown:shoppulse_conversion_rate_denominator:sum > 0)"}]
    assert kpi_records(KPIS_BY_ID["nps"])[2]["expr"] == (
        "100 * window_breakdown:shoppulse_nps_numerator:sum / (window_breakdown:shoppulse_nps_denominator:sum > 0)")
    assert kpi_records(KPIS_BY_ID["orders"]) == [
        {"record": "window_breakdown:shoppulse_orders:sum",
         "expr": "sum by (window, breakdown, country) (shoppulse_orders_numerator)"}]


def test_threshold_rule_on_each_channel_with_min_denominator():
    alert = kpi_alert(rule(dims={"channel": "*"}, min_denominator=50, **{"for": 3}))
    assert alert["expr"] == (
        'window_breakdown:shoppulse_conversion_rate:ratio{window="5m", breakdown="channel"} < 0.01\n'
        'and (window_breakdown:shoppulse_conversion_rate_denominator:sum{window="5m", breakdown="channel"} >= 50)')
    assert alert["for"] == "12m30s"  # (3 - 1/2) x 5m
    assert alert["labels"] == {"severity": "critical", "kpi": "conversion_rate"}
    assert alert["annotations"]["runbook_url"] == "deploy/runbook.md#r"
    assert "channel={{ $labels.channel }}" in alert["annotations"]["description"]


def test_rolling_anomaly_baseline_is_the_previous_windows():
    anomaly = rule(kind="anomaly", kpi="orders", window="5m", baseline="rolling", baseline_windows=3, factor=2,
                   direction="below")
    series = 'window_breakdown:shoppulse_orders:sum{window="5m", breakdown="overall"}'
    assert baseline_expression(anomaly) == "\n or ".join(
        f'label_replace({series} offset {o}, "baseline_offset", "{o}", "", "")' for o in ("5m", "10m", "15m"))
    mean = "avg without (baseline_offset) (window_breakdown_offset:r:rolling_baseline)"
    spread = "2 * stddev without (baseline_offset) (window_breakdown_offset:r:rolling_baseline)"
    assert condition(anomaly) == (f"({series} < ({mean} - {spread}))\n"
                                  "and (count without (baseline_offset) (window_breakdown_offset:r:rolling_baseline)"
                                  " >= 3)")


def test_operational_signals_are_per_worker():
    lag = rule(kpi="processing_lag_s", window="1m", op=">", threshold=300)
    assert condition(lag) == (
        "(max by (instance) (shoppulse_processing_lag_seconds) and on (instance) "
        "sum by (instance) (increase(shoppulse_events_consumed_total[1m])) > 0) > 300")


def _anchors(markdown: str) -> set[str]:
    return {re.sub(r"[^a-z0-9_\- ]", "", h.lower()).replace(" ", "-")
            for h in re.findall(r"^#+ (.+)$", markdown, re.M)}


def test_every_runbook_url_has_its_runbook_section():
    anchors = _anchors((ROOT / RUNBOOK).read_text())
    alerts = [r for g in yaml.safe_load((PROMETHEUS_DIR / "alerting_rules.yml").read_text())["groups"]
              for r in g["rules"] if "alert" in r]
    assert len(alerts) >= 3
    for alert in alerts:
        url = alert["annotations"]["runbook_url"]
        if url.startswith("deploy/runbook.md#"):
            assert url.partition("#")[2] in anchors, alert["alert"]
        assert alert["labels"]["severity"] in ("critical", "warning", "info")
        assert alert["annotations"]["summary"] and alert["annotations"]["description"]


def test_dashboard_has_a_row_per_group_and_a_panel_per_kpi():
    board = json.loads((ROOT / DASHBOARD).read_text())
    rows = [p for p in board["panels"] if p["type"] == "row"]
    assert [r["title"] for r in rows][:5] == ["Worker", "Marketing", "Sales", "Supply chain", "Customer service"]
    by_row = {r["title"]: [p["title"] for p in r["panels"]] for r in rows[1:]}
    for kpi in KPIS:
        assert by_row[kpi.group.replace("_", " ").capitalize()].count(kpi.id) == 1, kpi.id
    ids = [p["id"] for p in board["panels"]] + [p["id"] for r in rows for p in r["panels"]]
    assert len(ids) == len(set(ids))
    worker = [p["title"] for p in board["panels"] if p["type"] == "timeseries"]
    assert {"Events consumed per second", "Dead letters per second", "Late events per second",
            "Processing lag", "Consumer lag"} <= set(worker)


def test_dashboard_queries_use_only_defined_variables():
    board = json.loads((ROOT / DASHBOARD).read_text())
    defined = {v["name"] for v in board["templating"]["list"]} | {"__rate_interval"}
    assert {"window", "breakdown", "channel", "device", "country"} <= defined
    for title, expr in panel_queries(board):
        used = set(re.findall(r"\$\{?(\w+)", expr))
        assert used <= defined, (title, used - defined)


def test_dashboard_panel_of_a_ratio_kpi_reads_its_recording_rule():
    board = json.loads((ROOT / DASHBOARD).read_text())
    queries = dict(panel_queries(board))
    assert queries["conversion_rate"] == (
        'window_breakdown:shoppulse_conversion_rate:ratio{window="${window}", breakdown="${breakdown}", '
        'channel=~"${channel}", device=~"${device}", country=~"${country}"}')
    rankings = [k.id for k in KPIS if kind_of(k) == "ranking"]
    assert all(k not in queries for k in rankings)  # text panels: no Prometheus series
