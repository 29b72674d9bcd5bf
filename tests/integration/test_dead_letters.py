"""Every kind of bad input reaches the dead-letter topic with its reason; the rest is still counted."""
from __future__ import annotations

import base64

import orjson

from .harness import Namespace, Worker, producer, read_topic


def _order(n: int, seconds: int, **overrides) -> dict:
    data = {"order_id": f"o{n}", "customer_id": f"u{n}", "currency": "USD", "revenue": 10.0}
    data.update(overrides.pop("data", {}))
    event = {"specversion": "1.0", "id": f"e{n}", "source": "shop", "type": "order_completed",
             "time": f"2019-06-13T10:{seconds // 60:02d}:{seconds % 60:02d}Z", "data": data}
    event.update(overrides)
    return event


def test_each_rejection_reason_is_dead_lettered_and_good_events_count(tmp_path):
    ns = Namespace(tmp_path)
    worker = Worker(ns).start()
    topic = ns.topics["orders"]
    too_large = _order(90, 20, data={"padding": "x" * (70 * 1024)})
    missing_order_id = _order(91, 21)
    del missing_order_id["data"]["order_id"]
    batch_bad_element = _order(95, 25)
    del batch_bad_element["data"]["customer_id"]
    poison = [
        (b"{not json", "not_json"),
        (orjson.dumps(too_large), "too_large"),
        (orjson.dumps(missing_order_id), "missing_field:order_id"),
        (orjson.dumps(_order(92, 22, data={"revenue": "abc"})), "bad_value:revenue"),
        (orjson.dumps(_order(93, 23, type="order_teleported")), "unknown_type"),
        (orjson.dumps([_order(4, 24), batch_bad_element]), "missing_field:customer_id"),
        (None, "no_value"),
        (b"\xff\xfe not utf-8", "not_json"),
    ]
    try:
        with producer() as send:
            for n in (1, 2, 3):  # three good orders at 10:00:0n
                send.send(topic, orjson.dumps(_order(n, n)))
            for n, (value, _) in enumerate(poison):
                send.send(topic, value, key=f"poison-{n}".encode())
            send.send(topic, orjson.dumps(_order(5, 600)))  # 10:10:00 moves stream time past 10:01 + grace
            send.flush()

        dead = read_topic(ns.topics["deadletter"], until=lambda r: len(r) >= len(poison), timeout=90, settle=3)
        records = [orjson.loads(v) for _, v in dead]
        assert sorted(r["reason"] for r in records) == sorted(reason for _, reason in poison)
        for record in records:
            assert record["topic"] == topic and record["offset"] >= 0
        by_reason = {r["reason"]: r for r in records}
        assert by_reason["missing_field:customer_id"]["index"] == 1
        assert orjson.loads(by_reason["missing_field:customer_id"]["value"])["id"] == "e95"
        binary = [r for r in records if r["value_encoding"] == "base64"]
        assert len(binary) == 1 and base64.b64decode(binary[0]["value"]) == b"\xff\xfe not utf-8"

        # Orders o1-o3 and the good element o4 of the batch: 4 orders in the 10:00 5m window.
        def counted(records) -> bool:
            return any(b'"kpi":"orders"' in v and b'"window":"5m"' in v and b'"final":true' in v
                       and b'"dims":{}' in v for _, v in records)

        snaps = [orjson.loads(v) for _, v in read_topic(ns.topics["snapshots"], until=counted, timeout=90)]
        orders = [s for s in snaps if s["kpi"] == "orders" and s["window"] == "5m" and s["final"]
                  and not s["dims"] and s["window_start"] == "2019-06-13T10:00:00Z"]
        assert [s["value"] for s in orders] == [4]
        metrics = worker.get("/metrics").decode()
        assert f'shoppulse_events_rejected_total{{reason="not_json",topic="{topic}"}} 2.0' in metrics
        assert worker.proc.poll() is None
        assert orjson.loads(worker.get("/ready"))["ready"] is True
    finally:
        worker.stop()
