"""Session-derived marketing KPIs: affiliates, blog, hour of day, visitors, PPC, time on page, sources, paths."""
from __future__ import annotations

import pytest

from eventkit import (T0, compute, make_add, make_order, make_page_view, make_product_view)
from processors import sessions
from processors.config import EngineConfig
from processors.sessions import source_label
from streams.settings import Settings

AFF_1042 = {"source": "aff-1042", "medium": "affiliate"}
AFF_2210 = {"source": "AFF-2210", "medium": "affiliates"}  # upper case: sources are compared lower-cased
GOOGLE_ADS = {"source": "google", "medium": "cpc"}
FACEBOOK_ADS = {"source": "facebook", "medium": "cpc"}
HOUR = 3600


def product_view(t: float, session: str, anon: str, product_id: str, **kw):
    """A product_viewed of `product_id` on a product page."""
    event = make_product_view(t, session, anon, page_type="product", **kw)
    event.data["product"]["product_id"] = product_id
    return event


# Times are seconds after T0 (2023-11-14T00:00:00Z); windows 1m, 5m and 1d; tracked source aff-1042.
#   A1 a1 desktop affiliate aff-1042: blog @0, product p2 @30, product p1 @50, added @80; order 40 USD @100
#   A2 a2 mobile  affiliate aff-2210 (not tracked -> "other"): category @200; order 20 EUR @210
#   A3 a7 desktop affiliate aff-1042: home @220
#   P1 a3 desktop paid_search google: home @10, p2 @40, p1 @70, p1 @75, p3 @90; order 10 USD @95
#   P2 a4 mobile  paid_social facebook: blog @120, blog @180
#   D1 a1 desktop direct (a1 returns): home @250
#   O1 a5 mobile  organic_search, referrer www.google.de: blog @5
#   L1 a6 desktop direct: home @5h+100 (18100); order 30 USD @18150
#   order 5 USD @23h (82800) without a session
SCENARIO = [
    make_page_view(0, "A1", "a1", campaign=AFF_1042, page_type="blog"),
    product_view(30, "A1", "a1", "p2", campaign=AFF_1042),
    product_view(50, "A1", "a1", "p1", campaign=AFF_1042),
    make_add(80, "A1", "a1", campaign=AFF_1042),
    make_order(100, "o1", "c1", 40.0, session="A1"),
    make_page_view(200, "A2", "a2", device="mobile", campaign=AFF_2210, page_type="category"),
    make_order(210, "o2", "c2", 20.0, currency="EUR", session="A2"),
    make_page_view(220, "A3", "a7", campaign=AFF_1042, page_type="home"),
    make_page_view(10, "P1", "a3", campaign=GOOGLE_ADS, page_type="home"),
    product_view(40, "P1", "a3", "p2", campaign=GOOGLE_ADS),
    product_view(70, "P1", "a3", "p1", campaign=GOOGLE_ADS),
    product_view(75, "P1", "a3", "p1", campaign=GOOGLE_ADS),
    product_view(90, "P1", "a3", "p3", campaign=GOOGLE_ADS),
    make_order(95, "o3", "c3", 10.0, session="P1"),
    make_page_view(120, "P2", "a4", device="mobile", campaign=FACEBOOK_ADS, page_type="blog"),
    make_page_view(180, "P2", "a4", device="mobile", campaign=FACEBOOK_ADS, page_type="blog"),
    make_page_view(250, "D1", "a1", page_type="home"),
    make_page_view(5, "O1", "a5", device="mobile", referrer="https://www.google.de/", page_type="blog"),
    make_page_view(5 * HOUR + 100, "L1", "a6", page_type="home"),
    make_order(5 * HOUR + 150, "o4", "c6", 30.0, session="L1"),
    make_order(23 * HOUR, "o5", "c9", 5.0),
]
SIZES = (60, 300, 86400)


@pytest.fixture(scope="module", params=["in time order", "in reverse order"])
def snaps(request):
    # The values must not depend on arrival order: time on page and transitions are
    # computed from each session's time-sorted events when it closes.
    events = SCENARIO if request.param == "in time order" else SCENARIO[::-1]
    return compute(events, SIZES, tracked_sources=("aff-1042",))


# (kpi, dims, expected, why) in the 5m window [T0, T0+300): sessions A1 A2 A3 P1 P2 D1 O1
FIVE_MINUTES = [
    # 1 affiliates
    ("affiliate_sessions", {}, 3, "A1, A2, A3"),
    ("affiliate_sessions", {"affiliate": "aff-1042"}, 2, "A1, A3"),
    ("affiliate_sessions", {"affiliate": "other"}, 1, "A2: aff-2210 is not tracked"),
    ("affiliate_revenue", {}, 61.6, "40 USD + 20 EUR x 1.08"),
    ("affiliate_revenue", {"affiliate": "aff-1042"}, 40, "A1's order; A3 has none"),
    ("affiliate_revenue", {"affiliate": "other"}, 21.6, "20 EUR x 1.08"),
    ("affiliate_conversion_rate", {}, pytest.approx(2 / 3), "A1, A2 / 3"),
    ("affiliate_conversion_rate", {"affiliate": "aff-1042"}, 0.5, "A1 / (A1, A3)"),
    ("affiliate_conversion_rate", {"affiliate": "other"}, 1.0, "A2 / A2"),
    # 3 blog
    ("blog_page_views", {}, 4, "A1 @0, O1 @5, P2 @120 and @180"),
    ("blog_page_views", {"channel": "paid_social"}, 2, "P2 @120, @180"),
    ("blog_page_views", {"channel": "affiliate"}, 1, "A1 @0"),
    ("blog_sessions", {}, 3, "A1, P2, O1"),
    ("blog_sessions", {"channel": "paid_social"}, 1, "P2"),
    ("blog_sessions", {"channel": "paid_search"}, 0, "P1 saw no blog page"),
    # 11 new and returning visitors
    ("new_visitor_sessions", {}, 6, "all but D1 (a1 had A1)"),
    ("returning_visitor_sessions", {}, 1, "D1"),
    ("returning_visitor_sessions", {"channel": "direct"}, 1, "D1"),
    ("new_visitor_sessions", {"channel": "direct"}, 0, "D1 is a1's return"),
    ("new_visitor_sessions", {"device": "mobile"}, 3, "A2, P2, O1"),
    ("returning_visitor_sessions", {"device": "desktop"}, 1, "D1"),
    # 14 PPC
    ("ppc_sessions", {}, 2, "P1 paid_search, P2 paid_social"),
    ("ppc_session_share", {}, pytest.approx(2 / 7), "2 / 7 sessions"),
    # 21 time on page: gaps to the next event of the session, by the viewed page's type
    #   A1: blog 0->30 = 30; product 30->50 = 20, 50->80 (added) = 30
    #   P1: home 10->40 = 30; product 40->70 = 30, 70->75 = 5, 75->90 = 15; p3 @90 is last
    #   P2: blog 120->180 = 60; the view @180 is last.  A2, A3, D1, O1: one event, no gap
    ("avg_time_on_page_s", {}, 27.5, "(30 + 20 + 30 + 30 + 30 + 5 + 15 + 60) / 8 = 220 / 8"),
    ("avg_time_on_page_s", {"page_type": "blog"}, 45, "(30 + 60) / 2"),
    ("avg_time_on_page_s", {"page_type": "product"}, 20, "(20 + 30 + 30 + 5 + 15) / 5"),
    ("avg_time_on_page_s", {"page_type": "home"}, 30, "P1 10->40"),
    # 22 traffic sources
    ("sessions_by_source", {}, 7, "every session"),
    ("sessions_by_source", {"source": "google"}, 2, "P1 (campaign google), O1 (referrer www.google.de)"),
    ("sessions_by_source", {"source": "aff-1042"}, 2, "A1, A3 (tracked)"),
    ("sessions_by_source", {"source": "other"}, 1, "A2 (aff-2210 not tracked)"),
    ("sessions_by_source", {"source": "facebook"}, 1, "P2"),
    ("sessions_by_source", {"source": "(direct)"}, 1, "D1"),
    ("sessions_by_source", {"channel": "affiliate"}, 3, "A1, A2, A3"),
]


@pytest.mark.parametrize(("kpi", "dims", "expected", "why"), FIVE_MINUTES)
def test_five_minute_window(snaps, kpi, dims, expected, why):
    assert snaps(kpi, "5m", 0, **dims) == expected, why


def test_sessions_keep_their_breakdowns_without_source_or_hour(snaps):
    assert snaps.get("sessions", "5m", 0, source="google") is None
    assert snaps.get("sessions", "1d", 0, hour="00") is None
    assert snaps("sessions", "5m", 0) == 7


def test_blog_page_views_count_at_event_time_and_blog_sessions_at_session_start(snaps):
    assert snaps("blog_page_views", "1m", 120) == 1  # P2 @120
    assert snaps("blog_page_views", "1m", 180) == 1  # P2 @180, a minute after P2 started
    assert snaps("blog_sessions", "1m", 120) == 1  # P2 started @120
    assert snaps("blog_sessions", "1m", 180) == 0  # A2 @200 and A3 @220 started there, without blog views


def test_time_on_page_is_attributed_to_the_session_start(snaps):
    assert snaps("avg_time_on_page_s", "1m", 120) == 60  # P2: 120 -> 180, both in P2's start minute
    # [0, 60): A1, P1 and O1 started: (30 + 20 + 30 + 30 + 30 + 5 + 15) / 7 = 160 / 7
    assert snaps("avg_time_on_page_s", "1m", 0) == pytest.approx(160 / 7)


def test_product_relationship_ranks_transitions_at_the_time_of_the_second_view(snaps):
    # A1: p2 -> p1 @50; P1: p2 -> p1 @70, p1 -> p1 @75 (same product, no transition), p1 -> p3 @90
    record = snaps.get("product_relationship", "5m", 0)
    assert record["value"] is None
    assert record["ranking"] == [{"a": "p2", "b": "p1", "count": 2}, {"a": "p1", "b": "p3", "count": 1}]
    # P1 started in minute 0, but its transitions @70 and @90 belong to minute 1 (ties by name)
    assert snaps.get("product_relationship", "1m", 0)["ranking"] == [{"a": "p2", "b": "p1", "count": 1}]
    assert snaps.get("product_relationship", "1m", 60)["ranking"] == [
        {"a": "p1", "b": "p3", "count": 1}, {"a": "p2", "b": "p1", "count": 1}]


# ------------------------------------------------------------------- hour of day
def test_hours_in_utc_are_reported_for_the_day_only(snaps):
    assert snaps("sessions_by_hour", "1d", 0) == 8  # 7 sessions @00 h + L1 @05 h
    assert snaps("sessions_by_hour", "1d", 0, hour="00") == 7
    assert snaps("sessions_by_hour", "1d", 0, hour="05") == 1  # L1 @05:01:40
    assert snaps("revenue_by_hour", "1d", 0, hour="00") == 71.6  # 40 + 20 EUR x 1.08 + 10
    assert snaps("revenue_by_hour", "1d", 0, hour="05") == 30  # o4
    assert snaps("revenue_by_hour", "1d", 0, hour="23") == 5  # o5, an order without a session
    assert snaps("revenue_by_hour", "1d", 0) == 106.6  # 71.6 + 30 + 5
    assert snaps.get("sessions_by_hour", "5m", 0) is None
    assert snaps.get("revenue_by_hour", "1m", 60) is None


def test_store_time_zone_shifts_the_hour():
    # Asia/Shanghai is UTC+8 (no daylight saving): 00 h UTC -> 08, 05 h -> 13, 23 h -> 07.
    # The 1d window itself still starts at midnight UTC.
    snaps = compute(SCENARIO, SIZES, store_timezone="Asia/Shanghai")
    assert snaps("sessions_by_hour", "1d", 0, hour="08") == 7
    assert snaps("sessions_by_hour", "1d", 0, hour="13") == 1
    assert snaps.get("sessions_by_hour", "1d", 0, hour="00") is None
    assert snaps("revenue_by_hour", "1d", 0, hour="08") == 71.6
    assert snaps("revenue_by_hour", "1d", 0, hour="13") == 30
    assert snaps("revenue_by_hour", "1d", 0, hour="07") == 5


@pytest.mark.parametrize(("offset_s", "zone", "hour"), [
    (0, "UTC", "00"),
    (0, "Asia/Shanghai", "08"),  # UTC+8
    (0, "America/New_York", "19"),  # 2023-11-13 19:00 EST (UTC-5)
    (0, "Asia/Kolkata", "05"),  # 05:30 IST (UTC+5:30)
    (-86400 * 190, "America/New_York", "20"),  # 2023-05-08 00:00Z = 20:00 EDT (UTC-4)
])
def test_hour_of_day(offset_s, zone, hour):
    assert EngineConfig(store_timezone=zone).hour_of_day(T0 + offset_s) == hour


# ------------------------------------------------------------------------ sources
@pytest.mark.parametrize(("source", "label"), [
    ("(direct)", "(direct)"),
    ("google", "google"),
    ("www.google.de", "google"),
    ("search.yahoo.com", "yahoo"),
    ("m.facebook.com", "facebook"),
    ("x.com", "x"),  # x only as a whole name
    ("box.com", "other"),
    ("t.co", "other"),
    ("aff-1042", "aff-1042"),  # tracked
    ("aff-2210", "other"),
    ("newsletter", "other"),
])
def test_source_label(source, label):
    assert source_label(source, frozenset({"aff-1042"})) == label


def test_settings_pass_time_zone_and_tracked_sources_to_the_engine():
    config = Settings.from_env({"SHOPPULSE_STORE_TIMEZONE": "Asia/Shanghai",
                                "SHOPPULSE_TRACKED_SOURCES": "aff-1042, Newsletter,"}).engine_config()
    assert config.store_timezone == "Asia/Shanghai"
    assert config.tracked_sources == ("aff-1042", "newsletter")
    assert Settings().engine_config().store_timezone == "UTC"


def test_bad_time_zone_and_too_many_tracked_sources_fail_at_start():
    with pytest.raises(Exception):
        EngineConfig(store_timezone="Mars/Olympus_Mons")
    with pytest.raises(ValueError):
        EngineConfig(tracked_sources=tuple(f"s{i}" for i in range(51)))


# ------------------------------------------------------------ bounded session memory
def test_a_session_remembers_only_its_earliest_events(monkeypatch):
    monkeypatch.setattr(sessions, "MAX_SESSION_EVENTS", 3)
    # Page views @0, 10, 30, 60, 100 arriving newest first: the earliest three are kept
    # (0, 10, 30), so the gaps are 10 and 20 and the view @30 has no known next event.
    views = [make_page_view(t, "S", "a", page_type="home") for t in (100, 60, 30, 10, 0)]
    snaps = compute(views, (300,))
    assert snaps("avg_time_on_page_s", "5m", 0) == 15  # (10 + 20) / 2
    assert snaps("pages_per_session", "5m", 0) == 5  # page counts are exact regardless
