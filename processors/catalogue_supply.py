"""Supply chain KPIs: work orders, line and crew effectiveness, compliance (catalogue 42-47)."""
from __future__ import annotations

from .kpi import COUNT, EVENT, RATIO, REPORT_WINDOWS, SECONDS, SUPPLY, Kpi
from .kpi import kpi as _k

_WORK = ("work_order_completed",)
_LINE = ("line_status_reported",)
_LABOR = ("labor_reported",)

# Work orders count at their completion (event time); line and labor reports count in
# the window containing their `period_start` (see processors/operations.py).
_AVAILABILITY = ("line_run_s", "line_planned_s")
_PERFORMANCE = ("line_ideal_output_s", "line_run_s")  # ideal_cycle_s x units_total per report
_QUALITY = ("line_units_good", "line_units_total")

KPIS: tuple[Kpi, ...] = (
    _k("cycle_time_s", 42, SUPPLY, "work_order_duration_s", "work_order_units_good", SECONDS, EVENT, ("line",),
       "Production time per good unit of the work orders completed in the window.",
       "sum(completion - started_at) / sum(units_good)", _WORK),
    _k("first_time_yield", 43, SUPPLY, "work_order_units_good_first_pass", "work_order_units_started", RATIO,
       EVENT, ("line",), "Share of started units that were good the first time through.",
       "sum(units_good_first_pass) / sum(units_started)", _WORK),
    _k("non_compliance_events", 44, SUPPLY, "compliance_incidents", None, COUNT, EVENT, ("category", "severity"),
       "Compliance incidents recorded.", "count of compliance_incident", ("compliance_incident",)),
    _k("oee_availability", 45, SUPPLY, *_AVAILABILITY, RATIO, EVENT, ("line",),
       "OEE availability: share of planned production time the line ran.", "sum(run_s) / sum(planned_s)", _LINE,
       windows=REPORT_WINDOWS),
    _k("oee_performance", 45, SUPPLY, *_PERFORMANCE, RATIO, EVENT, ("line",),
       "OEE performance: ideal time of the units made per second run.",
       "sum(ideal_cycle_s x units_total) / sum(run_s)", _LINE, windows=REPORT_WINDOWS),
    _k("oee_quality", 45, SUPPLY, *_QUALITY, RATIO, EVENT, ("line",),
       "OEE quality: share of the units made that were good.", "sum(units_good) / sum(units_total)", _LINE,
       windows=REPORT_WINDOWS),
    _k("oee", 45, SUPPLY, None, None, RATIO, EVENT, ("line",),
       "Overall equipment effectiveness: availability x performance x quality.",
       "oee_availability x oee_performance x oee_quality", _LINE,
       factors=(_AVAILABILITY, _PERFORMANCE, _QUALITY), windows=REPORT_WINDOWS),
    _k("ole", 46, SUPPLY, None, None, RATIO, EVENT, ("crew",),
       "Overall labor effectiveness: crew availability x performance x quality.",
       "(sum(productive_s) / sum(scheduled_s)) x (sum(units_actual) / sum(units_standard)) "
       "x (sum(units_good) / sum(units_actual))", _LABOR,
       factors=(("crew_productive_s", "crew_scheduled_s"), ("crew_units_actual", "crew_units_standard"),
                ("crew_units_good", "crew_units_actual")), windows=REPORT_WINDOWS),
    _k("production_yield", 47, SUPPLY, "work_order_units_good", None, COUNT, EVENT, ("line",),
       "Good units of the work orders completed in the window.", "sum(units_good)", _WORK),
)
