"""What a KPI definition is: the Kpi record, scopes, units and measure traits."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

# Scopes decide when a window becomes final (see KpiEngine._frontiers):
#   event   - final once stream time passes window end + grace;
#   session - additionally waits until every session (or pending chat) that can still
#             contribute to the window is closed.
EVENT = "event"
SESSION = "session"
SCOPES = (EVENT, SESSION)

# Units of the output contract.
RATIO, SECONDS, COUNT, CURRENCY, SCORE = "ratio", "seconds", "count", "currency", "score"

SESSION_DIMS = ("channel", "device", "country")


@dataclass(frozen=True)
class Kpi:
    """One KPI of the catalogue.

    value = scale * numerator / denominator when `denominator` names a measure
    (no value when it sums to 0), else value = numerator (counts and sums).
    A KPI with `factors` is a product of ratios instead (OEE, OLE): value =
    scale * prod(numerator / denominator of each factor), no value when any
    denominator sums to 0; it has no numerator or denominator of its own, since the
    product is not one ratio of two sums (its parts are reported as KPIs of their own
    where the catalogue names them).
    Measures are sums kept per time bucket and breakdown; `distinct` measures count
    distinct ids instead.
    """

    id: str
    seed: int
    group: str
    numerator: str | None
    denominator: str | None
    unit: str
    scope: str
    dims: tuple[str, ...]
    help: str
    formula: str
    sources: tuple[str, ...]
    scale: float = 1.0
    windows: tuple[str, ...] = ()  # window names the KPI is reported for; () = all
    ranking: str | None = None  # name of a ranking builder in processors/rankings.py
    factors: tuple[tuple[str, str], ...] = ()  # (numerator, denominator) measures multiplied

    @cached_property  # read for every breakdown of every reported window
    def measures(self) -> tuple[str, ...]:
        parts = (self.numerator, self.denominator) + tuple(m for pair in self.factors for m in pair)
        return tuple(dict.fromkeys(m for m in parts if m))


MARKETING, SALES, SUPPLY, SERVICE = "marketing", "sales", "supply_chain", "customer_service"

# Periodic reports (ad, social, line and labour reports) arrive at the end of their
# period, after the 1m and 5m windows of `period_start` are final; KPIs built on them
# are reported for the windows they can fill.
REPORT_WINDOWS = ("1h", "1d")


def kpi(id, seed, group, num, den, unit, scope, dims, help, formula, sources, scale=1.0, windows=(),
       ranking=None, factors=()) -> Kpi:
    """Shorthand for a Kpi in catalogue tables."""
    return Kpi(id, seed, group, num, den, unit, scope, tuple(dims), help, formula, tuple(sources), scale,
               tuple(windows), ranking, tuple(factors))


# Measure traits (a measure without traits is a plain sum):
#   distinct   - counts distinct ids;
#   money      - summed per original currency ("revenue|EUR") and converted to the
#                reporting currency when a window is reported, at the rate in force at
#                the window's end;
#   cumulative - a running gauge: a window reports the sum of every change before its
#                end (rebuilt from changes at event time, so arrival order does not matter);
#   ranking    - {item: count} maps merged by adding counts.
MEASURE_TRAITS: dict[str, frozenset[str]] = {}


def declare_traits(trait: str, *measures: str) -> None:
    for measure in measures:
        MEASURE_TRAITS[measure] = MEASURE_TRAITS.get(measure, frozenset()) | {trait}
