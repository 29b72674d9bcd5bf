"""Operations: work orders, line and crew reports, compliance incidents (supply chain KPIs)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from schemas.events import Event
from schemas.timestamps import parse_time

from .registry import EVENT
from .state import TrackedStore

if TYPE_CHECKING:
    from .engine import KpiEngine


class OperationsTracker:
    """Turns each operations event into measure amounts; keeps no state of its own.

    Work orders count at their completion (the event time); periodic reports count in
    the window containing their `period_start`.
    """

    def __init__(self, engine: KpiEngine):
        self.engine = engine

    def stores(self) -> list[TrackedStore]:
        return []

    def handlers(self):
        return {
            "work_order_completed": self.on_work_order_completed,
            "line_status_reported": self.on_line_status_reported,
            "labor_reported": self.on_labor_reported,
            "compliance_incident": self.on_compliance_incident,
        }

    def on_work_order_completed(self, event: Event) -> None:
        data, t = event.data, event.time_s
        duration_s = round(t - parse_time(data["started_at"]), 3)
        if duration_s < 0:
            self.engine.reject(event, "bad_value:started_at", "started_at is after the completion time")
            return
        self.engine.contribute(EVENT, t, {"line": data["line"]}, {
            "work_order_duration_s": duration_s,
            "work_order_units_good": data["units_good"],
            "work_order_units_started": data["units_started"],
            "work_order_units_good_first_pass": data["units_good_first_pass"],
        })

    def on_line_status_reported(self, event: Event) -> None:
        data = event.data
        self.engine.contribute(EVENT, parse_time(data["period_start"]), {"line": data["line"]}, {
            "line_planned_s": data["planned_s"],
            "line_run_s": data["run_s"],
            "line_ideal_output_s": data["ideal_cycle_s"] * data["units_total"],
            "line_units_total": data["units_total"],
            "line_units_good": data["units_good"],
        })

    def on_labor_reported(self, event: Event) -> None:
        data = event.data
        self.engine.contribute(EVENT, parse_time(data["period_start"]), {"crew": data["crew"]}, {
            "crew_scheduled_s": data["scheduled_s"],
            "crew_productive_s": data["productive_s"],
            "crew_units_actual": data["units_actual"],
            "crew_units_standard": data["units_standard"],
            "crew_units_good": data["units_good"],
        })

    def on_compliance_incident(self, event: Event) -> None:
        data = event.data
        dims = {"category": data["category"], "severity": data["severity"]}
        self.engine.contribute(EVENT, event.time_s, dims, {"compliance_incidents": 1})
