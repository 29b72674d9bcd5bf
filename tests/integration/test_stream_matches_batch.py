"""A running worker fed through the real Kafka gives exactly the batch computation's final snapshots."""
from __future__ import annotations

import orjson
import pytest

import subprocess

from .harness import SHOPPULSE, Namespace, Worker, comparable, compute, final_snapshots, producer, read_topic, run_cli

SMALL_T0 = "2019-06-13T10:"


def _key(s: dict) -> str:
    dims = ",".join(f"{k}={v}" for k, v in sorted(s["dims"].items()))
    return f"{s['kpi']}|{s['window']}|{s['window_start']}|{dims}"


def _wait_for(ns: Namespace, expected: list[dict], timeout: float = 240) -> dict[str, list[dict]]:
    keys = {_key(s) for s in expected}
    seen: set[str] = set()
    parsed = [0]

    def complete(records) -> bool:
        for key, value in records[parsed[0]:]:
            if b'"final":true' in value:
                seen.add(key.decode())
        parsed[0] = len(records)
        return keys <= seen

    records = read_topic(ns.topics["snapshots"], until=complete, timeout=timeout, settle=4)
    return final_snapshots(records)


def _assert_same(stream: dict[str, list[dict]], batch: list[dict]) -> None:
    expected = {_key(s): s for s in batch}
    missing = sorted(set(expected) - set(stream))
    extra = sorted(set(stream) - set(expected))
    assert not missing, f"{len(missing)} final snapshots missing from the stream, e.g. {missing[:5]}"
    assert not extra, f"{len(extra)} final snapshots not in the batch result, e.g. {extra[:5]}"
    repeated = [k for k, snaps in stream.items() if len(snaps) != 1]
    assert not repeated, f"final snapshots emitted more than once: {repeated[:5]}"
    different = [(k, comparable(stream[k][0]), comparable(expected[k]))
                 for k in expected if comparable(stream[k][0]) != comparable(expected[k])]
    assert not different, f"{len(different)} snapshots differ, e.g. {different[:3]}"


def test_replayed_file_of_20000_events_matches_compute(tmp_path):
    ns = Namespace(tmp_path)
    raw = tmp_path / "simulated.jsonl"
    run_cli(["simulate", "--seed", "11", "--start", "2019-06-13T10:00:00Z", "--duration", "70m",
             "--rate", "1.5", "--out", str(raw)], ns.env())
    events = ns.retopic(raw, tmp_path / "events.jsonl")
    lines = events.read_bytes().count(b"\n")
    assert lines >= 20_000
    topics = {orjson.loads(line)["topic"] for line in events.read_bytes().splitlines()}
    assert topics == {ns.topics[t] for t in ("clickstream", "orders", "chat", "support")}

    batch = compute(events, ns.env())
    assert len(batch) > 1000
    assert {s["kpi"] for s in batch} >= {"sessions", "orders", "conversion_rate", "first_response_time_s"}

    worker = Worker(ns).start()
    try:
        run_cli(["replay", str(events)], ns.env())
        stream = _wait_for(ns, batch)
        _assert_same(stream, batch)
        metrics = worker.get("/metrics").decode()
        consumed = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                       if line.startswith("shoppulse_events_consumed_total"))
        assert consumed == lines
        assert 'shoppulse_sessions{breakdown="overall"' in metrics
        kpis = orjson.loads(worker.get("/kpis?kpi=sessions&window=5m&final=true"))
        assert kpis["count"] >= 1 and all(s["kpi"] == "sessions" for s in kpis["snapshots"])
    finally:
        worker.stop()

    # The operator's check agrees, from the input topics and from the file ...
    assert b"verify: OK" in run_cli(["verify"], ns.env()).stderr
    assert b"verify: OK" in run_cli(["verify", "--file", str(events)], ns.env()).stderr
    # ... and catches a final snapshot whose value is wrong.
    wrong = dict(next(s for s in batch if s["kpi"] == "orders" and s["window"] == "1m"))
    wrong["value"] = wrong["numerator"] = wrong["numerator"] + 1
    key = _key(wrong).encode()
    with producer() as send:
        send.send(ns.topics["snapshots"], orjson.dumps(wrong), key=key).get(timeout=30)
    result = subprocess.run([SHOPPULSE, "verify"], env=ns.env(), capture_output=True, timeout=300)
    assert result.returncode == 1
    assert f"differs  {key.decode()}".encode() in result.stdout
    assert f"changed  {key.decode()}".encode() in result.stdout


def _at(seconds: int) -> str:
    minute, second = divmod(seconds, 60)
    hour = 10 + minute // 60
    return f"2019-06-13T{hour:02d}:{minute % 60:02d}:{second:02d}.000Z"


def _click(n: int, kind: str, t: int, session: str, anon: str, device: str, **data) -> dict:
    page = data.pop("page", {"path": "/", "type": "home"})
    body = {"anonymous_id": anon, "session_id": session, "device": device, "country": data.pop("country", "US"),
            "page": page, **data}
    return {"topic": "shop.clickstream", "key": session,
            "event": {"specversion": "1.0", "id": f"c{n}", "source": "web", "type": kind, "time": _at(t),
                      "data": body}}


def _other(topic: str, n: int, kind: str, t: int, key: str, **data) -> dict:
    return {"topic": topic, "key": key,
            "event": {"specversion": "1.0", "id": f"x{n}", "source": "erp", "type": kind, "time": _at(t),
                      "data": data}}


def small_case() -> list[dict]:
    """Three sessions, one order, one ticket and two CSAT answers between 10:00 and 10:06."""
    product = {"product_id": "p1", "sku": "S1", "category": "shoes", "price": 100.0, "currency": "USD"}
    return [
        # Session A: paid search, desktop; views, adds to cart, checks out, orders at 10:01:30.
        _click(1, "page_viewed", 0, "A", "a1", "desktop", campaign={"source": "google", "medium": "cpc"}),
        _click(2, "product_viewed", 20, "A", "a1", "desktop", product=product,
               page={"path": "/p/1", "type": "product"}),
        _click(3, "product_added", 40, "A", "a1", "desktop", cart_id="k1", product={**product, "quantity": 1}),
        _click(4, "checkout_started", 60, "A", "a1", "desktop", cart_id="k1", checkout_id="co1",
               value=100.0, currency="USD"),
        _other("shop.orders", 5, "order_completed", 90, "o1", order_id="o1", customer_id="u1", currency="USD",
               revenue=100.0, session_id="A", anonymous_id="a1", country="US",
               products=[{"product_id": "p1", "price": 100.0, "quantity": 1, "cost": 40.0}]),
        # Session B: direct, mobile, one page: a bounce.
        _click(6, "page_viewed", 10, "B", "a2", "mobile", country="DE"),
        # Session C: from facebook, mobile; adds to cart, never orders: abandoned.
        _click(7, "page_viewed", 30, "C", "a3", "mobile",
               page={"path": "/", "type": "home", "referrer": "https://www.facebook.com/"}),
        _click(8, "product_added", 50, "C", "a3", "mobile", cart_id="k2", product={**product, "quantity": 1}),
        # A ticket answered by an agent after 300 s; two CSAT answers (5 and 2).
        _other("shop.support", 9, "ticket_created", 5, "k1", ticket_id="t1", channel="email"),
        _other("shop.support", 10, "ticket_replied", 305, "k1", ticket_id="t1", author="agent"),
        _other("shop.support", 11, "survey_responded", 100, "t1", survey="csat", score=5, touchpoint="support"),
        _other("shop.support", 12, "survey_responded", 110, "t1", survey="csat", score=2, touchpoint="support"),
        # Two hours later: moves stream time on so the 10:00 windows and sessions close.
        _click(13, "page_viewed", 7200, "D", "a4", "desktop"),
    ]


# Hand-computed values of the 10:00-11:00 window (overall unless dims are given):
#   sessions A, B, C = 3; page views A 2 + B 1 + C 1 = 4; bounces: B = 1 -> 1/3;
#   converted: A -> 1/3; carts A, C, A ordered -> abandoned 1/2; durations 60 + 0 + 20 = 80 -> 80/3 s;
#   revenue 100, COGS 40 x 1 = 40, gross profit 60, margin 0.6, AOV 100/1; revenue per visit 100/3;
#   mobile B, C -> 2/3; first response 305 - 5 = 300 s; CSAT one of two at 4-5 -> 1/2;
#   conversion by channel paid_search: A 1/1, organic_social: C 0/1.
HAND = {
    ("sessions", ""): 3, ("page_views", ""): 4, ("visitors", ""): 3,
    ("bounce_rate", ""): 1 / 3, ("conversion_rate", ""): 1 / 3, ("cart_abandonment_rate", ""): 0.5,
    ("avg_session_duration_s", ""): 80 / 3, ("pages_per_session", ""): 4 / 3,
    ("orders", ""): 1, ("revenue", ""): 100, ("aov", ""): 100.0, ("cogs", ""): 40, ("gross_profit", ""): 60,
    ("gross_margin", ""): 0.6, ("revenue_per_visit", ""): 100 / 3, ("mobile_session_share", ""): 2 / 3,
    ("new_visitor_share", ""): 1.0, ("first_response_time_s", ""): 300.0, ("service_requests", ""): 1,
    ("csat", ""): 0.5, ("conversion_rate", "channel=paid_search"): 1.0,
    ("conversion_rate", "channel=organic_social"): 0.0, ("bounce_rate", "device=mobile"): 0.5,
}


def test_small_hand_checked_case_through_stream_and_batch(tmp_path):
    ns = Namespace(tmp_path)
    raw = tmp_path / "small.raw.jsonl"
    raw.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in small_case()))
    events = ns.retopic(raw, tmp_path / "small.jsonl")
    batch = compute(events, ns.env())
    hour = {(s["kpi"], ",".join(f"{k}={v}" for k, v in s["dims"].items())): s
            for s in batch if s["window"] == "1h" and s["window_start"] == "2019-06-13T10:00:00Z"}
    for (kpi, dims), value in HAND.items():
        assert hour[(kpi, dims)]["value"] == pytest.approx(value, rel=1e-12), (kpi, dims)

    worker = Worker(ns).start()
    try:
        run_cli(["replay", str(events)], ns.env())
        stream = _wait_for(ns, batch, timeout=120)
        _assert_same(stream, batch)
    finally:
        worker.stop()
