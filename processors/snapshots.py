"""KPI snapshots: the values of every KPI of one window, as output-contract records."""
from __future__ import annotations

from typing import Callable

from .aggregates import CURRENCY_SEPARATOR, MICROS, base_measure
from .registry import CURRENCY, DISTINCT_MEASURES, MONEY_MEASURES, Kpi
from .windows import window_name

# rate_of(currency) -> units of the reporting currency per unit, or None when unknown.
RateOf = Callable[[str], float | None]


def format_utc(ts: float) -> str:
    """RFC 3339 UTC with `Z`; whole seconds unless a fraction is present."""
    import datetime as _dt

    dt = _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc)
    if dt.microsecond:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def dims_of(breakdown: str) -> dict[str, str]:
    if not breakdown:
        return {}
    name, _, value = breakdown.partition("=")
    return {name: value}


def snapshot_key(kpi: str, window: str, window_start: str, dims: dict[str, str]) -> str:
    dims_text = ",".join(f"{k}={dims[k]}" for k in sorted(dims))
    return f"{kpi}|{window}|{window_start}|{dims_text}"


def _number(micros: int | float) -> int | float:
    whole, rest = divmod(micros, MICROS)
    return int(whole) if rest == 0 else micros / MICROS


def _total(sums: dict, measure: str, rate_of: RateOf) -> float | int:
    if measure in MONEY_MEASURES:
        prefix = measure + CURRENCY_SEPARATOR
        total = 0
        for key in sorted(k for k in sums if k.startswith(prefix)):
            rate = rate_of(key[len(prefix):])
            if rate is not None:
                total += round(sums[key] * rate)
        return _number(total)
    value = sums.get(measure, 0)
    if measure in DISTINCT_MEASURES:
        return len(value) if value else 0
    return _number(value)


def kpi_value(kpi: Kpi, sums: dict, rate_of: RateOf = lambda c: 1.0
              ) -> tuple[float | int | None, float | int | None, float | int | None]:
    """(value, numerator, denominator) of one KPI from one breakdown's totals."""
    if kpi.factors:
        return _product_of_ratios(kpi, sums, rate_of), None, None
    numerator = _total(sums, kpi.numerator, rate_of)
    if kpi.denominator is None:
        return numerator, numerator, None
    denominator = _total(sums, kpi.denominator, rate_of)
    value = kpi.scale * numerator / denominator if denominator else None
    return value, numerator, denominator


def _product_of_ratios(kpi: Kpi, sums: dict, rate_of: RateOf) -> float | None:
    """scale * prod(numerator / denominator) over the KPI's factors; None when a denominator is 0."""
    value = kpi.scale
    for numerator, denominator in kpi.factors:
        below = _total(sums, denominator, rate_of)
        if not below:
            return None
        value *= _total(sums, numerator, rate_of) / below
    return value


def window_snapshots(
    kpis: list[Kpi], totals: dict[str, dict], size_s: int, start: int, *,
    final: bool, emitted_at: float, currency: str, rate_of: RateOf = lambda c: 1.0,
) -> list[dict]:
    """One record per (KPI, breakdown) that has data in the window."""
    from .rankings import RANKINGS

    window = window_name(size_s)
    start_text, end_text = format_utc(start), format_utc(start + size_s)
    emitted_text = format_utc(emitted_at)
    present = {bk: {base_measure(m) for m in sums} for bk, sums in totals.items()}
    dim_of = {bk: bk.partition("=")[0] for bk in totals}  # "" for the overall value
    records = []
    for kpi in kpis:
        if kpi.windows and window not in kpi.windows:
            continue
        allowed, measures = kpi.dims, kpi.measures
        for breakdown, sums in totals.items():
            if breakdown and dim_of[breakdown] not in allowed:
                continue
            if present[breakdown].isdisjoint(measures):  # no measure of the KPI in this breakdown
                continue
            record = {
                "kpi": kpi.id, "window": window, "window_start": start_text, "window_end": end_text,
                "dims": dims_of(breakdown), "value": None, "numerator": None, "denominator": None,
                "unit": kpi.unit, "final": final, "emitted_at": emitted_text,
            }
            if kpi.ranking:
                record["ranking"] = RANKINGS[kpi.ranking](sums)
            else:
                record["value"], record["numerator"], record["denominator"] = kpi_value(kpi, sums, rate_of)
            if kpi.unit == CURRENCY:
                record["currency"] = currency
            records.append(record)
    return records
