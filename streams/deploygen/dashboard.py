"""The Grafana dashboard: a worker row, then a row per KPI group with a panel per KPI of the registry."""
from __future__ import annotations

from processors.kpi import COUNT, CURRENCY, RATIO, SCORE, SECONDS, Kpi
from processors.registry import KPIS

from .promql import OVERALL, PRODUCT_KPI, RANKING_KPI, kind_of, kpi_groups, selector, value_series

UID = "shoppulse-kpis"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
ANY_SHOPPULSE_SERIES = '{__name__=~"shoppulse_.+"}'
UNITS = {RATIO: "percentunit", SECONDS: "s", COUNT: "short", CURRENCY: "short", SCORE: "none"}
WIDTH, HEIGHT, PER_LINE = 8, 8, 3

# (title, unit, PromQL, legend, description): how the workers themselves are doing.
WORKER_PANELS = (
    ("Events consumed per second", "short",
     "sum by (topic) (rate(shoppulse_events_consumed_total[$__rate_interval]))", "{{topic}}",
     "Events accepted from each input topic (throughput)."),
    ("Dead letters per second", "short",
     "sum by (topic, reason) (rate(shoppulse_events_rejected_total[$__rate_interval]))", "{{topic}} {{reason}}",
     "Input messages rejected to the dead-letter topic, by reason."),
    ("Late events per second", "short",
     "sum by (topic) (rate(shoppulse_events_late_total[$__rate_interval]))", "{{topic}}",
     "Events for windows that were already final (written to the late-events topic)."),
    ("Processing lag", "s", "max by (instance) (shoppulse_processing_lag_seconds)", "{{instance}}",
     "Wall time minus the newest event time processed, per worker."),
    ("Consumer lag", "short", "sum by (topic) (shoppulse_consumer_lag_messages)", "{{topic}}",
     "Messages waiting in the input topics."),
    ("Ready workers", "short", "sum(shoppulse_ready)", "ready",
     "Standbys in the consumer group, and the engine lease holder once its state is loaded."),
    ("Engine lease holders", "short", "sum(shoppulse_engine_active)", "holders",
     "Workers holding the engine lease and computing the KPIs: 1 when healthy, 0 while none does "
     "(alert shoppulse_engine_not_running)."),
)


def all_dims(kpis: tuple[Kpi, ...]) -> list[str]:
    return sorted({dim for kpi in kpis for dim in kpi.dims})


def query_variable(name: str, label: str, query: str, current: dict | None = None, **extra) -> dict:
    variable = {"name": name, "label": label, "type": "query", "datasource": DATASOURCE,
                "definition": query, "query": {"query": query, "refId": f"{name}-values"},
                "refresh": 2, "sort": 1, "hide": 0, "includeAll": False, "multi": False}
    if current:
        variable["current"] = current
    return {**variable, **extra}


def variables(kpis: tuple[Kpi, ...]) -> list[dict]:
    """Data source, window, breakdown, and one filter per dim (all values by default)."""
    out = [{"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
            "hide": 0, "current": {}},
           query_variable("window", "Window", f"label_values({ANY_SHOPPULSE_SERIES}, window)",
                          {"text": "1h", "value": "1h"}),
           query_variable("breakdown", "Breakdown", f"label_values({ANY_SHOPPULSE_SERIES}, breakdown)",
                          {"text": OVERALL, "value": OVERALL})]
    for dim in all_dims(kpis):
        series = selector({"breakdown": dim}, {"__name__": "shoppulse_.+"})
        out.append(query_variable(dim, dim.replace("_", " ").capitalize(), f"label_values({series}, {dim})",
                                  {"text": "All", "value": "$__all"}, includeAll=True, multi=True,
                                  allValue=".*"))
    return out


def kpi_query(kpi: Kpi) -> str:
    """The panel's PromQL: the KPI's value series filtered by the dashboard's variables."""
    matchers = {"window": "${window}", "breakdown": "${breakdown}"}
    return value_series(kpi) + selector(matchers, {dim: f"${{{dim}}}" for dim in kpi.dims})


def legend(kpi: Kpi) -> str:
    text = "{{breakdown}}" + "".join(f" {{{{{dim}}}}}" for dim in kpi.dims)
    return text + (" {{instance}}" if kind_of(kpi) == PRODUCT_KPI else "")


def kpi_description(kpi: Kpi) -> str:
    text = f"{kpi.help} Formula: {kpi.formula}. Breakdowns: {', '.join((OVERALL, *kpi.dims))}."
    if kpi.windows:
        text += f" Reported for windows {', '.join(kpi.windows)} only."
    if kind_of(kpi) == PRODUCT_KPI:
        text += " A product of ratios: not re-aggregated across workers (one line per worker)."
    return text


def graph(title: str, unit: str, expr: str, legend_format: str, description: str) -> dict:
    return {"type": "timeseries", "title": title, "description": description, "datasource": DATASOURCE,
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                        "tooltip": {"mode": "multi", "sort": "desc"}},
            "targets": [{"refId": "A", "datasource": DATASOURCE, "expr": expr, "legendFormat": legend_format,
                         "range": True}]}


def kpi_panel(kpi: Kpi) -> dict:
    if kind_of(kpi) == RANKING_KPI:
        return {"type": "text", "title": kpi.id, "description": kpi.help,
                "options": {"mode": "markdown", "content":
                            f"**{kpi.id}** is a ranking: {kpi.help}\n\nIt has no Prometheus series; read it "
                            f"from `GET /kpis?kpi={kpi.id}&window=1h&final=true` on any worker or from the "
                            "snapshots topic."}}
    return graph(kpi.id, UNITS.get(kpi.unit, "short"), kpi_query(kpi), legend(kpi), kpi_description(kpi))


def _layout(panels: list[dict], y: int, next_id: int) -> tuple[int, int]:
    """Place panels PER_LINE to a line from `y`; returns the y below them and the next free id."""
    for index, panel in enumerate(panels):
        panel["id"] = next_id
        next_id += 1
        panel["gridPos"] = {"h": HEIGHT, "w": WIDTH, "x": (index % PER_LINE) * WIDTH,
                            "y": y + (index // PER_LINE) * HEIGHT}
    lines = -(-len(panels) // PER_LINE)
    return y + lines * HEIGHT, next_id


def row(title: str, y: int, panel_id: int, collapsed: bool, panels: list[dict]) -> dict:
    return {"type": "row", "title": title, "id": panel_id, "collapsed": collapsed,
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": panels if collapsed else []}


def dashboard(kpis: tuple[Kpi, ...] = KPIS) -> dict:
    """The worker row open; KPI group rows collapsed (Grafana queries a row when it is opened)."""
    worker = [graph(*spec) for spec in WORKER_PANELS]
    panels = [row("Worker", 0, 1, False, [])]
    y, next_id = _layout(worker, 1, 2)
    panels += worker
    for group in kpi_groups(kpis):
        group_panels = [kpi_panel(kpi) for kpi in kpis if kpi.group == group]
        row_id, row_y = next_id, y
        _, next_id = _layout(group_panels, row_y + 1, next_id + 1)
        panels.append(row(group.replace("_", " ").capitalize(), row_y, row_id, True, group_panels))
        y = row_y + 1
    return {"uid": UID, "title": "ShopPulse KPIs", "tags": ["shoppulse"], "timezone": "utc",
            "editable": True, "graphTooltip": 1, "refresh": "30s", "schemaVersion": 39, "version": 1,
            "time": {"from": "now-6h", "to": "now"},
            "description": "Generated by `python -m streams.deploygen` from the KPI registry; do not edit.",
            "annotations": {"list": []}, "templating": {"list": variables(kpis)}, "panels": panels}


def panel_queries(board: dict) -> list[tuple[str, str]]:
    """(panel title, expr) of every query of the dashboard, rows opened."""
    found = []
    for panel in board["panels"]:
        for inner in [panel, *panel.get("panels", ())]:
            found += [(inner["title"], t["expr"]) for t in inner.get("targets", ())]
    return found
