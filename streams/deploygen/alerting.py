"""Prometheus alerting rules: the stream alert rules (deploy/alerts) as PromQL, plus worker health.

A stream rule fires after `for` consecutive final windows breach. The worker's gauge holds
each final window's value for one window length, so in Prometheus the condition must hold
while `for` windows are reported: the last of them appears `for - 1` windows after the
first, and half a window more absorbs jitter in when windows become final. With
`for: 1` the alert fires on the first breaching value, as the stream rule does.
Differences: a skipped window (no value, or a denominator below `min_denominator`) resets
Prometheus's pending state, where the stream evaluator ignores it.
"""
from __future__ import annotations

import re
from pathlib import Path

from processors.alerts import (ANOMALY, ANY_VALUE, DEADLETTER_RATE, OPERATIONAL_SIGNALS, PROCESSING_LAG, Rule,
                               load_rules)
from processors.kpi import Kpi
from processors.registry import KPIS_BY_ID
from processors.windows import parse_duration_s

from .promql import OVERALL, number, part_record, prom_duration, selector, value_series

RUNBOOK = "deploy/runbook.md"
BASELINE_LABEL = "baseline_offset"
VALUE_FORMAT = '{{ $value | printf "%.3g" }}'
CONSUMED_OR_REJECTED = '{__name__=~"shoppulse_events_(consumed|rejected)_total"}'

# Worker health: not expressible as stream rules, so defined here.
WORKER_GROUP, KPI_ALERT_GROUP = "shoppulse-worker", "shoppulse-kpi-alerts"
WORKER_ALERTS = (
    {"alert": "shoppulse_worker_down", "expr": 'up{job="shoppulse"} == 0', "for": "2m",
     "labels": {"severity": "critical"},
     "annotations": {"summary": "A ShopPulse worker does not answer /metrics.",
                     "description": "{{ $labels.instance }} has not been scraped for 2 minutes; if it held the "
                                    "engine lease, a standby takes over after the group's session timeout."}},
    # Absent series count as 0: with every worker gone there is no series to compare.
    {"alert": "shoppulse_engine_not_running", "expr": "(sum(shoppulse_engine_active) or vector(0)) < 1",
     "for": "2m", "labels": {"severity": "critical"},
     "annotations": {"summary": "No ShopPulse worker computes the KPIs.",
                     "description": "No worker has held the engine lease for 2 minutes: no snapshots, alerts "
                                    "or KPI gauges are produced; input waits in Kafka."}},
    {"alert": "shoppulse_worker_not_ready", "expr": "shoppulse_ready == 0", "for": "5m",
     "labels": {"severity": "warning"},
     "annotations": {"summary": "A ShopPulse worker is up but not ready.",
                     "description": "{{ $labels.instance }} reports not ready for 5 minutes (not yet in the "
                                    "consumer group, or holds the engine lease without its state loaded)."}},
    {"alert": "shoppulse_serving_store_behind", "expr": "shoppulse_serving_backlog > 0", "for": "10m",
     "labels": {"severity": "warning"},
     "annotations": {"summary": "Snapshots wait to be written to Redis.",
                     "description": "{{ $labels.instance }} holds {{ $value }} snapshots for the serving store "
                                    "for 10 minutes: /kpis answers are stale."}},
)


def anchor(name: str) -> str:
    """The GitHub-style anchor of a Markdown heading `## name`."""
    return re.sub(r"[^a-z0-9_\- ]", "", name.lower()).replace(" ", "-")


def runbook_url(rule_name: str, explicit: str = "") -> str:
    return explicit or f"{RUNBOOK}#{anchor(rule_name)}"


def for_duration_s(rule: Rule) -> float:
    """Prometheus `for`: 0 for one window, else (for - 1/2) windows (see the module docstring)."""
    window_s = parse_duration_s(rule.window)
    return 0.0 if rule.for_windows <= 1 else (rule.for_windows - 0.5) * window_s


def series_selector(rule: Rule) -> dict[str, str]:
    """Label matchers of the series a KPI rule watches (a `*` dim value matches every value)."""
    labels = {"window": rule.window, "breakdown": next(iter(rule.dims), OVERALL)}
    labels.update({dim: value for dim, value in rule.dims.items() if value != ANY_VALUE})
    return labels


def value_of(rule: Rule) -> str:
    """The watched value as PromQL: a recording rule series, or an operational signal per worker."""
    window = rule.window
    if rule.kpi == DEADLETTER_RATE:
        return (f"sum by (instance) (increase(shoppulse_events_rejected_total[{window}])) / "
                f"(sum by (instance) (increase({CONSUMED_OR_REJECTED}[{window}])) > 0)")
    if rule.kpi == PROCESSING_LAG:
        # Like the stream signal, only minutes in which events were accepted count.
        return (f"max by (instance) (shoppulse_processing_lag_seconds) and on (instance) "
                f"sum by (instance) (increase(shoppulse_events_consumed_total[{window}])) > 0")
    return value_series(KPIS_BY_ID[rule.kpi]) + selector(series_selector(rule))


def traffic(rule: Rule) -> tuple[str, str] | None:
    """What `min_denominator` counts and the minimum, or None without one."""
    if not rule.min_denominator:
        return None
    if rule.kpi == DEADLETTER_RATE:
        counted = f"sum by (instance) (increase({CONSUMED_OR_REJECTED}[{rule.window}]))"
    else:
        counted = part_record(KPIS_BY_ID[rule.kpi], "denominator") + selector(series_selector(rule))
    return counted, number(rule.min_denominator)


def baseline_record(rule: Rule) -> str:
    return f"window_breakdown_offset:{rule.name}:{rule.baseline}_baseline"


def baseline_offsets_s(rule: Rule) -> list[int]:
    """Offsets of the baseline values: the same window on earlier days, or the previous windows."""
    step = 86400 if rule.baseline == "daily" else int(parse_duration_s(rule.window))
    return [k * step for k in range(1, rule.baseline_windows + 1)]


def baseline_expression(rule: Rule) -> str:
    """The baseline values as one series per offset, told apart by a `baseline_offset` label."""
    if rule.kpi in OPERATIONAL_SIGNALS:
        raise ValueError(f"rule {rule.name}: anomaly rules on operational signals have no Prometheus export")
    value, enough = value_of(rule), traffic(rule)
    terms = []
    for offset_s in baseline_offsets_s(rule):
        offset = prom_duration(offset_s)
        past = f"{value} offset {offset}"
        if enough:
            past = f"({past} and {enough[0]} offset {offset} >= {enough[1]})"
        terms.append(f'label_replace({past}, "{BASELINE_LABEL}", "{offset}", "", "")')
    return "\n or ".join(terms)


def condition(rule: Rule) -> str:
    value = value_of(rule)
    if rule.kpi in OPERATIONAL_SIGNALS:
        value = f"({value})"
    if rule.kind == ANOMALY:
        baseline = baseline_record(rule)
        mean = f"avg without ({BASELINE_LABEL}) ({baseline})"
        spread = f"{number(float(rule.factor))} * stddev without ({BASELINE_LABEL}) ({baseline})"
        sides = {"below": f"{value} < ({mean} - {spread})", "above": f"{value} > ({mean} + {spread})"}
        chosen = [sides[d] for d in ("below", "above") if rule.direction in (d, "both")]
        text = f"({chosen[0]})" if len(chosen) == 1 else f"(({chosen[0]})\nor ({chosen[1]}))"
        text += f"\nand (count without ({BASELINE_LABEL}) ({baseline}) >= {rule.min_baseline})"
    else:
        text = f"{value} {rule.op} {number(rule.threshold)}"
    enough = traffic(rule)
    return f"{text}\nand ({enough[0]} >= {enough[1]})" if enough else text


def description(rule: Rule, kpi: Kpi | None) -> str:
    where = "".join(f" ({dim}={{{{ $labels.{dim} }}}})" if value == ANY_VALUE else f" ({dim}={value})"
                    for dim, value in rule.dims.items())
    period = "in the last minute" if kpi is None else f"in the latest final {rule.window} window"
    about = f" {kpi.help}" if kpi is not None else ""
    return f"{rule.kpi}{where} is {VALUE_FORMAT} {period}. Rule: {rule.describe()}.{about}"


def kpi_alert(rule: Rule) -> dict:
    kpi = KPIS_BY_ID.get(rule.kpi)
    alert = {"alert": rule.name, "expr": condition(rule)}
    if for_duration_s(rule):
        alert["for"] = prom_duration(for_duration_s(rule))
    alert["labels"] = {"severity": rule.severity, "kpi": rule.kpi}
    alert["annotations"] = {"summary": rule.summary or rule.describe(), "description": description(rule, kpi),
                            "runbook_url": runbook_url(rule.name, rule.runbook)}
    return alert


def worker_alerts() -> list[dict]:
    return [{**alert, "annotations": {**alert["annotations"], "runbook_url": runbook_url(alert["alert"])}}
            for alert in WORKER_ALERTS]


def alerting_rules(rules: list[Rule]) -> dict:
    """Worker health, and the stream rules after the baselines their anomaly rules compare with."""
    baselines = [{"record": baseline_record(r), "expr": baseline_expression(r)} for r in rules if r.kind == ANOMALY]
    return {"groups": [{"name": WORKER_GROUP, "rules": worker_alerts()},
                       {"name": KPI_ALERT_GROUP, "rules": baselines + [kpi_alert(r) for r in rules]}]}


def load_alert_rules(path: Path) -> list[Rule]:
    return load_rules(path.read_text())
