"""Windows and lateness: grace, late events and their report, finality exactly once, null ratios."""
from __future__ import annotations

from eventkit import ACTIVE, IDLE, T0, Snapshots, engine, iso, make_order, make_page_view


def _run(eng, batches):
    """Ingest each batch and advance with idle partitions; the reports and all snapshots."""
    reports, snapshots = [], []
    for batch in batches:
        reports.append(eng.ingest(batch, ACTIVE))
        snapshots += eng.advance(IDLE, T0)
    return reports, snapshots


# Windows 1m and 5m, grace 60 s. Revenue is a power of two per order to trace which ones count.
A = make_order(100, "o-a", "c-a", 1.0)  # watermark -> T0+100
B = make_order(30, "o-b", "c-b", 2.0)  # 70 s behind, but [0, 60) is final only at 60 + 60 = 120
C = make_order(200, "o-c", "c-c", 4.0)  # watermark -> T0+200: 1m windows [0, 60) and [60, 120) final
D = make_order(45, "o-d", "c-d", 8.0)  # [0, 60) final: late for 1m, still in 5m [0, 300)
F = make_order(400, "o-f", "c-f", 32.0)  # watermark -> T0+400: 5m [0, 300) final (300 + 60 <= 400)
E = make_order(10, "o-e", "c-e", 16.0)  # late for 1m and 5m: counted nowhere


def test_out_of_order_within_grace_late_after_final_and_finality_once():
    eng = engine()
    reports, snapshots = _run(eng, [[A], [B], [C], [D], [F], [E]])
    snapshots += eng.advance(IDLE, T0) + eng.flush(T0) + eng.advance(IDLE, T0)
    snaps = Snapshots(snapshots)  # raises if any (kpi, window, start, dims) is emitted twice

    assert [r.late for r in reports[:3]] == [[], [], []]  # B is out of order but within grace
    assert [(late.event.id, late.windows) for late in reports[3].late] == [(D.id, ["1m"])]
    assert reports[4].late == []
    assert [(late.event.id, late.windows) for late in reports[5].late] == [(E.id, ["1m", "5m"])]
    assert eng.counters["late_contributions"] == 2  # D and E

    assert snaps("revenue", "1m", 0) == 2  # B only: D arrived after [0, 60) was final, E too
    assert snaps("revenue", "1m", 60) == 1  # A
    assert snaps("revenue", "1m", 180) == 4  # C
    assert snaps("revenue", "5m", 0) == 15  # A + B + C + D = 1 + 2 + 4 + 8; not E
    assert snaps("orders", "5m", 0) == 4
    assert snaps("revenue", "5m", 300) == 32  # F
    assert snaps.get("revenue", "1m", 0)["final"] is True


def test_windows_become_final_when_stream_time_reaches_end_plus_grace():
    eng = engine()
    eng.ingest([make_order(10, "o-1", "c-1", 1.0)], ACTIVE)
    assert eng.advance(IDLE, T0) == []
    eng.ingest([make_order(119, "o-2", "c-2", 1.0)], ACTIVE)  # 119 < 60 + 60
    assert eng.advance(IDLE, T0) == []
    eng.ingest([make_order(120, "o-3", "c-3", 1.0)], ACTIVE)  # 120 = 60 + 60: [0, 60) is final
    out = eng.advance(IDLE, T0)
    assert {(r["window"], r["window_start"]) for r in out} == {("1m", iso(0))}
    assert all(r["final"] for r in out)


def test_grace_is_configurable_per_window_size():
    eng = engine(grace_by_size_s={60: 5.0})
    eng.ingest([make_order(10, "o-1", "c-1", 1.0), make_order(65, "o-2", "c-2", 1.0)], ACTIVE)
    out = eng.advance(IDLE, T0)  # watermark 65 >= 60 + 5
    assert {(r["window"], r["window_start"]) for r in out} == {("1m", iso(0))}
    report = eng.ingest([make_order(59, "o-3", "c-3", 1.0)], ACTIVE)
    assert [late.windows for late in report.late] == [["1m"]]


def test_active_partition_that_is_behind_holds_the_watermark():
    eng = engine()
    eng.ingest([make_order(10, "o-1", "c-1", 1.0, partition=0),
                make_order(500, "o-2", "c-2", 1.0, partition=1)], ACTIVE)
    assert eng.advance(ACTIVE) == []  # both partitions active: watermark = min(10, 500)
    assert eng.watermark == T0 + 10
    assert eng.advance(IDLE, T0) != []  # both idle: watermark = 500
    assert eng.watermark == T0 + 500


def test_watermark_never_moves_back():
    eng = engine()
    eng.ingest([make_order(500, "o-1", "c-1", 1.0)], ACTIVE)
    eng.advance(IDLE, T0)
    eng.ingest([make_order(450, "o-2", "c-2", 1.0, partition=3)], ACTIVE)
    eng.advance(ACTIVE)
    assert eng.watermark == T0 + 500


# ------------------------------------------------------------------ sessions
def test_session_in_a_final_window_is_late_and_counted_only_in_the_open_larger_window():
    # Windows 1m and 1h. Session A @0 closes once stream time passes 0 + 1800 + 60 (session B @2000).
    eng = engine((60, 3600))
    reports, snapshots = _run(eng, [
        [make_page_view(0, "A", "a")],
        [make_page_view(2000, "B", "b")],
        # Session C @100: minute [60, 120) is final (no open session before it, 2000 - 60 >= 120),
        # the hour [0, 3600) is not.
        [make_page_view(100, "C", "c")],
    ])
    assert [(late.event.data["session_id"], late.windows) for late in reports[2].late] == [("C", ["1m"])]
    snaps = Snapshots(snapshots + eng.flush(T0))
    assert snaps("sessions", "1h", 0) == 3  # A, B, C
    assert snaps.get("sessions", "1m", 60) is None  # C missed its minute
    assert snaps("sessions", "1m", 0) == 1  # A


def test_click_for_a_session_whose_windows_are_all_final_is_late_everywhere():
    eng = engine((60, 300))
    reports, snapshots = _run(eng, [
        [make_page_view(0, "A", "a")],
        [make_page_view(4000, "B", "b")],  # A closed (0 + 1860 < 4000); windows before 3900 final
        [make_page_view(10, "C", "c"), make_page_view(20, "A", "a")],
    ])
    assert [(late.event.data["session_id"], late.windows) for late in reports[2].late] == [
        ("C", ["1m", "5m"]), ("A", ["1m", "5m"])]
    snaps = Snapshots(snapshots + eng.flush(T0))
    assert snaps("sessions", "5m", 0) == 1  # A alone, with its single page view
    assert snaps("page_views", "5m", 0) == 1
    assert snaps("bounce_rate", "5m", 0) == 1.0


def test_open_session_holds_its_start_window_open():
    eng = engine((60, 300))
    eng.ingest([make_page_view(0, "A", "a"), make_page_view(1000, "A", "a")], ACTIVE)
    out = eng.advance(IDLE, T0)  # watermark 1000, but A (started @0) is still open
    assert [r for r in out if r["kpi"] == "sessions"] == []
    report = eng.ingest([make_page_view(500, "A", "a")], ACTIVE)  # inside A: not late
    assert report.late == []
    snaps = Snapshots(out + eng.flush(T0))
    assert snaps("sessions", "1m", 0) == 1
    assert snaps("pages_per_session", "5m", 0) == 3  # 3 page views / 1 session


# ---------------------------------------------------------------- null ratios
def test_ratio_without_denominator_is_null_never_zero_or_nan():
    eng = engine()
    eng.ingest([make_page_view(10, "A", "a"), make_page_view(20, "A", "a")], ACTIVE)
    snaps = Snapshots(eng.flush(T0))
    for window in ("1m", "5m"):
        record = snaps.get("cart_abandonment_rate", window, 0)  # no session added to a cart
        assert record["value"] is None, window
        assert (record["numerator"], record["denominator"]) == (0, 0)
    assert snaps("bounce_rate", "1m", 0) == 0.0  # a real 0: 0 bounced / 1 session


def test_earlier_click_of_an_open_session_in_final_windows_is_late_and_the_session_still_counts():
    eng = engine((60, 300))
    reports, snapshots = _run(eng, [
        [make_page_view(400, "A", "a")],
        [make_page_view(1000, "B", "b")],
        # Watermark 1000; open session A holds windows from its start (400) open:
        #   1m edge = min(floor(1000 - 60), floor(400)) = 360, 5m edge = min(900, 300) = 300,
        # so 250's minute [240, 300) and five minutes [0, 300) are final.
        [make_page_view(250, "A", "a")],
    ])
    assert [(late.event.data["session_id"], late.windows) for late in reports[2].late] == [("A", ["1m", "5m"])]
    snaps = Snapshots(snapshots + eng.flush(T0))
    assert snaps("sessions", "5m", 300) == 1  # A, still starting @400
    assert snaps("sessions", "1m", 360) == 1
    assert snaps("bounce_rate", "5m", 300) == 1.0  # the late page view is not part of A
    assert snaps("sessions", "5m", 900) == 1  # B


def test_earlier_click_of_an_open_session_moves_its_start_when_that_window_is_open():
    # Like above with 1h windows too: 250's hour [0, 3600) is still open, so A starts @250
    # there; A's minute and five minutes are final, so the click is late for them.
    eng = engine((60, 300, 3600))
    reports, snapshots = _run(eng, [
        [make_page_view(400, "A", "a")],
        [make_page_view(1000, "B", "b")],
        [make_page_view(250, "A", "a")],
    ])
    assert [late.windows for late in reports[2].late] == [["1m", "5m"]]
    snaps = Snapshots(snapshots + eng.flush(T0))
    assert snaps("sessions", "1h", 0) == 2  # A (from 250) and B
    assert snaps("avg_session_duration_s", "1h", 0) == 75  # A: 400 - 250 = 150, B: 0 -> 150 / 2
    assert snaps.get("sessions", "5m", 300) is None  # A no longer starts @400


# ------------------------------------------------------------------ interim
def test_interim_snapshots_cover_open_windows_changed_since_the_last_call():
    eng = engine()
    eng.ingest([make_order(10, "o-1", "c-1", 3.0)], ACTIVE)
    first = eng.interim(T0)
    assert {(r["kpi"], r["window"], r["window_start"]) for r in first if r["dims"] == {}} >= {
        ("orders", "1m", iso(0)), ("orders", "5m", iso(0))}
    assert all(r["final"] is False for r in first)
    assert eng.interim(T0) == []  # nothing changed since
    eng.ingest([make_order(200, "o-2", "c-2", 4.0)], ACTIVE)
    final = eng.advance(IDLE, T0)  # watermark 200: [0, 60) final
    assert {(r["window"], r["window_start"]) for r in final} == {("1m", iso(0))}
    second = eng.interim(T0)
    assert {(r["window"], r["window_start"]) for r in second} == {("1m", iso(180)), ("5m", iso(0))}
    revenue = {(r["window"], r["window_start"]): r["value"] for r in second
               if r["kpi"] == "revenue" and r["dims"] == {}}
    assert revenue == {("1m", iso(180)): 4, ("5m", iso(0)): 7}  # o-2; o-1 + o-2 = 3 + 4
