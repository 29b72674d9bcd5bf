"""Supply chain KPIs: cycle time, yields, compliance incidents, OEE and OLE (products of ratios)."""
from __future__ import annotations

import pytest

from eventkit import ACTIVE, IDLE, T0, Snapshots, compute, engine, event, iso
from dataclasses import replace

from processors.kpi import EVENT, RATIO, REPORT_WINDOWS, SUPPLY, kpi
from processors.registry import KPIS
from processors.snapshots import kpi_value

OPERATIONS = "shop.operations"
SIZES = (300, 3600)  # 5m and 1h windows
# Report KPIs are published for 1h and 1d only; the formulas are checked on 5m windows
# too, with that restriction lifted.
UNRESTRICTED = tuple(replace(k, windows=()) for k in KPIS)


def work_order(t: float, line: str, duration_s: float, started: int, first_pass: int, good: int):
    """A work_order_completed at T0 + t that started duration_s earlier."""
    return event("work_order_completed", t, {
        "work_order_id": f"wo-{line}-{t}", "line": line, "started_at": iso(t - duration_s),
        "units_started": started, "units_good_first_pass": first_pass, "units_good": good},
        topic=OPERATIONS, source="mes")


def incident(t: float, category: str, severity: str):
    return event("compliance_incident", t, {"incident_id": f"inc-{t}", "category": category,
                                            "severity": severity}, topic=OPERATIONS, source="ehs")


def _period(start: float) -> dict:
    return {"period_start": iso(start), "period_end": iso(start + 300)}


def line_status(t: float, start: float, line: str, planned: float, run: float, ideal_cycle: float,
                total: int, good: int):
    """A line_status_reported at T0 + t for the 300 s period starting at T0 + start."""
    return event("line_status_reported", t, {
        "line": line, "planned_s": planned, "run_s": run, "ideal_cycle_s": ideal_cycle,
        "units_total": total, "units_good": good, **_period(start)}, topic=OPERATIONS, source="mes")


def labor(t: float, start: float, crew: str, scheduled: float, productive: float, actual: int,
          standard: float, good: int):
    """A labor_reported at T0 + t for the 300 s period starting at T0 + start."""
    return event("labor_reported", t, {
        "crew": crew, "scheduled_s": scheduled, "productive_s": productive, "units_actual": actual,
        "units_standard": standard, "units_good": good, **_period(start)}, topic=OPERATIONS, source="mes")


# Work orders (completion @t; duration; started / good first pass / good):
#   @100 pack-1  1200 s  100 / 90 / 95
#   @200 pack-1   600 s   50 / 40 / 45
#   @250 kitting  900 s   20 / 20 / 20
#   @400 kitting  300 s   10 /  8 /  9   (second 5m window)
WORK_ORDERS = [
    work_order(100, "pack-1", 1200, 100, 90, 95),
    work_order(200, "pack-1", 600, 50, 40, 45),
    work_order(250, "kitting", 900, 20, 20, 20),
    work_order(400, "kitting", 300, 10, 8, 9),
]

# Incidents: @10 safety/high, @20 safety/low, @30 quality/high, @350 quality/critical.
INCIDENTS = [
    incident(10, "safety", "high"),
    incident(20, "safety", "low"),
    incident(30, "quality", "high"),
    incident(350, "quality", "critical"),
]

# Line reports, sent at the end of their period and counted in the window of period_start:
#   period [0, 300)   pack-1  planned 300, run 240, ideal cycle 2 s x 100 units = 200 s, good 95
#   period [0, 300)   kitting planned 300, run 150, ideal cycle 5 s x  24 units = 120 s, good 18
#   period [300, 600) pack-1  planned 300, run 0, no units (stopped all period)
LINES = [
    line_status(300, 0, "pack-1", 300, 240, 2.0, 100, 95),
    line_status(300, 0, "kitting", 300, 150, 5.0, 24, 18),
    line_status(600, 300, "pack-1", 300, 0, 2.0, 0, 0),
]

# Labor reports (same attribution):
#   period [0, 300)   crew-a  scheduled 2400, productive 1800, actual 36, standard 40,   good 34
#   period [0, 300)   crew-b  scheduled 1800, productive 1500, actual 25, standard 30.5, good 25
#   period [300, 600) crew-a  nothing scheduled
LABOR = [
    labor(300, 0, "crew-a", 2400, 1800, 36, 40, 34),
    labor(300, 0, "crew-b", 1800, 1500, 25, 30.5, 25),
    labor(600, 300, "crew-a", 0, 0, 0, 0, 0),
]


@pytest.fixture(scope="module")
def snaps() -> Snapshots:
    return compute(WORK_ORDERS + INCIDENTS + LINES + LABOR, SIZES, UNRESTRICTED)


CASES = [
    # cycle_time_s = sum(completion - started_at) / sum(units_good), at completion time
    ("cycle_time_s", "5m", 0, {}, 2700 / 160, "(1200 + 600 + 900) / (95 + 45 + 20)"),
    ("cycle_time_s", "5m", 0, {"line": "pack-1"}, 1800 / 140, "(1200 + 600) / (95 + 45)"),
    ("cycle_time_s", "5m", 0, {"line": "kitting"}, 45, "900 / 20"),
    ("cycle_time_s", "5m", 300, {}, 300 / 9, "@400: 300 / 9"),
    ("cycle_time_s", "5m", 300, {"line": "kitting"}, 300 / 9, "@400: 300 / 9"),
    ("cycle_time_s", "1h", 0, {}, 3000 / 169, "(2700 + 300) / (160 + 9)"),
    ("cycle_time_s", "1h", 0, {"line": "kitting"}, 1200 / 29, "(900 + 300) / (20 + 9)"),
    # first_time_yield = sum(units_good_first_pass) / sum(units_started)
    ("first_time_yield", "5m", 0, {}, 150 / 170, "(90 + 40 + 20) / (100 + 50 + 20)"),
    ("first_time_yield", "5m", 0, {"line": "pack-1"}, 130 / 150, "(90 + 40) / (100 + 50)"),
    ("first_time_yield", "5m", 0, {"line": "kitting"}, 1.0, "20 / 20"),
    ("first_time_yield", "5m", 300, {"line": "kitting"}, 0.8, "8 / 10"),
    ("first_time_yield", "1h", 0, {}, 158 / 180, "(150 + 8) / (170 + 10)"),
    # production_yield = sum(units_good) of the work orders completed in the window
    ("production_yield", "5m", 0, {}, 160, "95 + 45 + 20"),
    ("production_yield", "5m", 0, {"line": "pack-1"}, 140, "95 + 45"),
    ("production_yield", "5m", 0, {"line": "kitting"}, 20, ""),
    ("production_yield", "5m", 300, {}, 9, ""),
    ("production_yield", "1h", 0, {"line": "kitting"}, 29, "20 + 9"),
    # non_compliance_events, by category and by severity
    ("non_compliance_events", "5m", 0, {}, 3, "@10, @20, @30"),
    ("non_compliance_events", "5m", 0, {"category": "safety"}, 2, ""),
    ("non_compliance_events", "5m", 0, {"category": "quality"}, 1, ""),
    ("non_compliance_events", "5m", 0, {"severity": "high"}, 2, ""),
    ("non_compliance_events", "5m", 0, {"severity": "low"}, 1, ""),
    ("non_compliance_events", "5m", 300, {"severity": "critical"}, 1, "@350"),
    ("non_compliance_events", "5m", 300, {"category": "quality"}, 1, "@350"),
    ("non_compliance_events", "1h", 0, {}, 4, ""),
    ("non_compliance_events", "1h", 0, {"category": "quality"}, 2, "@30, @350"),
    # OEE parts, counted in the window of period_start (reports sent @300 count in [0, 300))
    ("oee_availability", "5m", 0, {}, 390 / 600, "(240 + 150) / (300 + 300)"),
    ("oee_availability", "5m", 0, {"line": "pack-1"}, 0.8, "240 / 300"),
    ("oee_availability", "5m", 0, {"line": "kitting"}, 0.5, "150 / 300"),
    ("oee_availability", "5m", 300, {"line": "pack-1"}, 0.0, "0 / 300"),
    ("oee_availability", "1h", 0, {}, 390 / 900, "(240 + 150 + 0) / 900"),
    ("oee_performance", "5m", 0, {}, 320 / 390, "(2 x 100 + 5 x 24) / (240 + 150)"),
    ("oee_performance", "5m", 0, {"line": "pack-1"}, 200 / 240, "2 x 100 / 240"),
    ("oee_performance", "5m", 0, {"line": "kitting"}, 0.8, "5 x 24 / 150"),
    ("oee_performance", "5m", 300, {"line": "pack-1"}, None, "0 / 0 run seconds"),
    ("oee_quality", "5m", 0, {}, 113 / 124, "(95 + 18) / (100 + 24)"),
    ("oee_quality", "5m", 0, {"line": "pack-1"}, 0.95, "95 / 100"),
    ("oee_quality", "5m", 0, {"line": "kitting"}, 0.75, "18 / 24"),
    ("oee_quality", "5m", 300, {}, None, "0 / 0 units"),
    # oee = availability x performance x quality = sum(ideal) x sum(good) / (sum(planned) x sum(total))
    ("oee", "5m", 0, {}, pytest.approx(320 * 113 / (600 * 124)), "0.65 x 320/390 x 113/124"),
    ("oee", "5m", 0, {"line": "pack-1"}, pytest.approx(0.95 * 200 / 300), "0.8 x 200/240 x 0.95"),
    ("oee", "5m", 0, {"line": "kitting"}, pytest.approx(0.3), "0.5 x 0.8 x 0.75"),
    ("oee", "5m", 300, {}, None, "the line never ran: performance has no value"),
    ("oee", "5m", 300, {"line": "pack-1"}, None, ""),
    ("oee", "1h", 0, {}, pytest.approx(320 * 113 / (900 * 124)), "390/900 x 320/390 x 113/124"),
    ("oee", "1h", 0, {"line": "pack-1"}, pytest.approx(0.95 * 200 / 600), "240/600 x 200/240 x 95/100"),
    # ole = productive/scheduled x actual/standard x good/actual
    ("ole", "5m", 0, {"crew": "crew-a"}, pytest.approx(0.6375), "0.75 x 0.9 x 34/36"),
    ("ole", "5m", 0, {"crew": "crew-b"}, pytest.approx(1500 / 1800 * 25 / 30.5), "5/6 x 25/30.5 x 25/25"),
    ("ole", "5m", 0, {}, pytest.approx(3300 / 4200 * 59 / 70.5), "3300/4200 x 61/70.5 x 59/61"),
    ("ole", "5m", 300, {"crew": "crew-a"}, None, "nothing scheduled"),
    ("ole", "1h", 0, {"crew": "crew-a"}, pytest.approx(0.6375), "the empty period adds zeros"),
]


@pytest.mark.parametrize("kpi_id,window,start,dims,expected,why", CASES)
def test_supply_chain_kpis(snaps, kpi_id, window, start, dims, expected, why):
    assert snaps(kpi_id, window, start, **dims) == expected, why


def test_ratio_parts_are_reported_with_the_value():
    snaps = compute(WORK_ORDERS + LINES, SIZES, UNRESTRICTED)
    cycle = snaps.get("cycle_time_s", "5m", 0, line="pack-1")
    assert (cycle["numerator"], cycle["denominator"], cycle["unit"]) == (1800, 140, "seconds")
    production = snaps.get("production_yield", "5m", 0)
    assert (production["numerator"], production["denominator"], production["unit"]) == (160, None, "count")
    stopped = snaps.get("oee_performance", "5m", 300, line="pack-1")
    assert (stopped["value"], stopped["numerator"], stopped["denominator"]) == (None, 0, 0)


def test_a_product_of_ratios_has_a_value_but_no_numerator_or_denominator():
    snaps = compute(LINES, SIZES, UNRESTRICTED)
    record = snaps.get("oee", "5m", 0, line="kitting")
    assert record["value"] == pytest.approx(0.3)  # 0.5 x 0.8 x 0.75
    assert (record["numerator"], record["denominator"], record["unit"]) == (None, None, "ratio")


def test_reports_count_in_the_window_of_period_start_and_are_late_when_it_is_final():
    eng = engine(SIZES, UNRESTRICTED)
    on_time = eng.ingest([line_status(300, 0, "pack-1", 300, 240, 2.0, 100, 95)], ACTIVE)
    records = eng.advance(IDLE, T0)
    # Stream time T0+1000: 5m [0, 300) is final (300 + 60 <= 1000), 1h [0, 3600) is not.
    eng.ingest([incident(1000, "safety", "low")], ACTIVE)
    records += eng.advance(IDLE, T0)
    late = eng.ingest([line_status(1000, 0, "kitting", 300, 150, 5.0, 24, 18)], ACTIVE)
    snaps = Snapshots(records + eng.advance(IDLE, T0) + eng.flush(T0))
    assert on_time.late == []
    assert [item.windows for item in late.late] == [["5m"]]
    assert snaps("oee_availability", "5m", 0) == 0.8  # pack-1 only: 240 / 300
    assert snaps("oee_availability", "1h", 0) == 0.65  # both: (240 + 150) / 600
    assert snaps.get("oee_availability", "5m", 900) is None  # not counted at its event time


def test_work_order_started_after_its_completion_is_a_dead_letter():
    eng = engine(SIZES, UNRESTRICTED)
    report = eng.ingest([work_order(100, "pack-1", -5, 10, 10, 10), work_order(200, "pack-1", 50, 4, 3, 4)],
                        ACTIVE)
    assert [r.reason for r in report.rejected] == ["bad_value:started_at"]
    snaps = Snapshots(eng.flush(T0))
    assert snaps("production_yield", "5m", 0) == 4  # the valid work order only
    assert snaps("cycle_time_s", "5m", 0) == 12.5  # 50 / 4


# Sums are integer micros: 2_000_000 is 2.
FACTORS = kpi("test_product", 0, SUPPLY, None, None, RATIO, EVENT, (), "", "", (), scale=100.0,
              factors=(("a", "b"), ("c", "a")))


@pytest.mark.parametrize("sums,expected", [
    ({"a": 2_000_000, "b": 4_000_000, "c": 3_000_000}, 75.0),  # 100 x (2 / 4) x (3 / 2)
    ({"a": 0, "b": 4_000_000, "c": 3_000_000}, None),  # second factor 3 / 0 has no value
    ({"a": 2_000_000, "b": 0, "c": 3_000_000}, None),  # first factor 2 / 0 has no value
    ({"a": 2_000_000, "b": 4_000_000}, 0.0),  # c absent sums to 0: 100 x 0.5 x 0
])
def test_kpi_value_of_a_product_of_ratios(sums, expected):
    assert kpi_value(FACTORS, sums) == (expected, None, None)
    assert FACTORS.measures == ("a", "b", "c")  # each measure once


def test_prometheus_exports_only_the_value_of_a_product_of_ratios():
    from streams.metrics import KpiCollector

    collector = KpiCollector()
    for record in compute(LINES, SIZES, UNRESTRICTED).records:
        collector.observe(record)
    families = {family.name: family for family in collector.collect()}
    assert "shoppulse_oee_ratio" in families
    assert "shoppulse_oee_numerator" not in families and "shoppulse_oee_denominator" not in families
    assert "shoppulse_oee_availability_numerator" in families  # the parts re-aggregate across workers
    kitting = [s for s in families["shoppulse_oee_ratio"].samples
               if s.labels == {"window": "5m", "breakdown": "line", "line": "kitting"}]
    assert [s.value for s in kitting] == [pytest.approx(0.3)]


def test_report_kpis_are_published_for_hour_and_day_windows_only():
    assert REPORT_WINDOWS == ("1h", "1d")
    snaps = compute(LINES + LABOR, SIZES)
    windows = {(r["kpi"], r["window"]) for r in snaps.records}
    for kpi_id in ("oee", "oee_availability", "oee_performance", "oee_quality", "ole"):
        assert (kpi_id, "1h") in windows and (kpi_id, "5m") not in windows
