"""PromQL building blocks and the recording rules that re-aggregate KPI series across workers."""
from __future__ import annotations

from processors.kpi import MARKETING, SALES, SERVICE, SUPPLY, Kpi
from processors.registry import KPIS
from streams.metrics import family_name, part_name

OVERALL = "overall"
# Recording rules follow the `level:metric:operations` convention: the level lists the
# labels kept (window, breakdown and the KPI's dims), the metric is the KPI's series.
LEVEL = "window_breakdown"


# How a KPI reaches Prometheus (see streams.metrics.KpiCollector):
RATIO_KPI = "ratio"  # numerator and denominator gauges: re-aggregated as sum / sum
SUM_KPI = "sum"  # counts and sums: the numerator gauge is the value, re-aggregated as a sum
PRODUCT_KPI = "product"  # a product of ratios (OEE): only the value gauge, per worker
RANKING_KPI = "ranking"  # a top list: nothing in Prometheus (served by /kpis and snapshots)


def kind_of(kpi: Kpi) -> str:
    if kpi.ranking:
        return RANKING_KPI
    if kpi.factors:
        return PRODUCT_KPI
    return RATIO_KPI if kpi.denominator else SUM_KPI


def series_labels(kpi: Kpi) -> list[str]:
    """Labels of every series of a KPI (see streams.metrics.kpi_labels)."""
    return ["window", "breakdown", *kpi.dims]


def part_metric(kpi: Kpi, part: str) -> str:
    """The worker's `numerator` or `denominator` gauge of a KPI."""
    return part_name(kpi, part)


def part_record(kpi: Kpi, part: str) -> str:
    return f"{LEVEL}:{part_metric(kpi, part)}:sum"


def value_record(kpi: Kpi) -> str:
    """The KPI value summed over workers: `:ratio` (numerators over denominators) or `:sum`."""
    return f"{LEVEL}:shoppulse_{kpi.id}:{kind_of(kpi)}"


def value_series(kpi: Kpi) -> str:
    """The metric holding a KPI's value in Prometheus: its recording rule, or (products) the gauge."""
    if kind_of(kpi) in (RATIO_KPI, SUM_KPI):
        return value_record(kpi)
    if kind_of(kpi) == PRODUCT_KPI:
        return family_name(kpi)
    raise ValueError(f"{kpi.id} is a ranking KPI: it has no value in Prometheus")


def number(value: float) -> str:
    """A number as PromQL and promtool read it back exactly (`repr` round-trips floats)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def selector(labels: dict[str, str], regex: dict[str, str] | None = None) -> str:
    """`{a="x", b=~"y"}` with label values escaped."""
    parts = [f'{k}="{_escape(v)}"' for k, v in labels.items()]
    parts += [f'{k}=~"{_escape(v)}"' for k, v in (regex or {}).items()]
    return "{" + ", ".join(parts) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def prom_duration(seconds: float) -> str:
    """Seconds as a Prometheus duration: 5400 -> `1h30m`, 0.5 -> `500ms`."""
    millis = round(seconds * 1000)
    if millis <= 0:
        return "0s"
    text = ""
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, millis = divmod(millis, size)
        if count:
            text += f"{count}{unit}"
    return text


def sum_by(kpi: Kpi, expr: str) -> str:
    return f"sum by ({', '.join(series_labels(kpi))}) ({expr})"


def value_expression(kpi: Kpi) -> str:
    """The KPI value from the summed parts; a zero denominator gives no sample, as in snapshots."""
    numerator = part_record(kpi, "numerator")
    if kind_of(kpi) == SUM_KPI:
        return sum_by(kpi, part_metric(kpi, "numerator"))
    scale = "" if kpi.scale == 1 else f"{number(float(kpi.scale))} * "
    return f"{scale}{numerator} / ({part_record(kpi, 'denominator')} > 0)"


def kpi_records(kpi: Kpi) -> list[dict]:
    """Recording rules of one KPI: summed parts first (rules of a group run in order), then the value.

    Products of ratios and rankings cannot be re-aggregated from what workers export: none.
    """
    if kind_of(kpi) == SUM_KPI:
        return [{"record": value_record(kpi), "expr": value_expression(kpi)}]
    if kind_of(kpi) != RATIO_KPI:
        return []
    return [{"record": part_record(kpi, part), "expr": sum_by(kpi, part_metric(kpi, part))}
            for part in ("numerator", "denominator")] + [{"record": value_record(kpi),
                                                          "expr": value_expression(kpi)}]


def kpi_groups(kpis: tuple[Kpi, ...] = KPIS) -> list[str]:
    """KPI groups in the catalogue's order (marketing, sales, supply chain, customer service, others)."""
    known = [MARKETING, SALES, SUPPLY, SERVICE]
    seen = {k.group for k in kpis}
    return [g for g in known if g in seen] + sorted(seen - set(known))


def recording_group(group: str) -> str:
    return f"shoppulse-kpis-{group.replace('_', '-')}"


def recording_rules(kpis: tuple[Kpi, ...] = KPIS) -> dict:
    """One rule group per KPI group (rules of a group run in order: parts before values)."""
    groups = [{"name": recording_group(group),
               "rules": [rule for kpi in kpis if kpi.group == group for rule in kpi_records(kpi)]}
              for group in kpi_groups(kpis)]
    return {"groups": [g for g in groups if g["rules"]]}
