"""Session KPIs: attribution to the session start, bounce, conversion, cart abandonment, visitors."""
from __future__ import annotations

import pytest

from eventkit import (ACTIVE, IDLE, T0, Snapshots, compute, engine, make_add, make_checkout, make_order,
                      make_page_view, make_product_view)

EMAIL = {"source": "newsletter", "medium": "email"}
GOOGLE_ADS = {"source": "google", "medium": "cpc"}
FACEBOOK = "https://www.facebook.com/"

# Times are seconds after T0 (2023-11-14T00:00:00Z); windows 1m and 5m.
#   S0  visitor a4, 600 s before T0 (5m window T0-600), one page view: a4's first session
#   S1  a1 desktop DE direct:        page view @10                                -> bounce
#   S2  a2 desktop US paid_search:   page @20, product @50, added @70             -> abandoned cart
#   S3  a3 mobile  US organic_social: page @65, product @80, added @90, checkout @100, order @110
#                                     (50 USD, names S3)                          -> converted
#   S4  a4 mobile  DE email:         page @130, page @190 (a4 returns)            -> returning visitor
SCENARIO = [
    make_page_view(-600, "S0", "a4", device="mobile", country="DE"),
    make_page_view(10, "S1", "a1", device="desktop", country="DE"),
    make_page_view(20, "S2", "a2", device="desktop", country="US", campaign=GOOGLE_ADS),
    make_product_view(50, "S2", "a2", device="desktop", country="US", campaign=GOOGLE_ADS),
    make_add(70, "S2", "a2", device="desktop", country="US", campaign=GOOGLE_ADS),
    make_page_view(65, "S3", "a3", device="mobile", country="US", referrer=FACEBOOK),
    make_product_view(80, "S3", "a3", device="mobile", country="US"),
    make_add(90, "S3", "a3", device="mobile", country="US"),
    make_checkout(100, "S3", "a3", device="mobile", country="US"),
    make_order(110, "o-3", "c-3", 50.0, session="S3"),
    make_page_view(130, "S4", "a4", device="mobile", country="DE", campaign=EMAIL),
    make_page_view(190, "S4", "a4", device="mobile", country="DE", campaign=EMAIL),
]


@pytest.fixture(scope="module")
def snaps() -> Snapshots:
    return compute(SCENARIO)


# (kpi, window, window start offset, dims, expected value)
FIVE_MINUTES_OVERALL = [
    ("sessions", 4, "S1..S4"),
    ("page_views", 7, "S1 1 + S2 2 + S3 2 + S4 2"),
    ("visitors", 4, "a1, a2, a3, a4"),
    ("bounce_rate", 0.25, "S1 / 4"),
    ("pages_per_session", 1.75, "7 / 4"),
    ("avg_session_duration_s", 36.25, "(0 + 50 + 35 + 60) / 4 = 145 / 4"),
    ("conversion_rate", 0.25, "S3 / 4"),
    ("cart_abandonment_rate", 0.5, "S2 / (S2, S3)"),
    ("revenue_per_visit", 12.5, "50 / 4"),
    ("new_visitor_share", 0.75, "S1, S2, S3 new; S4 returning (a4 had S0) -> 3 / 4"),
    ("mobile_session_share", 0.5, "S3, S4 / 4"),
]


@pytest.mark.parametrize(("kpi", "expected", "why"), FIVE_MINUTES_OVERALL)
def test_five_minute_window_overall(snaps, kpi, expected, why):
    assert snaps(kpi, "5m", 0) == expected, why


BY_DIMS = [
    # channel
    ("sessions", {"channel": "direct"}, 1, "S1"),
    ("bounce_rate", {"channel": "direct"}, 1.0, "S1 bounced / 1"),
    ("cart_abandonment_rate", {"channel": "paid_search"}, 1.0, "S2 / S2"),
    ("avg_session_duration_s", {"channel": "paid_search"}, 50, "70 - 20"),
    ("conversion_rate", {"channel": "organic_social"}, 1.0, "S3 / S3"),
    ("revenue_per_visit", {"channel": "organic_social"}, 50, "50 / 1"),
    ("cart_abandonment_rate", {"channel": "organic_social"}, 0.0, "0 abandoned / 1 cart"),
    ("new_visitor_share", {"channel": "email"}, 0.0, "S4 is a4's second session"),
    ("mobile_session_share", {"channel": "email"}, 1.0, "S4 mobile"),
    ("pages_per_session", {"channel": "email"}, 2, "2 page views / 1"),
    # device
    ("sessions", {"device": "desktop"}, 2, "S1, S2"),
    ("bounce_rate", {"device": "desktop"}, 0.5, "S1 / 2"),
    ("pages_per_session", {"device": "desktop"}, 1.5, "(1 + 2) / 2"),
    ("avg_session_duration_s", {"device": "desktop"}, 25, "(0 + 50) / 2"),
    ("cart_abandonment_rate", {"device": "desktop"}, 1.0, "S2 / S2"),
    ("new_visitor_share", {"device": "desktop"}, 1.0, "2 / 2"),
    ("sessions", {"device": "mobile"}, 2, "S3, S4"),
    ("conversion_rate", {"device": "mobile"}, 0.5, "S3 / 2"),
    ("revenue_per_visit", {"device": "mobile"}, 25, "50 / 2"),
    ("avg_session_duration_s", {"device": "mobile"}, 47.5, "(35 + 60) / 2"),
    ("cart_abandonment_rate", {"device": "mobile"}, 0.0, "0 / S3"),
    ("new_visitor_share", {"device": "mobile"}, 0.5, "S3 new, S4 returning"),
    # country
    ("sessions", {"country": "DE"}, 2, "S1, S4"),
    ("bounce_rate", {"country": "DE"}, 0.5, "S1 / 2"),
    ("conversion_rate", {"country": "DE"}, 0.0, "0 / 2"),
    ("page_views", {"country": "US"}, 4, "S2 2 + S3 2"),
    ("visitors", {"country": "US"}, 2, "a2, a3"),
    ("conversion_rate", {"country": "US"}, 0.5, "S3 / 2"),
]


@pytest.mark.parametrize(("kpi", "dims", "expected", "why"), BY_DIMS)
def test_five_minute_window_by_dims(snaps, kpi, dims, expected, why):
    assert snaps(kpi, "5m", 0, **dims) == expected, why


ONE_MINUTE = [
    # [T0, T0+60): S1 (start 10) and S2 (start 20)
    ("sessions", 0, 2, "S1, S2"),
    ("page_views", 0, 3, "S1 @10, S2 @20, @50"),
    ("pages_per_session", 0, 1.5, "(1 + 2) / 2"),
    ("bounce_rate", 0, 0.5, "S1 / 2"),
    ("conversion_rate", 0, 0.0, "0 / 2"),
    ("cart_abandonment_rate", 0, 1.0, "S2 added @70 but the session started @20: S2 / S2"),
    ("avg_session_duration_s", 0, 25, "(0 + 50) / 2"),
    # [T0+60, T0+120): S3 (start 65)
    ("sessions", 60, 1, "S3"),
    ("page_views", 60, 2, "S3 @65, @80 (S2's product_added @70 is no page view)"),
    ("conversion_rate", 60, 1.0, "S3 / 1"),
    ("revenue_per_visit", 60, 50, "50 / 1"),
    ("mobile_session_share", 60, 1.0, "S3 / 1"),
    # [T0+120, T0+180): S4 (start 130); its page view @190 is counted in the next minute
    ("sessions", 120, 1, "S4"),
    ("page_views", 120, 1, "S4 @130"),
    ("pages_per_session", 120, 2, "S4's 2 page views / 1"),
    ("new_visitor_share", 120, 0.0, "a4 had S0"),
    ("page_views", 180, 1, "S4 @190"),
    # S0 in [T0-600, T0-540)
    ("sessions", -600, 1, "S0"),
    ("new_visitor_share", -600, 1.0, "a4's first session"),
]


@pytest.mark.parametrize(("kpi", "start", "expected", "why"), ONE_MINUTE)
def test_one_minute_windows(snaps, kpi, start, expected, why):
    assert snaps(kpi, "1m", start) == expected, why


def test_previous_five_minute_window_holds_only_the_earlier_session(snaps):
    assert snaps("sessions", "5m", -600) == 1  # S0
    assert snaps("bounce_rate", "5m", -600) == 1.0  # S0 (one page view) / 1
    assert snaps("new_visitor_share", "5m", -600) == 1.0  # a4's first session / 1


def test_snapshot_record_shape(snaps):
    record = snaps.get("bounce_rate", "5m", 0, channel="direct")
    assert record["numerator"] == 1 and record["denominator"] == 1
    assert record["final"] is True
    assert record["window_end"] == "2023-11-14T00:05:00Z"  # T0 + 300
    assert record["unit"] == "ratio"
    rpv = snaps.get("revenue_per_visit", "5m", 0)
    assert (rpv["numerator"], rpv["denominator"], rpv["currency"]) == (50, 4, "USD")


def test_ratio_with_zero_denominator_has_no_value(snaps):
    # S0's minute [T0-600, T0-540) has a session but no cart addition:
    # cart_abandonment_rate = 0 abandoned / 0 cart sessions -> null, never 0 or NaN.
    record = snaps.get("cart_abandonment_rate", "1m", -600)
    assert record is not None
    assert (record["value"], record["numerator"], record["denominator"]) == (None, 0, 0)
    # ... and the same for the breakdowns of that window
    assert snaps.get("cart_abandonment_rate", "1m", -600, device="mobile")["value"] is None


# ------------------------------------------------------------- session boundaries
def test_thirty_minutes_of_inactivity_split_a_session_id_into_two():
    # Same session id X: events @0 and @1000, then @2900 (1900 s > 1800 s after @1000).
    snaps = compute([
        make_page_view(0, "X", "a"),
        make_page_view(1000, "X", "a"),
        make_page_view(2900, "X", "a"),
    ], sizes=(60, 3600))
    assert snaps("sessions", "1h", 0) == 2
    assert snaps("avg_session_duration_s", "1h", 0) == 500  # (1000 + 0) / 2
    assert snaps("bounce_rate", "1h", 0) == 0.5  # only the second (one page view) bounces
    assert snaps("pages_per_session", "1h", 0) == 1.5  # (2 + 1) / 2
    assert snaps("new_visitor_share", "1h", 0) == 0.5  # the second is a's return
    assert snaps("visitors", "1h", 0) == 1
    assert snaps("sessions", "1m", 0) == 1
    assert snaps("sessions", "1m", 2880) == 1  # 2900 falls in [2880, 2940)


def test_exactly_thirty_minutes_apart_is_still_one_session():
    snaps = compute([make_page_view(0, "X", "a"), make_page_view(1800, "X", "a")], sizes=(3600,))
    assert snaps("sessions", "1h", 0) == 1
    assert snaps("avg_session_duration_s", "1h", 0) == 1800


def test_a_session_ends_at_its_maximum_length():
    # session_max_s = 100: events every 50 s; the one @100 starts a new session.
    snaps = compute([make_page_view(t, "X", "a") for t in (0, 50, 100, 150)],
                    sizes=(3600,), session_max_s=100.0)
    assert snaps("sessions", "1h", 0) == 2
    assert snaps("avg_session_duration_s", "1h", 0) == 50  # (50 + 50) / 2


def test_session_attributes_come_from_the_earliest_event_even_when_it_arrives_second():
    eng = engine()
    # Arrives first: @70, desktop, FR, bing referrer (would be organic_search, minute 60).
    eng.ingest([make_page_view(70, "Y", "a", device="desktop", country="FR",
                               referrer="https://www.bing.com/")], ACTIVE)
    first = eng.advance(IDLE, T0)  # watermark T0+70: nothing final yet
    # Arrives second, 20 s earlier (within the 60 s grace): @50, mobile, DE, email.
    report = eng.ingest([make_page_view(50, "Y", "a", device="mobile", country="DE", campaign=EMAIL)], ACTIVE)
    assert report.late == []
    snaps = Snapshots(first + eng.advance(IDLE, T0) + eng.flush(0))
    assert snaps("sessions", "1m", 0, channel="email") == 1
    assert snaps("sessions", "1m", 0, device="mobile") == 1
    assert snaps("sessions", "1m", 0, country="DE") == 1
    assert snaps.get("sessions", "1m", 0, channel="organic_search") is None
    assert snaps.get("sessions", "1m", 60) is None  # the session starts @50, not @70
    assert snaps("avg_session_duration_s", "1m", 0) == 20  # 70 - 50
    assert snaps("page_views", "1m", 0) == 1  # @50
    assert snaps("page_views", "1m", 60) == 1  # @70


def test_order_arriving_before_its_sessions_clicks_still_converts_the_session():
    eng = engine()
    # The orders topic is ahead of the clickstream: the order @30 names session Z.
    eng.ingest([make_order(30, "o-z", "c-z", 40.0, session="Z")], ACTIVE)
    out = eng.advance(ACTIVE)
    eng.ingest([make_page_view(10, "Z", "z", device="mobile")], ACTIVE)
    snaps = Snapshots(out + eng.advance(IDLE, T0) + eng.flush(0))
    assert snaps("conversion_rate", "1m", 0) == 1.0  # 1 converted / 1 session
    assert snaps("revenue_per_visit", "1m", 0) == 40  # 40 / 1
    assert snaps("bounce_rate", "1m", 0) == 0.0  # one page view, but an order: no bounce
    assert snaps("orders", "1m", 0) == 1


def test_order_without_session_id_does_not_convert_a_session():
    snaps = compute([make_page_view(10, "Z", "z"), make_add(20, "Z", "z"), make_order(30, "o-1", "c-1", 40.0)])
    assert snaps("conversion_rate", "5m", 0) == 0.0  # 0 / 1
    assert snaps("cart_abandonment_rate", "5m", 0) == 1.0  # 1 / 1
    assert snaps("revenue_per_visit", "5m", 0) == 0  # 0 / 1


def test_missing_country_is_reported_as_unknown():
    snaps = compute([make_page_view(10, "A", "a", country=None)])
    assert snaps("sessions", "1m", 0, country="unknown") == 1
    assert snaps("sessions", "1m", 0, channel="direct") == 1


def test_visitors_counts_distinct_anonymous_ids():
    # a has two sessions (A1, A2, different ids) in the same minute, b one.
    snaps = compute([make_page_view(10, "A1", "a"), make_page_view(20, "A2", "a"), make_page_view(30, "B", "b")])
    assert snaps("sessions", "1m", 0) == 3
    assert snaps("visitors", "1m", 0) == 2  # a, b
    assert snaps("new_visitor_share", "1m", 0) == pytest.approx(2 / 3)  # A1 and B are first sessions
