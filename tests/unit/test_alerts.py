"""Alert rules: validation messages, threshold and anomaly evaluation, state across restarts, CLI."""
from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import orjson
import pytest
import yaml

from processors.alerts import AlertEvaluator, OperationalSignals, RuleError, load_rules
from processors.kpi import COUNT, EVENT, RATIO, SALES, kpi
from processors.registry import KPIS_BY_ID
from streams.alerting import Alerting, PersistedState, rule_file_path
from streams.cli import main
from streams.pipeline import BatchOutput

ROOT = Path(__file__).resolve().parents[2]
T0 = dt.datetime(2019, 6, 13, 10, 0)
BASE = {"name": "conversion_low", "kpi": "conversion_rate", "window": "1m", "op": "<", "threshold": 0.5,
        "min_denominator": 2, "for": 2, "severity": "critical"}
ANOMALY = {"name": "orders_odd", "kind": "anomaly", "kpi": "orders", "window": "1m", "baseline": "rolling",
           "baseline_windows": 4, "factor": 2, "severity": "warning"}


def rules_text(*rules: dict) -> str:
    return yaml.safe_dump({"rules": list(rules)}, sort_keys=False)


def problems(*rules: dict, **kwargs) -> list[str]:
    with pytest.raises(RuleError) as error:
        load_rules(rules_text(*rules), **kwargs)
    return error.value.problems


# ------------------------------------------------------------- validation
@pytest.mark.parametrize("change, message", [
    ({"name": "Bad Name"}, "rule 'Bad Name': field 'name' must be lower-case letters, digits and _ "
                           "(starting with a letter)"),
    ({"kind": "spike"}, "rule 'conversion_low': field 'kind' must be one of threshold, anomaly"),
    ({"kpi": "nope"}, "rule 'conversion_low': field 'kpi' 'nope' is not a KPI of the registry nor one of "
                      "deadletter_rate, processing_lag_s"),
    ({"window": "2h"}, "rule 'conversion_low': field 'window' '2h' must be one of the configured windows "
                       "1m, 5m, 1h, 1d"),
    ({"dims": ["channel"]}, "rule 'conversion_low': field 'dims' must map a dim name to a value "
                            "(strings; \"*\" for each value)"),
    ({"dims": {"channel": "email", "device": "mobile"}},
     "rule 'conversion_low': field 'dims' may name at most one dim (snapshots break down by one dim at a time)"),
    ({"dims": {"currency": "EUR"}}, "rule 'conversion_low': field 'dims' 'currency' is not a dim of "
                                    "'conversion_rate' (channel, device, country)"),
    ({"op": "=="}, "rule 'conversion_low': field 'op' must be one of <, <=, >, >="),
    ({"op": None}, "rule 'conversion_low': field 'op' must be one of <, <=, >, >="),
    ({"threshold": "low"}, "rule 'conversion_low': field 'threshold' must be a number"),
    ({"threshold": True}, "rule 'conversion_low': field 'threshold' must be a number"),
    ({"min_denominator": -1}, "rule 'conversion_low': field 'min_denominator' must be a number >= 0"),
    ({"kpi": "orders"}, "rule 'conversion_low': field 'min_denominator' needs a KPI with a denominator "
                        "('orders' has none)"),
    ({"for": 0}, "rule 'conversion_low': field 'for' must be a whole number from 1 to 10000"),
    ({"for": 1.5}, "rule 'conversion_low': field 'for' must be a whole number from 1 to 10000"),
    ({"severity": "urgent"}, "rule 'conversion_low': field 'severity' must be one of critical, warning, info"),
    ({"summary": 3}, "rule 'conversion_low': field 'summary' must be text"),
    ({"threshhold": 0.5}, "rule 'conversion_low': field 'threshhold' is not a rule field"),
    ({"factor": 2}, "rule 'conversion_low': field 'factor' is not used by kind 'threshold'"),
])
def test_each_invalid_field_is_named_with_its_rule(change, message):
    assert problems({**BASE, **change}) == [message]


@pytest.mark.parametrize("change, message", [
    ({"factor": 0}, "rule 'orders_odd': field 'factor' must be a number > 0"),
    ({"baseline": "weekly"}, "rule 'orders_odd': field 'baseline' must be one of rolling, daily"),
    ({"baseline_windows": 1}, "rule 'orders_odd': field 'baseline_windows' must be a whole number from 2 to 1000"),
    ({"min_baseline": 5}, "rule 'orders_odd': field 'min_baseline' must not exceed baseline_windows (4)"),
    ({"direction": "sideways"}, "rule 'orders_odd': field 'direction' must be one of below, above, both"),
    ({"op": "<"}, "rule 'orders_odd': field 'op' is not used by kind 'anomaly'"),
])
def test_anomaly_fields_are_validated(change, message):
    assert problems({**ANOMALY, **change}) == [message]


def test_anomaly_rule_needs_baseline_windows():
    raw = {k: v for k, v in ANOMALY.items() if k != "baseline_windows"}
    assert problems(raw) == ["rule 'orders_odd': field 'baseline_windows' is required for kind 'anomaly'"]


def test_operational_signals_take_the_1m_window_and_no_dims():
    rule = {"name": "dead", "kpi": "deadletter_rate", "window": "5m", "op": ">", "threshold": 0.01,
            "dims": {"topic": "x"}, "severity": "critical"}
    assert problems(rule) == ["rule 'dead': field 'window' must be 1m for the operational signal 'deadletter_rate'",
                              "rule 'dead': field 'dims' must be empty for the operational signal "
                              "'deadletter_rate'"]
    lag = {"name": "lag", "kpi": "processing_lag_s", "window": "1m", "op": ">", "threshold": 300,
           "min_denominator": 1, "severity": "critical"}
    assert problems(lag) == ["rule 'lag': field 'min_denominator' needs a KPI with a denominator "
                             "('processing_lag_s' has none)"]


def test_windows_are_the_configured_ones_and_restricted_kpis_keep_their_windows():
    assert problems(BASE, windows=("5m", "1h")) == [
        "rule 'conversion_low': field 'window' '1m' must be one of the configured windows 5m, 1h"]
    daily = kpi("daily_only", 0, SALES, "orders", None, COUNT, EVENT, (), "h", "f", (), windows=("1d",))
    pairs = kpi("pairs", 0, SALES, "pair_orders", None, COUNT, EVENT, (), "h", "f", (), ranking="affinity")
    kpis = {"daily_only": daily, "pairs": pairs}
    rule = {"name": "r", "kpi": "daily_only", "window": "1h", "op": ">", "threshold": 1, "severity": "info"}
    assert problems(rule, kpis=kpis) == ["rule 'r': field 'window' 'daily_only' is reported for 1d only"]
    assert problems({**rule, "kpi": "pairs"}, kpis=kpis) == [
        "rule 'r': field 'kpi' 'pairs' is a ranking KPI (no value to compare)"]


def test_duplicate_names_and_rules_without_a_name():
    assert problems(BASE, {**BASE, "threshold": 0.1}) == [
        "rule 'conversion_low': field 'name' is used by more than one rule"]
    nameless = {k: v for k, v in BASE.items() if k != "name"}
    assert problems(BASE, nameless) == [
        "rule #2: field 'name' must be lower-case letters, digits and _ (starting with a letter)"]


@pytest.mark.parametrize("text, message", [
    ("", "the file must be a mapping with a list `rules` (write `rules: []` for none)"),
    ("- name: x", "the file must be a mapping with a list `rules` (write `rules: []` for none)"),
    ("rules: []\nrule: []", "unknown top-level field(s): rule"),
    ("rules: [1]", "rule #1: must be a mapping of fields"),
])
def test_malformed_files(text, message):
    with pytest.raises(RuleError) as error:
        load_rules(text)
    assert error.value.problems == [message]


def test_yaml_errors_and_unsafe_tags_are_rejected():
    with pytest.raises(RuleError, match="not valid YAML"):
        load_rules("rules: [")
    with pytest.raises(RuleError, match="not valid YAML"):  # safe_load: no Python objects
        load_rules("rules: !!python/object/apply:os.system ['true']")


def test_a_valid_rule_with_defaults():
    (rule,) = load_rules(rules_text({"name": "aov_low", "kpi": "aov", "window": "1h", "op": "<=",
                                     "threshold": 20, "severity": "info"}))
    assert (rule.kind, rule.dims, rule.for_windows, rule.min_denominator, rule.summary) == ("threshold", {}, 1, 0, "")
    assert rule.describe() == "aov 1h <= 20 for 1"
    assert load_rules("rules: []") == []


def test_the_shipped_default_file_is_valid_and_covers_the_key_kpis():
    rules = load_rules((ROOT / "deploy/alerts/default.yaml").read_text())
    assert {r.kpi for r in rules} >= {"conversion_rate", "bounce_rate", "cart_abandonment_rate", "aov",
                                      "first_response_time_s", "csat", "nps", "deadletter_rate", "processing_lag_s"}
    assert all(r.kpi in KPIS_BY_ID or r.kpi in ("deadletter_rate", "processing_lag_s") for r in rules)
    assert {r.kind for r in rules} == {"threshold", "anomaly"}


# ------------------------------------------------------------- evaluation
def snap(minute: int, value, numerator=None, denominator=None, *, kpi_id="conversion_rate", window="1m",
         dims=None, final=True) -> dict:
    """A final snapshot of the window starting `minute` minutes after 2019-06-13T10:00Z."""
    start = (T0 + dt.timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"kpi": kpi_id, "window": window, "window_start": start, "window_end": "-", "dims": dims or {},
            "value": value, "numerator": numerator, "denominator": denominator, "unit": "ratio",
            "final": final, "emitted_at": f"emitted {start}"}


def evaluator(*rules: dict) -> AlertEvaluator:
    return AlertEvaluator(load_rules(rules_text(*rules)))


def transitions(messages: list[dict]) -> list[tuple]:
    return [(m["state"], m["window_start"][11:16], m["value"]) for m in messages]


def test_fires_after_for_windows_once_then_resolves():
    ev = evaluator(BASE)  # conversion_rate 1m < 0.5 for 2, min_denominator 2
    assert ev.on_final([snap(0, 0.5, 1, 2)]) == []      # 0.5 is not < 0.5
    assert ev.on_final([snap(1, 0.25, 1, 4)]) == []     # breach 1 of 2
    fired = ev.on_final([snap(2, 0.0, 0, 2)])           # breach 2 of 2: fires
    assert fired == [{"alert": "conversion_low", "state": "firing", "severity": "critical",
                      "kpi": "conversion_rate", "window": "1m", "window_start": "2019-06-13T10:02:00Z",
                      "dims": {}, "value": 0.0, "threshold": 0.5, "op": "<",
                      "summary": "conversion_rate 1m < 0.5 for 2 (min_denominator 2)",
                      "at": "emitted 2019-06-13T10:02:00Z"}]
    assert ev.on_final([snap(3, 0.25, 1, 4)]) == []     # still breaching: no repeat while firing
    assert transitions(ev.on_final([snap(4, 1.0, 2, 2)])) == [("resolved", "10:04", 1.0)]
    assert ev.on_final([snap(5, 0.0, 0, 2)]) == []      # one breach again: below `for`, no flapping
    assert ev.on_final([snap(6, 0.5, 1, 2)]) == []      # reset


def test_windows_below_min_denominator_or_without_value_are_skipped():
    ev = evaluator(BASE)
    assert ev.on_final([snap(0, 0.0, 0, 2)]) == []      # breach 1
    assert ev.on_final([snap(1, 0.0, 0, 1)]) == []      # denominator 1 < 2: neither breach nor reset
    assert ev.on_final([snap(2, None, 0, 0)]) == []     # no value: skipped
    assert transitions(ev.on_final([snap(3, 0.0, 0, 3)])) == [("firing", "10:03", 0.0)]  # breach 2
    assert ev.on_final([snap(4, 1.0, 1, 1)]) == []      # a recovery on too little traffic does not resolve


def test_for_counts_a_batch_of_windows_in_time_order_and_ignores_repeats_and_interim():
    ev = evaluator(BASE)
    batch = [snap(1, 0.0, 0, 2), snap(0, 0.0, 0, 2), snap(2, 0.0, 0, 2, final=False)]
    assert transitions(ev.on_final(batch)) == [("firing", "10:01", 0.0)]
    # The same final windows emitted again (after a crash) change nothing.
    assert ev.on_final([snap(0, 1.0, 2, 2), snap(1, 1.0, 2, 2)]) == []
    assert transitions(ev.on_final([snap(2, 1.0, 2, 2)])) == [("resolved", "10:02", 1.0)]


def test_dims_filter_exact_and_each_value():
    exact = evaluator({**BASE, "for": 1, "dims": {"channel": "email"}})
    assert exact.on_final([snap(0, 0.0, 0, 2), snap(0, 0.0, 0, 2, dims={"channel": "direct"})]) == []
    (message,) = exact.on_final([snap(1, 0.0, 0, 2, dims={"channel": "email"})])
    assert message["dims"] == {"channel": "email"}

    each = evaluator({**BASE, "for": 1, "dims": {"channel": "*"}})
    messages = each.on_final([snap(0, 0.0, 0, 2, dims={"channel": "email"}), snap(0, 0.4, 2, 5),
                              snap(0, 0.1, 1, 10, dims={"channel": "direct"}),
                              snap(0, 0.0, 0, 2, dims={"device": "mobile"})])
    assert [(m["dims"], m["value"]) for m in messages] == [({"channel": "email"}, 0.0), ({"channel": "direct"}, 0.1)]
    # Each watched value has its own state: email recovers, direct keeps firing.
    messages = each.on_final([snap(1, 0.5, 1, 2, dims={"channel": "email"}),
                              snap(1, 0.1, 1, 10, dims={"channel": "direct"})])
    assert [(m["state"], m["dims"]) for m in messages] == [("resolved", {"channel": "email"})]


def orders(minute: int, value: float) -> dict:
    return snap(minute, value, value, None, kpi_id="orders")


def test_rolling_anomaly_with_hand_computed_mean_and_stddev():
    ev = evaluator(ANOMALY)  # last 4 values, fires when |value - mean| > 2 x stddev
    # Too short a baseline (fewer than 4 values): no verdict, even for a wild value.
    assert ev.on_final([orders(0, 10), orders(1, 12), orders(2, 14), orders(3, 16)]) == []
    # Baseline 10, 12, 14, 16: mean 13, variance (9 + 1 + 1 + 9) / 4 = 5, stddev sqrt(5) = 2.2360...
    # bounds 13 -/+ 2 sqrt(5) = 8.5279 .. 17.4721; 17 is inside, 18 above.
    assert ev.on_final([orders(4, 17)]) == []
    # Baseline now 12, 14, 16, 17: mean 14.75, variance (7.5625 + 0.5625 + 1.5625 + 5.0625) / 4 = 3.6875.
    (fired,) = ev.on_final([orders(5, 19)])
    stddev = math.sqrt(3.6875)
    assert (fired["state"], fired["op"], fired["value"]) == ("firing", ">", 19)
    assert fired["threshold"] == pytest.approx(14.75 + 2 * stddev)  # 18.5906
    assert fired["baseline"] == {"kind": "rolling", "mean": 14.75, "stddev": pytest.approx(stddev), "count": 4,
                                 "factor": 2}
    # Baseline 14, 16, 17, 19: mean 16.5, variance (6.25 + 0.25 + 0.25 + 6.25) / 4 = 3.25; 16 is inside.
    (resolved,) = ev.on_final([orders(6, 16)])
    assert (resolved["state"], resolved["op"], resolved["value"]) == ("resolved", ">", 16)
    assert resolved["threshold"] == pytest.approx(16.5 + 2 * math.sqrt(3.25))


def test_anomaly_direction_min_baseline_and_a_constant_baseline():
    below = evaluator({**ANOMALY, "direction": "below", "min_baseline": 2})
    assert below.on_final([orders(0, 10), orders(1, 10)]) == []  # one value in the baseline: no verdict
    assert below.on_final([orders(2, 10)]) == []  # baseline 10, 10: stddev 0, 10 is equal
    assert below.on_final([orders(3, 11)]) == []  # above, but only drops are watched
    # Baseline 10, 10, 10, 11: mean 10.25, variance (3 x 0.0625 + 0.5625) / 4 = 0.1875; 9 < 10.25 - 2 x 0.4330.
    (fired,) = below.on_final([orders(4, 9)])
    assert (fired["op"], fired["threshold"]) == ("<", pytest.approx(10.25 - 2 * math.sqrt(0.1875)))


def test_daily_anomaly_compares_the_same_hour_of_previous_days():
    rule = {**ANOMALY, "window": "1h", "baseline": "daily", "baseline_windows": 3, "factor": 1}
    ev = evaluator(rule)
    day = 24 * 60

    def hourly(day_n: int, hour: int, value: float) -> dict:
        return snap(day_n * day + hour * 60, value, value, None, kpi_id="orders", window="1h")

    # 10:00 on days 0, 1, 2: 100, 110, 120; 11:00 every day: 5 (another slot, never mixed in).
    for n, value in enumerate((100, 110, 120)):
        assert ev.on_final([hourly(n, 0, value), hourly(n, 1, 5)]) == []
    # Day 3, 10:00: baseline 100, 110, 120: mean 110, stddev sqrt(200 / 3) = 8.165; 125 > 118.165.
    (fired,) = ev.on_final([hourly(3, 0, 125)])
    assert fired["threshold"] == pytest.approx(110 + math.sqrt(200 / 3))
    assert fired["baseline"]["count"] == 3


def test_state_survives_a_save_and_load_and_drops_removed_rules():
    first = evaluator(BASE, ANOMALY)
    assert transitions(first.on_final([snap(0, 0.0, 0, 2), snap(1, 0.0, 0, 2)])) == [("firing", "10:01", 0.0)]
    first.on_final([orders(m, 10 + m) for m in range(3)])
    saved = {store.name: list(store.drain_changes()) for store in first.stores}
    assert all(value is not None for items in saved.values() for _, value in items)
    persisted = {name: orjson.loads(orjson.dumps(items)) for name, items in saved.items()}  # as the table keeps it

    second = evaluator(BASE, ANOMALY)
    for name, items in persisted.items():
        second.load(name, items)
    assert [list(s.drain_changes()) for s in second.stores] == [[], []]  # loading changes nothing
    assert second.on_final([snap(1, 0.0, 0, 2)]) == []  # already evaluated
    assert second.on_final([snap(2, 0.0, 0, 2)]) == []  # still firing: no repeat after the restart
    assert transitions(second.on_final([snap(3, 0.5, 1, 2)])) == [("resolved", "10:03", 0.5)]
    # The anomaly baseline continued: 10, 11, 12 + 13 is the fourth value, then 100 is far above.
    assert second.on_final([orders(3, 13)]) == []
    assert [m["state"] for m in second.on_final([orders(4, 100)])] == ["firing"]

    renamed = evaluator({**BASE, "name": "conversion_very_low"})
    for name, items in persisted.items():
        renamed.load(name, items)
    assert len(renamed.status) == len(renamed.history) == 0
    deleted = {name: sorted(k for k, v in store.drain_changes() if v is None) for name, store in
               ((s.name, s) for s in renamed.stores)}
    assert deleted == {"alerts.status": ["conversion_low|", "orders_odd|"], "alerts.history": ["orders_odd||"]}


# ----------------------------------------------------- operational signals
def test_operational_signals_per_wall_minute():
    signals = OperationalSignals()
    t = 1_560_420_000.0  # 2019-06-13T10:00:00Z
    assert signals.record(t + 5, accepted=90, dead_letters=10, newest_event_s=t - 100) == []
    assert signals.record(t + 30, accepted=0, dead_letters=0, newest_event_s=t - 100) == []  # idle tick
    assert signals.record(t + 50, accepted=50, dead_letters=0, newest_event_s=t + 20) == []
    closed = signals.record(t + 61, accepted=0, dead_letters=0, newest_event_s=t + 20)
    # Dead letters 10 / (90 + 10 + 50) messages = 1/15; lags after batches: 105 s and 30 s -> max 105 s.
    assert [(r["kpi"], r["window_start"], r["value"], r["numerator"], r["denominator"]) for r in closed] == [
        ("deadletter_rate", "2019-06-13T10:00:00Z", 10 / 150, 10, 150),
        ("processing_lag_s", "2019-06-13T10:00:00Z", 105.0, 105.0, None)]
    assert all(r["final"] and r["window"] == "1m" for r in closed)
    # A minute without messages has no values.
    assert signals.record(t + 125, accepted=0, dead_letters=0, newest_event_s=t + 20) == []


def test_worker_alerting_keys_messages_by_rule_name_and_persists_with_the_engine():
    from processors.engine import KpiEngine

    rules = load_rules(rules_text({**BASE, "for": 1}, {"name": "lag", "kpi": "processing_lag_s", "window": "1m",
                                                       "op": ">", "threshold": 300, "severity": "critical"}))
    alerting = Alerting(rules)
    t = 1_560_420_000.0
    out = BatchOutput(snapshots=[snap(0, 0.0, 0, 2), snap(1, 0.0, 0, 2, final=False)])
    out.consumed["shop.clickstream"] = 3
    messages = alerting.messages(out, newest_event_s=t - 400, now_wall=t + 1)
    assert [(key, orjson.loads(value)["state"]) for key, value in messages] == [(b"conversion_low", "firing")]
    # The next minute closes the first: lag 401 s > 300.
    (lag,) = alerting.messages(BatchOutput(), newest_event_s=t - 400, now_wall=t + 61)
    assert lag[0] == b"lag" and orjson.loads(lag[1])["value"] == 401.0

    engine = KpiEngine()
    both = PersistedState(engine, alerting.evaluator)
    assert {"alerts.status", "alerts.history", "seen", "meta"} <= {s.name for s in both.stores}
    both.load("alerts.status", [("conversion_low|", {"breaching": 1, "firing": True, "last_start": 0, "op": "<"})])
    both.load("seen", [("web\x1fe1", 5.0)])
    assert alerting.evaluator.status["conversion_low|"]["firing"] and "web\x1fe1" in engine.seen


# --------------------------------------------------------------------- CLI
def test_alerts_check_lists_rules_or_exits_2(tmp_path, capsys):
    good = tmp_path / "good.yaml"
    good.write_text(rules_text(BASE))
    assert main(["alerts", "check", str(good)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [f"{good}: 1 rule(s)",
                                "  conversion_low  critical  conversion_rate 1m < 0.5 for 2 (min_denominator 2)"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(rules_text({**BASE, "op": "=<"}))
    assert main(["alerts", "check", str(bad)]) == 2
    assert capsys.readouterr().err == (f"shoppulse: invalid alert rules:\n  {bad}: rule 'conversion_low': "
                                       "field 'op' must be one of <, <=, >, >=\n")


def test_worker_refuses_invalid_rules_before_connecting(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(rules_text({**BASE, "window": "7m"}))
    monkeypatch.setenv("SHOPPULSE_ALERT_RULES", str(bad))
    monkeypatch.setenv("SHOPPULSE_KAFKA_BOOTSTRAP", "127.0.0.1:1")  # never reached
    assert main(["worker"]) == 2
    assert "field 'window' '7m' must be one of the configured windows" in capsys.readouterr().err


def test_default_rule_path_is_found_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert rule_file_path("deploy/alerts/default.yaml") == ROOT / "deploy/alerts/default.yaml"
    assert rule_file_path("") is None
    assert rule_file_path("mine.yaml") == Path("mine.yaml")
