"""promtool unit tests of every alert rule: input series, then pending, firing and resolved checks.

Each test feeds the series a worker would export (a window's value held for one window
length, sampled at most every 4 minutes so it never goes stale): a healthy stretch (and
the baseline history of anomaly rules), `for` breaching windows, healthy windows again.
A KPI rule's scenario is first run through the stream evaluator (processors.alerts),
which must fire on the last breaching window and resolve on the next; promtool then
checks that Prometheus agrees at the times alerting.py's `for` implies. A rule with
`min_denominator` also gets its breach on too little traffic, which must stay silent.

Rules are evaluated every tenth of a window (a quarter without `for`), so a test of a
daily baseline stays short; checks fall on evaluation times, two evaluations away from
each transition. `group_eval_order` makes promtool evaluate the recording rules first
(Prometheus itself runs groups independently, a lag of one evaluation at most).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from processors.alerts import ANOMALY, ANY_VALUE, DEADLETTER_RATE, OPERATIONAL_SIGNALS, AlertEvaluator, Rule
from processors.kpi import RATIO, Kpi
from processors.registry import KPIS_BY_ID
from processors.snapshots import format_utc
from processors.windows import parse_duration_s
from streams.metrics import family_name

from .alerting import KPI_ALERT_GROUP, VALUE_FORMAT, WORKER_GROUP, for_duration_s, kpi_alert
from .promql import (OVERALL, PRODUCT_KPI, RATIO_KPI, kind_of, kpi_groups, number, part_metric, prom_duration,
                     recording_group)

MAX_SAMPLE_STEP_S = 240  # below Prometheus's 5 minute lookback
DIM_VALUE = "x"  # the dim value of the test series of rules watching each value (`*`)
WORKER = "w1"
RULE_FILES = ["../recording_rules.yml", "../alerting_rules.yml"]


@dataclass
class Scenario:
    """One value and denominator per window, and where the breach starts."""

    values: list[float]
    denominators: list[float]
    breach_start: int  # index of the first breaching window
    breach_windows: int

    @property
    def last_breach(self) -> int:
        return self.breach_start + self.breach_windows - 1


@dataclass(frozen=True)
class Timing:
    window_s: float
    sample_s: float  # input series interval
    eval_s: float  # rule evaluation interval

    @classmethod
    def of(cls, rule: Rule) -> "Timing":
        window_s = parse_duration_s(rule.window)
        return cls(window_s, min(window_s / 10, MAX_SAMPLE_STEP_S),
                   window_s / (10 if rule.for_windows > 1 else 4))

    @property
    def per_window(self) -> int:
        return round(self.window_s / self.sample_s)


def runs(values: list[float], per_window: int) -> str:
    """promtool's expanding notation: each value held for `per_window` samples, runs merged."""
    merged: list[list] = []
    for value in values:
        if merged and merged[-1][0] == value:
            merged[-1][1] += per_window
        else:
            merged.append([value, per_window])
    return " ".join(number(v) if n == 1 else f"{number(v)}x{n - 1}" for v, n in merged)


# ------------------------------------------------------------ scenarios
def threshold_values(rule: Rule) -> tuple[float, float]:
    """(healthy, breaching) values on either side of the threshold."""
    margin = abs(rule.threshold) / 2 or 1
    below, above = rule.threshold - margin, rule.threshold + margin
    return (above, below) if rule.op in ("<", "<=") else (below, above)


def anomaly_values(rule: Rule, kpi: Kpi) -> tuple[float, float, list[float]]:
    """(middle, spread, breaching values): each breach lies far outside a baseline that may
    already hold the earlier breaches (rolling baselines), hence the geometric growth."""
    middle, spread = (0.5, 0.125) if kpi.unit == RATIO else (100.0, 10.0)
    sign = -1 if rule.direction == "below" else 1
    growth = 4 * rule.factor + 4
    return middle, spread, [middle + sign * spread * (rule.factor + 2) * growth ** i
                            for i in range(rule.for_windows)]


def scenario(rule: Rule, kpi: Kpi, timing: Timing, low_traffic: bool = False) -> Scenario:
    n = rule.for_windows
    if rule.kind != ANOMALY:
        healthy, breach = threshold_values(rule)
        history, values = [], [healthy] + [breach] * n + [healthy] * 2
    else:
        middle, spread, breaches = anomaly_values(rule, kpi)
        if rule.baseline == "daily":
            per_day = int(86400 // timing.window_s)
            history = [middle + spread * (-1) ** day for day in range(rule.baseline_windows) for _ in range(per_day)]
        else:
            history = [middle + spread * (-1) ** i for i in range(rule.baseline_windows)]
        values = [middle] + breaches + [middle] * 2
    enough = float(max(2 * math.ceil(rule.min_denominator), 10))
    # Too little traffic: the breaching windows only (a baseline keeps its history).
    breach_den = rule.min_denominator / 2 if low_traffic else enough
    denominators = [enough] * (len(history) + 1) + [breach_den] * n + [enough] * 2
    return Scenario(history + values, denominators, len(history) + 1, n)


# ----------------------------------------------------- the stream oracle
def numerator(kpi: Kpi, value: float, denominator: float) -> float:
    return value * denominator / kpi.scale


def prometheus_value(kpi: Kpi, value: float, denominator: float) -> float:
    """The value as the recording rule computes it from the exported parts (same float operations)."""
    if kind_of(kpi) != RATIO_KPI:
        return value
    top = numerator(kpi, value, denominator)
    return kpi.scale * top / denominator if kpi.scale != 1 else top / denominator


def stream_transitions(rule: Rule, kpi: Kpi, sc: Scenario) -> list[tuple[int, str]]:
    """(window index, state) of the alert messages the stream evaluator emits for the scenario."""
    window_s = parse_duration_s(rule.window)
    dims = {dim: DIM_VALUE if value == ANY_VALUE else value for dim, value in rule.dims.items()}
    ratio = kind_of(kpi) == RATIO_KPI
    evaluator = AlertEvaluator([rule])
    found = []
    for index, (value, denominator) in enumerate(zip(sc.values, sc.denominators)):
        snap = {"kpi": rule.kpi, "window": rule.window, "window_start": format_utc(index * window_s),
                "dims": dims, "value": prometheus_value(kpi, value, denominator), "final": True,
                "numerator": None, "denominator": denominator if ratio else None,
                "emitted_at": format_utc((index + 1) * window_s)}
        found += [(index, message["state"]) for message in evaluator.on_final([snap])]
    return found


# ------------------------------------------------------------- series
def series_labels(rule: Rule) -> dict[str, str]:
    labels = {"window": rule.window, "breakdown": next(iter(rule.dims), OVERALL)}
    labels.update({dim: DIM_VALUE if value == ANY_VALUE else value for dim, value in rule.dims.items()})
    return labels


def kpi_series(rule: Rule, kpi: Kpi, sc: Scenario, per_window: int) -> list[dict]:
    text = ",".join(f'{k}="{v}"' for k, v in {**series_labels(rule), "instance": WORKER}.items())
    if kind_of(kpi) == PRODUCT_KPI:
        return [{"series": f"{family_name(kpi)}{{{text}}}", "values": runs(sc.values, per_window)}]
    if kind_of(kpi) != RATIO_KPI:
        return [{"series": f"{part_metric(kpi, 'numerator')}{{{text}}}", "values": runs(sc.values, per_window)}]
    numerators = [numerator(kpi, v, d) for v, d in zip(sc.values, sc.denominators)]
    return [{"series": f"{part_metric(kpi, 'numerator')}{{{text}}}", "values": runs(numerators, per_window)},
            {"series": f"{part_metric(kpi, 'denominator')}{{{text}}}", "values": runs(sc.denominators, per_window)}]


def expected_labels(rule: Rule) -> dict[str, str]:
    labels = {"severity": rule.severity, "kpi": rule.kpi}
    if rule.kpi in OPERATIONAL_SIGNALS:
        return {**labels, "instance": WORKER}
    labels.update(series_labels(rule))
    if kind_of(KPIS_BY_ID[rule.kpi]) == PRODUCT_KPI:
        labels["instance"] = WORKER
    return labels


def expected_annotations(rule: Rule, value: float) -> dict[str, str]:
    """The rule's annotations as Prometheus renders them for this value and these labels."""
    annotations = dict(kpi_alert(rule)["annotations"])
    text = annotations["description"].replace(VALUE_FORMAT, "%.3g" % value)
    for dim in rule.dims:
        text = text.replace(f"{{{{ $labels.{dim} }}}}", DIM_VALUE)
    annotations["description"] = text
    return annotations


def checks(rule: Rule, pending_s: float | None, firing_s: float, resolved_s: float, value: float) -> dict:
    """alert_rule_test and promql_expr_test entries: pending (with a `for`), firing, resolved."""
    name, labels = rule.name, expected_labels(rule)
    alert = {"exp_labels": labels, "exp_annotations": expected_annotations(rule, value)}
    tests: dict = {}
    pending = []
    if pending_s is not None:
        series = ",".join(f'{k}="{v}"' for k, v in {"alertname": name, "alertstate": "pending", **labels}.items())
        tests["promql_expr_test"] = [{"expr": f'ALERTS{{alertname="{name}", alertstate="pending"}}',
                                      "eval_time": prom_duration(pending_s),
                                      "exp_samples": [{"labels": f"ALERTS{{{series}}}", "value": 1}]}]
        pending = [{"eval_time": prom_duration(pending_s), "alertname": name, "exp_alerts": []}]
    tests["alert_rule_test"] = pending + [
        {"eval_time": prom_duration(firing_s), "alertname": name, "exp_alerts": [alert]},
        {"eval_time": prom_duration(resolved_s), "alertname": name, "exp_alerts": []}]
    return tests


def checked_scenario(rule: Rule, kpi: Kpi, timing: Timing, low_traffic: bool = False) -> Scenario:
    """The scenario, after the stream evaluator confirmed what it does with it."""
    sc = scenario(rule, kpi, timing, low_traffic)
    wanted = [] if low_traffic else [(sc.last_breach, "firing"), (sc.last_breach + 1, "resolved")]
    found = stream_transitions(rule, kpi, sc)
    if found != wanted:
        raise AssertionError(f"rule {rule.name}: the stream evaluator gives {found} on the test scenario, "
                             f"not {wanted}; adjust streams/deploygen/alert_tests.py")
    return sc


def kpi_rule_tests(rule: Rule) -> list[dict]:
    kpi, timing = KPIS_BY_ID[rule.kpi], Timing.of(rule)
    sc = checked_scenario(rule, kpi, timing)
    # The condition holds from the first breaching sample (an evaluation time) to the first
    # healthy one; checks are two evaluations away from the transitions.
    margin = 2 * timing.eval_s
    start_s = sc.breach_start * timing.window_s
    fires_s = start_s + for_duration_s(rule)
    pending_s = fires_s - margin if fires_s > start_s else None
    resolved_s = start_s + sc.breach_windows * timing.window_s + margin
    value = prometheus_value(kpi, sc.values[sc.last_breach], sc.denominators[sc.last_breach])
    interval = prom_duration(timing.sample_s)
    tests = [{"interval": interval, "input_series": kpi_series(rule, kpi, sc, timing.per_window),
              **checks(rule, pending_s, fires_s + margin, resolved_s, value)}]
    if rule.min_denominator and kind_of(kpi) == RATIO_KPI:
        quiet = checked_scenario(rule, kpi, timing, low_traffic=True)
        tests.append({"interval": interval, "input_series": kpi_series(rule, kpi, quiet, timing.per_window),
                      "alert_rule_test": [{"eval_time": prom_duration(fires_s + margin), "alertname": rule.name,
                                           "exp_alerts": []}]})
    return tests


# ------------------------------------------------- operational signals
def signal_rule_tests(rule: Rule) -> list[dict]:
    """Counters and the lag gauge of one worker. A rate over the window turns true within a
    window of the breach's start and false within a window of its end, so the breach lasts
    `for` + 2 windows and the checks leave a window for each transition."""
    timing = Timing.of(rule)
    window_s, per_window = timing.window_s, timing.per_window
    healthy, breach = threshold_values(rule)
    minutes = [healthy] + [breach] * (rule.for_windows + 2) + [healthy] * 3
    if rule.kpi == DEADLETTER_RATE:
        series, value = deadletter_series(minutes, per_window)
    else:
        series = [{"series": f'shoppulse_processing_lag_seconds{{instance="{WORKER}"}}',
                   "values": runs(minutes, per_window)},
                  {"series": f'shoppulse_events_consumed_total{{instance="{WORKER}",topic="shop.orders"}}',
                   "values": f"1000+100x{len(minutes) * per_window}"}]
        value = breach
    margin, start_s, wait_s = 2 * timing.eval_s, window_s, for_duration_s(rule)
    pending_s = start_s + wait_s - margin if wait_s >= window_s else None
    firing_s = start_s + window_s + wait_s + margin
    resolved_s = start_s + (rule.for_windows + 3) * window_s + margin
    return [{"interval": prom_duration(timing.sample_s), "input_series": series,
             **checks(rule, pending_s, firing_s, resolved_s, value)}]


def deadletter_series(minutes: list[float], per_window: int) -> tuple[list[dict], float]:
    """Consumed and rejected counters whose per-sample increments give each minute's share."""
    per_sample = 1000
    consumed, rejected = [100_000], [1000]
    for share in minutes:
        bad = round(share * per_sample)
        for _ in range(per_window):
            consumed.append(consumed[-1] + per_sample - bad)
            rejected.append(rejected[-1] + bad)
    labels = f'instance="{WORKER}",topic="shop.orders"'
    series = [{"series": f"shoppulse_events_consumed_total{{{labels}}}", "values": " ".join(map(str, consumed))},
              {"series": f'shoppulse_events_rejected_total{{{labels},reason="not_json"}}',
               "values": " ".join(map(str, rejected))}]
    return series, round(minutes[1] * per_sample) / per_sample


def rule_test_file(rule: Rule) -> dict:
    """A promtool test file for one rule, with the rule's own evaluation interval."""
    tests = signal_rule_tests(rule) if rule.kpi in OPERATIONAL_SIGNALS else kpi_rule_tests(rule)
    order = [recording_group(group) for group in kpi_groups()] + [WORKER_GROUP, KPI_ALERT_GROUP]
    return {"rule_files": RULE_FILES, "evaluation_interval": prom_duration(Timing.of(rule).eval_s),
            "group_eval_order": order, "tests": tests}
