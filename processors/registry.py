"""The KPI registry: every KPI as data, from which outputs, docs and tests are derived.

KPI definitions live in the catalogue modules (`processors/catalogue_*.py`), one per
family; this module assembles them into one registry and derives the measure plans.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import catalogue_core
from . import catalogue_supply
from . import catalogue_marketing_sessions
from . import catalogue_marketing_feeds
from . import catalogue_sales
from .kpi import (COUNT, CURRENCY, EVENT, MEASURE_TRAITS, RATIO, SCOPES, SCORE, SECONDS, SESSION, Kpi,
                  declare_traits)

CATALOGUE_MODULES = (catalogue_core, catalogue_supply, catalogue_marketing_sessions, catalogue_marketing_feeds, catalogue_sales)

KPIS: tuple[Kpi, ...] = tuple(k for module in CATALOGUE_MODULES for k in module.KPIS)

KPIS_BY_ID: dict[str, Kpi] = {kpi.id: kpi for kpi in KPIS}


def measures_with(trait: str) -> frozenset[str]:
    return frozenset(m for m, traits in MEASURE_TRAITS.items() if trait in traits)


DISTINCT_MEASURES = measures_with("distinct")
MONEY_MEASURES = measures_with("money")
CUMULATIVE_MEASURES = measures_with("cumulative")
RANKING_MEASURES = measures_with("ranking")


@dataclass(frozen=True)
class MeasurePlan:
    """Which breakdowns a measure is kept by, derived from the KPIs that read it."""

    scope: str
    dims: tuple[str, ...] = field(default_factory=tuple)


def measure_plans(kpis: tuple[Kpi, ...] = KPIS) -> dict[str, MeasurePlan]:
    """Per measure: its scope and the union of the dims of the KPIs that use it."""
    plans: dict[str, MeasurePlan] = {}
    for kpi in kpis:
        for measure in kpi.measures:
            old = plans.get(measure)
            if old and old.scope != kpi.scope:
                raise ValueError(f"measure {measure} used with scopes {old.scope} and {kpi.scope}")
            dims = tuple(dict.fromkeys((old.dims if old else ()) + kpi.dims))
            plans[measure] = MeasurePlan(kpi.scope, dims)
    return plans


MEASURE_PLANS = measure_plans()
