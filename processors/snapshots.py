"""KPI snapshots: the values of every KPI of one window, as output-contract records."""
from __future__ import annotations

from .aggregates import MICROS
from .registry import CURRENCY, DISTINCT_MEASURES, Kpi
from .windows import window_name


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


def _total(sums: dict, measure: str) -> float | int:
    value = sums.get(measure, 0)
    if measure in DISTINCT_MEASURES:
        return len(value) if value else 0
    whole, rest = divmod(value, MICROS)
    return whole if rest == 0 else value / MICROS


def kpi_value(kpi: Kpi, sums: dict) -> tuple[float | int | None, float | int, float | int | None]:
    """(value, numerator, denominator) of one KPI from one breakdown's totals."""
    numerator = _total(sums, kpi.numerator)
    if kpi.denominator is None:
        return numerator, numerator, None
    denominator = _total(sums, kpi.denominator)
    value = kpi.scale * numerator / denominator if denominator else None
    return value, numerator, denominator


def window_snapshots(
    kpis: list[Kpi], totals: dict[str, dict], size_s: int, start: int, *,
    final: bool, emitted_at: float, currency: str,
) -> list[dict]:
    """One record per (KPI, breakdown) that has data in the window."""
    window = window_name(size_s)
    start_text, end_text = format_utc(start), format_utc(start + size_s)
    emitted_text = format_utc(emitted_at)
    records = []
    for kpi in kpis:
        allowed = kpi.dims
        for breakdown, sums in totals.items():
            if breakdown and breakdown.partition("=")[0] not in allowed:
                continue
            if not any(m in sums for m in kpi.measures):
                continue
            value, numerator, denominator = kpi_value(kpi, sums)
            dims = dims_of(breakdown)
            record = {
                "kpi": kpi.id, "window": window, "window_start": start_text, "window_end": end_text,
                "dims": dims, "value": value, "numerator": numerator, "denominator": denominator,
                "unit": kpi.unit, "final": final, "emitted_at": emitted_text,
            }
            if kpi.unit == CURRENCY:
                record["currency"] = currency
            records.append(record)
    return records
