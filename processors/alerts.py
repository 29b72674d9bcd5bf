"""Alert rules (a YAML file) and their evaluation on final KPI snapshots, as alert messages.

Rule file
---------
A YAML mapping with one key, ``rules``, holding a list (``rules: []`` for none)::

    rules:
      - name: conversion_rate_low      # unique; lower-case letters, digits and _
        kpi: conversion_rate           # a KPI id of the registry, or an operational signal
        window: 1h                     # a configured window name (SHOPPULSE_WINDOWS)
        dims: {channel: paid_search}   # optional; {} (default) is the overall value; at most
                                       #   one of the KPI's dims; the value "*" watches each
                                       #   value of that dim as a separate alert
        op: "<"                        # <, <=, >, >= (quote it: a bare > starts a YAML block)
        threshold: 0.005
        min_denominator: 200           # optional, default 0; ratio KPIs only
        for: 2                         # optional, default 1: consecutive windows breaching
        severity: critical             # critical, warning or info
        summary: Conversion below 0.5% # optional; made from the rule when absent
        runbook: https://...           # optional; copied into the alert messages

``kind: anomaly`` rules fire when a KPI departs from its own recent baseline instead of a
fixed threshold; they take these fields in place of ``op`` and ``threshold``::

      - name: sessions_drop
        kind: anomaly
        kpi: sessions
        window: 1h
        baseline: daily        # rolling: the last N evaluated windows of the same series;
                               # daily: the same window of the day on each of the last N days
        baseline_windows: 7    # N, 2..1000
        min_baseline: 5        # optional, default N: fewer baseline values, no verdict
        factor: 3              # fires when |value - mean| > factor x stddev of the baseline
        direction: below       # optional: below, above or both (default)
        severity: warning

The mean and standard deviation are the population ones over the baseline values
(sum / n and sqrt(sum((x - mean)^2) / n)); a constant baseline (stddev 0) makes any
different value anomalous. The alert's ``threshold`` is the bound crossed
(mean - factor x stddev with op ``<``, or mean + factor x stddev with op ``>``), and the
message carries the ``baseline`` (kind, mean, stddev, count, factor).

Operational signals are accepted as ``kpi`` with window ``1m`` and no dims: the worker
measures them per wall-clock minute and evaluates them like final windows.
``deadletter_rate`` is dead letters / (events accepted + dead letters) of the minute
(``min_denominator`` counts messages); ``processing_lag_s`` is the largest wall time minus
newest event time measured after a batch in the minute (no value in a minute without
events). Their Prometheus counterparts are ``shoppulse_events_rejected_total`` over
``shoppulse_events_consumed_total + shoppulse_events_rejected_total``, and
``shoppulse_processing_lag_seconds``.

Evaluation
----------
A rule is evaluated on each final snapshot of its KPI, window and dims. Windows whose value
is null, whose denominator is below ``min_denominator``, or (anomaly) whose baseline is too
short are skipped: they neither breach nor reset the count. Windows without data have no
snapshot and are not evaluated (alert on missing data in Prometheus). After ``for``
consecutive evaluated windows breach, one ``firing`` message is emitted; the first window
that does not breach emits one ``resolved`` message. Nothing is repeated while firing, and
a window already evaluated (a final snapshot emitted again after a crash) is ignored.
State is kept by rule name and dims in `TrackedStore`s, so it survives restarts; state of
rules no longer in the file is dropped on load.
"""
from __future__ import annotations

import datetime as dt
import math
import operator
import re
from dataclasses import dataclass, field
from typing import Iterable

import yaml

from .config import EngineConfig
from .kpi import Kpi
from .registry import KPIS_BY_ID
from .snapshots import format_utc
from .state import TrackedStore
from .windows import floor_to, window_name

OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
SEVERITIES = ("critical", "warning", "info")
THRESHOLD, ANOMALY = "threshold", "anomaly"
BASELINE_PERIOD_S = {"rolling": None, "daily": 86400}
DIRECTIONS = ("below", "above", "both")
MAX_BASELINE_WINDOWS = 1000
ANY_VALUE = "*"
SIGNAL_WINDOW = "1m"
DEADLETTER_RATE, PROCESSING_LAG = "deadletter_rate", "processing_lag_s"
# Operational signals: id -> has a denominator.
OPERATIONAL_SIGNALS = {DEADLETTER_RATE: True, PROCESSING_LAG: False}
DEFAULT_WINDOWS = tuple(window_name(z) for z in EngineConfig().window_sizes_s)

_COMMON = {"name", "kind", "kpi", "window", "dims", "min_denominator", "for", "severity", "summary", "runbook"}
_BY_KIND = {THRESHOLD: {"op", "threshold"},
            ANOMALY: {"baseline", "baseline_windows", "min_baseline", "factor", "direction"}}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Rule:
    """One validated rule: the fields of the rule file (`for` is `for_windows`)."""

    name: str
    kpi: str
    window: str
    severity: str
    kind: str = THRESHOLD
    dims: dict[str, str] = field(default_factory=dict)
    op: str = ""
    threshold: float | None = None
    min_denominator: float = 0
    for_windows: int = 1
    summary: str = ""
    runbook: str = ""
    baseline: str = "rolling"
    baseline_windows: int = 0
    min_baseline: int = 0
    factor: float = 0.0
    direction: str = "both"

    def describe(self) -> str:
        """The condition in one line, e.g. `conversion_rate 1h < 0.005 for 2`."""
        dims = ",".join(f"{k}={v}" for k, v in self.dims.items())
        where = f"{self.kpi}{{{dims}}}" if dims else self.kpi
        if self.kind == ANOMALY:
            verb = {"both": "departs from", "below": "falls below", "above": "rises above"}[self.direction]
            condition = (f"{verb} its {self.baseline} baseline of {self.baseline_windows} windows "
                         f"by > {_text(self.factor)} stddev")
        else:
            condition = f"{self.op} {_text(self.threshold)}"
        text = f"{where} {self.window} {condition} for {self.for_windows}"
        return text + (f" (min_denominator {_text(self.min_denominator)})" if self.min_denominator else "")


class RuleError(ValueError):
    """A rule file that cannot be used; `problems` names each rule and field at fault."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


# ------------------------------------------------------------------ loading
def load_rules(text: str, windows: Iterable[str] = DEFAULT_WINDOWS,
               kpis: dict[str, Kpi] = KPIS_BY_ID) -> list[Rule]:
    """Parse and validate a rule file; raises RuleError listing every problem."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleError([f"not valid YAML: {exc}"]) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        raise RuleError(["the file must be a mapping with a list `rules` (write `rules: []` for none)"])
    extra = sorted(set(doc) - {"rules"})
    if extra:
        raise RuleError([f"unknown top-level field(s): {', '.join(map(str, extra))}"])
    problems: list[str] = []
    rules: list[Rule] = []
    names: set[str] = set()
    for index, raw in enumerate(doc["rules"]):
        rule = _RuleReader(raw, index, tuple(windows), kpis, problems).read()
        if rule is None:
            continue
        if rule.name in names:
            problems.append(f"rule {rule.name!r}: field 'name' is used by more than one rule")
        names.add(rule.name)
        rules.append(rule)
    if problems:
        raise RuleError(problems)
    return rules


class _RuleReader:
    """Validates one raw rule mapping, collecting `rule 'x': field 'y' ...` problems."""

    def __init__(self, raw, index: int, windows: tuple[str, ...], kpis: dict[str, Kpi], problems: list[str]):
        self.raw, self.windows, self.kpis, self.problems = raw, windows, kpis, problems
        name = raw.get("name") if isinstance(raw, dict) else None
        self.label = f"rule {name!r}" if isinstance(name, str) and name else f"rule #{index + 1}"
        self.ok = True

    def fail(self, name: str, message: str) -> None:
        self.problems.append(f"{self.label}: field {name!r} {message}")
        self.ok = False

    def read(self) -> Rule | None:
        raw = self.raw
        if not isinstance(raw, dict):
            self.problems.append(f"{self.label}: must be a mapping of fields")
            return None
        kind = raw.get("kind", THRESHOLD)
        if not _one_of(kind, _BY_KIND):
            self.fail("kind", f"must be one of {', '.join(_BY_KIND)}")
            return None
        for name in sorted(set(map(str, raw)) - _COMMON - _BY_KIND[kind]):
            other = [k for k, fields in _BY_KIND.items() if name in fields]
            self.fail(name, f"is not used by kind {kind!r}" if other else "is not a rule field")
        name = raw.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            self.fail("name", "must be lower-case letters, digits and _ (starting with a letter)")
        severity = raw.get("severity")
        if not _one_of(severity, SEVERITIES):
            self.fail("severity", f"must be one of {', '.join(SEVERITIES)}")
        kpi, window, dims = self._series()
        common = dict(name=name, kpi=kpi, window=window, severity=severity, kind=kind, dims=dims,
                      min_denominator=self._min_denominator(kpi), for_windows=self._int("for", 1, 1, 10_000),
                      summary=self._text("summary"), runbook=self._text("runbook"))
        specific = self._threshold() if kind == THRESHOLD else self._anomaly()
        return Rule(**common, **specific) if self.ok else None

    def _series(self) -> tuple[str, str, dict[str, str]]:
        raw = self.raw
        kpi, window, dims = raw.get("kpi"), raw.get("window"), raw.get("dims", {}) or {}
        known = self.kpis.get(kpi) if isinstance(kpi, str) else None
        if _one_of(kpi, OPERATIONAL_SIGNALS):
            if window != SIGNAL_WINDOW:
                self.fail("window", f"must be {SIGNAL_WINDOW} for the operational signal {kpi!r}")
            if dims:
                self.fail("dims", f"must be empty for the operational signal {kpi!r}")
            return kpi, window, {}
        if known is None:
            self.fail("kpi", f"{kpi!r} is not a KPI of the registry nor one of {', '.join(OPERATIONAL_SIGNALS)}")
        elif known.ranking:
            self.fail("kpi", f"{kpi!r} is a ranking KPI (no value to compare)")
        if not _one_of(window, self.windows):
            self.fail("window", f"{window!r} must be one of the configured windows {', '.join(self.windows)}")
        elif known is not None and known.windows and window not in known.windows:
            self.fail("window", f"{kpi!r} is reported for {', '.join(known.windows)} only")
        if not isinstance(dims, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in dims.items()):
            self.fail("dims", "must map a dim name to a value (strings; \"*\" for each value)")
            return kpi, window, {}
        if len(dims) > 1:
            self.fail("dims", "may name at most one dim (snapshots break down by one dim at a time)")
        elif known is not None and dims and next(iter(dims)) not in known.dims:
            self.fail("dims", f"{next(iter(dims))!r} is not a dim of {kpi!r} ({', '.join(known.dims) or 'none'})")
        return kpi, window, dict(dims)

    def _min_denominator(self, kpi) -> float:
        value = self.raw.get("min_denominator", 0)
        if not _is_number(value) or value < 0:
            self.fail("min_denominator", "must be a number >= 0")
            return 0
        known = self.kpis.get(kpi) if isinstance(kpi, str) else None
        if _one_of(kpi, OPERATIONAL_SIGNALS):
            has_denominator = OPERATIONAL_SIGNALS[kpi]
        else:
            has_denominator = known is None or known.denominator is not None  # unknown: reported by `kpi`
        if value and not has_denominator:
            self.fail("min_denominator", f"needs a KPI with a denominator ({kpi!r} has none)")
        return value

    def _int(self, name: str, default: int, low: int, high: int) -> int:
        value = self.raw.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            self.fail(name, f"must be a whole number from {low} to {high}")
            return default
        return value

    def _text(self, name: str) -> str:
        value = self.raw.get(name, "")
        if not isinstance(value, str):
            self.fail(name, "must be text")
            return ""
        return value

    def _threshold(self) -> dict:
        op, threshold = self.raw.get("op"), self.raw.get("threshold")
        if not _one_of(op, OPS):
            self.fail("op", f"must be one of {', '.join(OPS)}")
        if not _is_number(threshold):
            self.fail("threshold", "must be a number")
        return {"op": op, "threshold": threshold}

    def _anomaly(self) -> dict:
        raw = self.raw
        baseline = raw.get("baseline", "rolling")
        if not _one_of(baseline, BASELINE_PERIOD_S):
            self.fail("baseline", f"must be one of {', '.join(BASELINE_PERIOD_S)}")
        if "baseline_windows" not in raw:
            self.fail("baseline_windows", "is required for kind 'anomaly'")
        n = self._int("baseline_windows", 2, 2, MAX_BASELINE_WINDOWS)
        min_baseline = self._int("min_baseline", n, 2, MAX_BASELINE_WINDOWS)
        if min_baseline > n:
            self.fail("min_baseline", f"must not exceed baseline_windows ({n})")
        factor = raw.get("factor")
        if not _is_number(factor) or factor <= 0:
            self.fail("factor", "must be a number > 0")
        direction = raw.get("direction", "both")
        if not _one_of(direction, DIRECTIONS):
            self.fail("direction", f"must be one of {', '.join(DIRECTIONS)}")
        return {"baseline": baseline, "baseline_windows": n, "min_baseline": min_baseline, "factor": factor,
                "direction": direction}


def _one_of(value, options) -> bool:
    return isinstance(value, str) and value in options


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _text(number) -> str:
    return f"{number:g}" if isinstance(number, float) else str(number)


# --------------------------------------------------------------- evaluation
@dataclass(frozen=True)
class Verdict:
    """One evaluated window: breached or not, the bound it was compared with, the baseline."""

    breached: bool
    op: str
    threshold: float
    baseline: dict | None = None


class AlertEvaluator:
    """Turns final snapshots into firing and resolved alert messages (see the module docstring).

    State (`stores`): `alerts.status` keyed `rule|dims` -> {breaching, firing, last_start,
    op}; `alerts.history` keyed `rule|dims|slot` -> [[window start, value], ...] for
    anomaly baselines. Both are bounded by rules x watched dim values (x slots of a day).
    """

    def __init__(self, rules: Iterable[Rule] = ()):
        self.rules = list(rules)
        self._by_series: dict[tuple[str, str], list[Rule]] = {}
        for rule in self.rules:
            self._by_series.setdefault((rule.kpi, rule.window), []).append(rule)
        self.status = TrackedStore("alerts.status")
        self.history = TrackedStore("alerts.history")

    @property
    def stores(self) -> list[TrackedStore]:
        return [self.status, self.history]

    def load(self, store_name: str, items) -> None:
        """Load persisted state, dropping (and deleting) keys of rules no longer configured."""
        store = {s.name: s for s in self.stores}[store_name]
        names = {rule.name for rule in self.rules}
        items = list(items)
        store.load((k, v) for k, v in items if k.partition("|")[0] in names)
        for key, _ in items:
            if key.partition("|")[0] not in names:
                store.pop(key)

    def on_final(self, snapshots: Iterable[dict]) -> list[dict]:
        """Alert messages for the transitions these final snapshots cause, oldest window first."""
        messages = []
        finals = sorted((s for s in snapshots if s.get("final")), key=lambda s: s["window_start"])
        for snap in finals:
            for rule in self._by_series.get((snap["kpi"], snap["window"]), ()):
                if _dims_match(rule.dims, snap["dims"]):
                    message = self._evaluate(rule, snap)
                    if message is not None:
                        messages.append(message)
        return messages

    def _evaluate(self, rule: Rule, snap: dict) -> dict | None:
        value = snap.get("value")
        if value is None or (rule.min_denominator and (snap.get("denominator") or 0) < rule.min_denominator):
            return None
        key = f"{rule.name}|{_dims_text(snap['dims'])}"
        start = _epoch(snap["window_start"])
        status = dict(self.status.get(key) or {"breaching": 0, "firing": False, "last_start": None, "op": ""})
        if status["last_start"] is not None and start <= status["last_start"]:
            return None  # this window was already evaluated (a final snapshot emitted again)
        status["last_start"] = start
        verdict = (self._anomaly_verdict(rule, key, start, value, status["op"]) if rule.kind == ANOMALY
                   else Verdict(OPS[rule.op](value, rule.threshold), rule.op, rule.threshold))
        message = None
        if verdict is None:
            pass  # baseline too short: no verdict
        elif verdict.breached:
            status["breaching"] += 1
            if not status["firing"] and status["breaching"] >= rule.for_windows:
                status["firing"], status["op"] = True, verdict.op
                message = alert_message(rule, "firing", snap, verdict)
        else:
            status["breaching"] = 0
            if status["firing"]:
                status["firing"] = False
                message = alert_message(rule, "resolved", snap, verdict)
        self.status[key] = status
        return message

    def _anomaly_verdict(self, rule: Rule, key: str, start: float, value: float, fired_op: str) -> Verdict | None:
        period = BASELINE_PERIOD_S[rule.baseline]
        history_key = f"{key}|{int(start % period) if period else ''}"
        past = self.history.get(history_key) or []
        if period:
            past = [p for p in past if p[0] >= start - rule.baseline_windows * period]
        self.history[history_key] = (past + [[start, value]])[-rule.baseline_windows:]
        if len(past) < rule.min_baseline:
            return None
        values = [v for _, v in past]
        mean = sum(values) / len(values)
        stddev = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        low, high = mean - rule.factor * stddev, mean + rule.factor * stddev
        baseline = {"kind": rule.baseline, "mean": mean, "stddev": stddev, "count": len(values),
                    "factor": rule.factor}
        if rule.direction != "above" and value < low:
            return Verdict(True, "<", low, baseline)
        if rule.direction != "below" and value > high:
            return Verdict(True, ">", high, baseline)
        below = fired_op == "<" or (not fired_op and rule.direction == "below")
        return Verdict(False, "<" if below else ">", low if below else high, baseline)


def alert_message(rule: Rule, state: str, snap: dict, verdict: Verdict) -> dict:
    """An alert record of the output contract (outputs.md section 2)."""
    message = {
        "alert": rule.name, "state": state, "severity": rule.severity, "kpi": rule.kpi, "window": rule.window,
        "window_start": snap["window_start"], "dims": snap["dims"], "value": snap["value"],
        "threshold": verdict.threshold, "op": verdict.op, "summary": rule.summary or rule.describe(),
        "at": snap["emitted_at"],
    }
    if rule.runbook:
        message["runbook"] = rule.runbook
    if verdict.baseline is not None:
        message["baseline"] = verdict.baseline
    return message


def _dims_match(wanted: dict[str, str], dims: dict[str, str]) -> bool:
    if wanted.keys() != dims.keys():
        return False
    return all(v == ANY_VALUE or dims[k] == v for k, v in wanted.items())


def _dims_text(dims: dict[str, str]) -> str:
    return ",".join(f"{k}={dims[k]}" for k in sorted(dims))


def _epoch(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# ------------------------------------------------------ operational signals
class OperationalSignals:
    """Dead-letter rate and processing lag of each wall-clock minute, shaped as final snapshots.

    The shell calls `record` after every batch and tick; counts of the running minute are
    not persisted (a restart loses at most one minute of them).
    """

    def __init__(self):
        self.minute: int | None = None
        self.messages = 0
        self.dead_letters = 0
        self.max_lag_s: float | None = None

    def record(self, now_wall: float, accepted: int, dead_letters: int, newest_event_s: float) -> list[dict]:
        """Count one batch; returns the records of the minute that ended before `now_wall`, if any."""
        minute = floor_to(now_wall, 60)
        records = []
        if self.minute is None or minute > self.minute:
            if self.minute is not None:
                records = self._records(now_wall)
            self.minute, self.messages, self.dead_letters, self.max_lag_s = minute, 0, 0, None
        self.messages += accepted + dead_letters
        self.dead_letters += dead_letters
        if accepted and math.isfinite(newest_event_s):
            lag = now_wall - newest_event_s
            self.max_lag_s = lag if self.max_lag_s is None else max(self.max_lag_s, lag)
        return records

    def _records(self, now_wall: float) -> list[dict]:
        base = {"window": SIGNAL_WINDOW, "window_start": format_utc(self.minute),
                "window_end": format_utc(self.minute + 60), "dims": {}, "final": True,
                "emitted_at": format_utc(now_wall)}
        records = []
        if self.messages:
            records.append({**base, "kpi": DEADLETTER_RATE, "value": self.dead_letters / self.messages,
                            "numerator": self.dead_letters, "denominator": self.messages, "unit": "ratio"})
        if self.max_lag_s is not None:
            records.append({**base, "kpi": PROCESSING_LAG, "value": self.max_lag_s, "numerator": self.max_lag_s,
                            "denominator": None, "unit": "seconds"})
        return records
