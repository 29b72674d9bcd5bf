"""Empty input, and state that is drained, persisted and loaded back (checkpoint and restore)."""
from __future__ import annotations

import orjson

from eventkit import (ACTIVE, IDLE, T0, Snapshots, engine, make_add, make_chat_message, make_chat_started,
                      make_order, make_page_view, make_product_view, make_survey, make_ticket_created,
                      make_ticket_event, make_ticket_replied)

SIZES = (60, 300, 3600)


def test_no_events_no_snapshots():
    eng = engine()
    report = eng.ingest([], ACTIVE)
    assert (report.accepted, report.late, report.rejected, sum(report.duplicates.values())) == (0, [], [], 0)
    assert eng.advance(ACTIVE) == []
    assert eng.advance(IDLE, T0) == []
    assert eng.interim(T0) == []
    assert eng.flush(T0) == []


def test_events_without_a_kpi_are_accepted_and_produce_nothing():
    eng = engine()
    report = eng.ingest([make_ticket_event("ticket_reopened", 10, "t-1")], ACTIVE)
    assert report.accepted == 1
    assert eng.advance(IDLE, T0) == [] and eng.flush(T0) == []


def test_a_fresh_engine_has_nothing_to_persist():
    eng = engine()
    eng.advance(IDLE, T0)
    assert {s.name: list(s.drain_changes()) for s in eng.stores} == {s.name: [] for s in eng.stores}


def test_drain_reports_each_changed_key_once_and_deletions_as_none():
    eng = engine()
    eng.ingest([make_page_view(10, "A", "a")], ACTIVE)
    sessions = next(s for s in eng.stores if s.name == "sessions")
    assert [key for key, _ in sessions.drain_changes()] == ["A"]
    assert list(sessions.drain_changes()) == []  # drained
    eng.flush(T0)  # closes A
    assert list(sessions.drain_changes()) == [("A", None)]


# Phase 1 (before the checkpoint) and phase 2 (after), as batches: sessions, orders, chats and
# tickets that cross the checkpoint, an order waiting for its session, repeats of phase-1 events,
# a returning visitor and customer, a late session.
PV_S1 = make_page_view(10, "S1", "a1", campaign={"medium": "cpc", "source": "google"})
PHASE_1 = [
    [PV_S1, make_product_view(40, "S1", "a1"), make_page_view(20, "S2", "a2", device="mobile", country="DE")],
    [make_add(50, "S2", "a2", device="mobile", country="DE"),
     make_chat_started(30, "ch-1", intent="pre_sales", session="S2"),
     make_order(70, "o-1", "c-1", 80.0, costs=((10.0, 2),), session="S1")],
    [make_ticket_created(5, "t-1", "email"), make_survey(90, "nps", 10), make_page_view(150, "S3", "a3"),
     make_order(120, "o-5", "c-5", 7.0, session="S6")],  # S6's clicks come after the checkpoint
]
S5_LATE = make_page_view(30, "S5", "a5")
PHASE_2 = [
    [PV_S1,  # repeated (source, id): must be known after the restore
     make_order(75, "o-1", "c-1", 80.0),  # repeated order id
     make_page_view(160, "S2", "a2", device="mobile", country="DE")],  # S2 continues
    [make_page_view(110, "S6", "a6"), make_order(170, "o-2", "c-2", 30.0, currency="EUR", session="S2"),
     make_chat_message(180, "ch-1", "agent")],
    [make_ticket_replied(200, "t-1"), make_ticket_event("ticket_resolved", 400, "t-1"),
     make_order(500, "o-3", "c-1", 20.0)],  # c-1 returns
    [make_page_view(2500, "S4", "a1")],  # a1 returns; S1, S2, S3, S6 close (last + 1860 < 2500)
    [S5_LATE,  # its minute and five minutes are final; the hour is held open by S4
     make_order(3000, "o-4", "c-4", 5.0)],
]


def _feed(eng, batches):
    """Ingest batch by batch, advancing after each; reports and snapshots."""
    reports, snapshots = [], []
    for batch in batches:
        report = eng.ingest(batch, ACTIVE)
        reports.append((report.accepted, dict(report.duplicates), [(x.event.id, x.windows) for x in report.late],
                        [r.reason for r in report.rejected]))
        snapshots += eng.advance(IDLE, T0)
    return reports, snapshots


def _checkpoint(eng, persisted: dict[str, dict]) -> None:
    """What a shell does after a batch: write every changed key (JSON), delete removed ones."""
    for store in eng.stores:
        table = persisted.setdefault(store.name, {})
        for key, value in store.drain_changes():
            if value is None:
                table.pop(key, None)
            else:
                table[key] = orjson.loads(orjson.dumps(value))


def _sorted(snapshots: list[dict]) -> list[bytes]:
    return sorted(orjson.dumps(s, option=orjson.OPT_SORT_KEYS) for s in snapshots)


def test_restored_engine_continues_exactly_like_an_uninterrupted_one():
    fx = {"USD": 1.0, "EUR": 2.0}
    whole = engine(SIZES, fx_rates=fx)
    _, whole_1 = _feed(whole, PHASE_1)
    whole_reports, whole_2 = _feed(whole, PHASE_2)
    whole_2 += whole.flush(T0)

    first = engine(SIZES, fx_rates=fx)
    persisted: dict[str, dict] = {}
    _, first_1 = _feed(first, PHASE_1)
    _checkpoint(first, persisted)
    restored = engine(SIZES, fx_rates=fx)
    for name, table in persisted.items():
        restored.load(name, table.items())
    restored.after_load(ACTIVE)
    restored_reports, restored_2 = _feed(restored, PHASE_2)
    restored_2 += restored.flush(T0)

    assert _sorted(first_1) == _sorted(whole_1)
    assert restored_reports == whole_reports
    assert _sorted(restored_2) == _sorted(whole_2)

    # The stream itself, checked by hand on a few values (both engines agree, see above).
    snaps = Snapshots(whole_1 + whole_2)
    assert whole_reports[0][1] == {"shop.clickstream": 1}  # PV_S1 again
    assert whole.counters["duplicate_orders"] == 1  # o-1 again
    assert whole_reports[4][2] == [(S5_LATE.id, ["1m", "5m"])]
    assert snaps("sessions", "1h", 0) == 6  # S1, S2, S3, S4, S5, S6
    assert snaps("sessions", "5m", 0) == 4  # S1, S2, S3, S6; S5 was late
    assert snaps("conversion_rate", "5m", 0) == 0.75  # S1 (o-1), S2 (o-2), S6 (o-5) / 4
    assert snaps("revenue_per_visit", "5m", 0) == 36.75  # (80 + 30 x 2 + 7) / 4 = 147 / 4
    assert snaps("new_visitor_share", "1h", 0) == 5 / 6  # S4 is a1's second session
    assert snaps("cart_abandonment_rate", "1h", 0) == 0.0  # S2 added to cart and converted
    assert snaps("hit_rate", "1m", 0) == 1.0  # ch-1 -> S2 converted
    assert snaps("chat_first_response_time_s", "1m", 180) == 150  # 180 - 30
    assert snaps("first_response_time_s", "1m", 180) == 195  # 200 - 5
    assert snaps("avg_resolution_time_s", "1m", 360) == 395  # 400 - 5
    assert snaps("new_customer_orders", "1h", 0) == 4  # o-1 (c-1), o-2, o-4, o-5; o-3 is c-1 again
    assert snaps("revenue", "1h", 0) == 172  # 80 + 60 + 20 + 5 + 7
    assert snaps("gross_margin", "1m", 60) == 0.75  # o-1: (80 - 10 x 2) / 80
