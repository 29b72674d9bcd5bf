"""A real worker scraped by a real Prometheus: every dashboard query and recording rule has data.

The worker gets 4 simulated hours across midnight (all topics, feeds included), so windows
of every size (1m to 1d) become final, then a message that is not JSON (a dead letter) and
an event for a window already final (a late event). Prometheus (Debian's binary, own port
and data directory) loads the generated rules and scrapes the worker every second.

A ratio query may be empty only where Prometheus shows its summed denominator is 0 (the
KPI has no value then, as in snapshots); other empty queries must be in MAY_BE_EMPTY.
"""
from __future__ import annotations

import json

import orjson
import pytest
import yaml

from processors.registry import KPIS, KPIS_BY_ID
from streams.deploygen import DASHBOARD
from streams.deploygen.dashboard import panel_queries
from streams.deploygen.promql import RATIO_KPI, kind_of, kpi_records, part_record
from tests.integration.harness import Namespace, Worker, free_port, producer, require_services, run_cli

from .tools import PROMETHEUS_DIR, ROOT, PrometheusServer, run, tool, wait_until

pytestmark = pytest.mark.integration

START, DURATION, SESSIONS_PER_S = "2019-06-13T21:00:00Z", "4h", "0.12"  # about 12,000 events
WINDOWS = ("1m", "5m", "1h", "1d")
RATE_INTERVAL = "1m"  # what Grafana's $__rate_interval stands for here
# What may be empty after the short run, and why (its queries must still be valid).
MAY_BE_EMPTY = {
    "churn_rate": "customers churn 90 days after their last order",
    "window_breakdown_offset:aov_shift:daily_baseline": "compares with values of 1 to 7 days ago in Prometheus",
    "window_breakdown_offset:sessions_drop:daily_baseline": "compares with values of 1 to 7 days ago in Prometheus",
}


def metric_total(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


@pytest.fixture(scope="module")
def fed_worker(tmp_path_factory):
    """A worker that has processed the simulated hours, one dead letter and one late event."""
    require_services()
    tmp = tmp_path_factory.mktemp("e2e")
    ns = Namespace(tmp)
    raw = tmp / "simulated.jsonl"
    run_cli(["simulate", "--seed", "5", "--start", START, "--duration", DURATION, "--rate", SESSIONS_PER_S,
             "--feeds", "--out", str(raw)], ns.env())
    events = ns.retopic(raw, tmp / "events.jsonl")
    lines = events.read_bytes().splitlines()
    worker = Worker(ns).start()
    try:
        run_cli(["replay", str(events)], ns.env())
        # Everything consumed and the day window final (it closes last).
        wait_until(lambda: metric_total(scrape(worker), "shoppulse_events_consumed_total") >= len(lines),
                   240, f"the worker to consume {len(lines)} events")
        wait_until(lambda: 'shoppulse_sessions_numerator{breakdown="overall",channel="",country="",device="",'
                           'window="1d"}' in scrape(worker), 120, "the 1d windows to become final")
        first_click = next(line for line in lines if b'"page_viewed"' in line)
        send_dead_letter_and_late_event(ns, first_click)
        wait_until(lambda: "shoppulse_events_late_total{" in (text := scrape(worker))
                   and "shoppulse_events_rejected_total{" in text, 60, "the late event and the dead letter")
        yield worker
    finally:
        worker.stop()


def scrape(worker: Worker) -> str:
    """/metrics, or "" while the worker is too busy to answer within the harness's timeout."""
    try:
        return worker.get("/metrics").decode()
    except OSError:
        return ""


def send_dead_letter_and_late_event(ns: Namespace, first_click: bytes) -> None:
    wrapper = orjson.loads(first_click)
    late = dict(wrapper["event"], id="late-event-1")  # the first page view's time: long final
    with producer() as kafka:
        kafka.send(ns.topics["orders"], b"this is not json")
        kafka.send(wrapper["topic"], orjson.dumps(late), key=(wrapper.get("key") or "").encode() or None)
        kafka.flush(30)


@pytest.fixture(scope="module")
def prometheus(fed_worker, tmp_path_factory):
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"), free_port(),
                              f"127.0.0.1:{fed_worker.ns.web_port}").start()
    try:
        # Scraped, rules evaluated, and two samples of the counters for rate().
        wait_until(lambda: server.query('up{job="shoppulse"} == 1')["data"]["result"], 60, "the first scrape")
        wait_until(lambda: server.query(f"rate(shoppulse_events_consumed_total[{RATE_INTERVAL}])")["data"]["result"],
                   60, "two scrapes of the counters")
        wait_until(lambda: all_rules_evaluated(server), 60, "every rule to be evaluated once")
        yield server
    finally:
        server.stop()


def all_rules(server: PrometheusServer) -> list[dict]:
    return [rule for group in server.api("rules")["data"]["groups"] for rule in group["rules"]]


def all_rules_evaluated(server: PrometheusServer) -> bool:
    return all(rule["health"] != "unknown" for rule in all_rules(server))


def test_a_real_scrape_passes_promtool_check_metrics(fed_worker):
    result = run([tool("promtool"), "check", "metrics"], stdin=fed_worker.get("/metrics"))
    assert result.returncode == 0, (result.stdout + result.stderr).decode(errors="replace")[-3000:]


def test_prometheus_loaded_every_rule_and_all_are_healthy(prometheus):
    rules = all_rules(prometheus)
    files = [yaml.safe_load((PROMETHEUS_DIR / name).read_text()) for name in ("recording_rules.yml",
                                                                              "alerting_rules.yml")]
    expected = sum(len(group["rules"]) for doc in files for group in doc["groups"])
    assert len(rules) == expected
    unhealthy = [(r["name"], r["health"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    assert not unhealthy, unhealthy


def dashboard_queries() -> list[tuple[str, str, str | None]]:
    """(label, PromQL, KPI id) of every panel query, once per window its KPI is reported for."""
    board = json.loads((ROOT / DASHBOARD).read_text())
    dims = {v["name"] for v in board["templating"]["list"]} - {"datasource", "window", "breakdown"}
    queries = []
    for title, expr in panel_queries(board):
        kpi = KPIS_BY_ID.get(title)
        for window in (kpi.windows or WINDOWS) if kpi else (None,):
            text = expr.replace("$__rate_interval", RATE_INTERVAL).replace("${breakdown}", "overall")
            text = text.replace("${window}", window or "")
            for dim in dims:
                text = text.replace(f"${{{dim}}}", ".*")
            queries.append((f"{title} {window}" if window else title, text, kpi and (kpi.id, window)))
    return queries


def recording_rule_queries() -> list[tuple[str, str, None]]:
    """Every record of both rule files, named by its KPI where it has one."""
    kpi_of = {rule["record"]: kpi.id for kpi in KPIS for rule in kpi_records(kpi)}
    names = [rule["record"] for name in ("recording_rules.yml", "alerting_rules.yml")
             for group in yaml.safe_load((PROMETHEUS_DIR / name).read_text())["groups"]
             for rule in group["rules"] if "record" in rule]
    return [(kpi_of.get(name, name), name, None) for name in names]


def zero_denominator(server: PrometheusServer, kpi_window) -> bool:
    """Whether the KPI's summed denominator is 0 in the window (a ratio without value)."""
    if kpi_window is None or kind_of(KPIS_BY_ID[kpi_window[0]]) != RATIO_KPI:
        return False
    kpi, window = KPIS_BY_ID[kpi_window[0]], kpi_window[1]
    series = part_record(kpi, "denominator") + f'{{window="{window}", breakdown="overall"}}'
    return bool(server.query(f"{series} == 0")["data"]["result"])


def test_every_dashboard_query_and_recording_rule_returns_data(prometheus):
    queries = dashboard_queries() + recording_rule_queries()
    errors, empty, without_value = [], [], []
    for label, expr, kpi_window in queries:
        answer = prometheus.query(expr)
        if answer["status"] != "success":
            errors.append((label, answer.get("error")))
        elif answer["data"]["result"] or label.split(" ")[0] in MAY_BE_EMPTY:
            continue
        elif zero_denominator(prometheus, kpi_window):
            without_value.append(label)
        else:
            empty.append(label)
    assert not errors, errors
    assert not empty, f"{len(empty)} of {len(queries)} queries returned nothing: {empty}"
    assert len(queries) > 300
    # Ratios whose latest final window had nothing to divide by (e.g. email opens in a minute
    # without deliveries); a few, never most.
    assert len(without_value) < 20, without_value


def test_dashboard_variables_have_values(prometheus):
    board = json.loads((ROOT / DASHBOARD).read_text())
    for variable in board["templating"]["list"]:
        if variable["type"] != "query":
            continue
        selector, label = variable["definition"].removeprefix("label_values(").removesuffix(")").rsplit(", ", 1)
        answer = prometheus.api(f"label/{label}/values", **{"match[]": selector})
        assert answer["status"] == "success", (variable["name"], answer)
        values = set(answer["data"]) - {""}
        if variable["name"] == "window":
            assert values == set(WINDOWS)
        else:
            assert values, variable["name"]
