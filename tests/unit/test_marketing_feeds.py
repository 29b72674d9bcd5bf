"""Marketing feed KPIs: ads, spend, email, email and SMS lists, social and reviews (catalogue 2-23, 28)."""
from __future__ import annotations

import orjson
import pytest

from eventkit import ACTIVE, IDLE, T0, compute, engine, event, iso

MARKETING = "shop.marketing"
HOUR, DAY = 3600, 86400


# ---------------------------------------------------------------- builders
def report(type_: str, start: float, data: dict, *, length: float = HOUR, **kw):
    """A periodic report for [start, start + length), emitted at the period's end."""
    body = {**data, "period_start": iso(start), "period_end": iso(start + length)}
    return event(type_, start + length, body, topic=MARKETING, source="feeds", **kw)


def ad(start: float, platform: str, campaign: str, impressions: int, clicks: int, cost: float,
       currency: str = "USD", **extra):
    return report("ad_performance_reported", start, {
        "platform": platform, "campaign_id": campaign, "impressions": impressions, "clicks": clicks,
        "cost": cost, "currency": currency, **extra})


def spend(start: float, channel: str, amount: float, currency: str = "USD"):
    return report("marketing_spend_reported", start, {"channel": channel, "amount": amount, "currency": currency})


def social(start: float, platform: str, followers: int, likes: int, comments: int, shares: int, reach: int,
           saves: int | None = None):
    data = {"platform": platform, "account": "@shop", "followers": followers, "likes": likes,
            "comments": comments, "shares": shares, "reach": reach}
    if saves is not None:
        data["saves"] = saves
    return report("social_stats_reported", start, data)


def email(type_: str, t: float, contact: str, campaign: str | None = None):
    data = {"contact_id": contact}
    if campaign is not None:
        data["campaign_id"] = campaign
    return event(type_, t, data, topic=MARKETING, source="esp")


def review(t: float, rating: int, category: str | None):
    data = {"product_id": "p-1", "review_id": f"rv-{t}", "rating": rating}
    if category is not None:
        data["category"] = category
    return event("product_reviewed", t, data, topic=MARKETING, source="reviews")


# --------------------------------------------------------------------- ads
# Hour 0 (period_start T0): google_ads brand 1000 impressions, 50 clicks, $40, position 1.5, top 600
#                           google_ads generic 3000, 90, $120, position 2.5, top 900
#                           meta_ads prospecting 10000, 100, EUR 50 (no position, no top impressions)
#                           spend: email $10, influencer EUR 20
# Hour 1 (T0 + 3600):       google_ads brand 2000, 40, $30, position 1.0, top 1500
# EUR converts at the default 1.08 USD.
ADS = [
    ad(0, "google_ads", "brand_search", 1000, 50, 40.0, avg_position=1.5, top_impressions=600),
    ad(0, "google_ads", "generic_search", 3000, 90, 120.0, avg_position=2.5, top_impressions=900),
    ad(0, "meta_ads", "prospecting", 10000, 100, 50.0, "EUR"),
    spend(0, "email", 10.0),
    spend(0, "influencer", 20.0, "EUR"),
    ad(HOUR, "google_ads", "brand_search", 2000, 40, 30.0, avg_position=1.0, top_impressions=1500),
]

AD_CASES = [
    ("ad_clicks", "1h", 0, {}, 240, "50 + 90 + 100"),
    ("ad_clicks", "1h", 0, {"platform": "google_ads"}, 140, "50 + 90"),
    ("ad_clicks", "1h", 0, {"platform": "meta_ads"}, 100, ""),
    ("ad_clicks", "1h", HOUR, {}, 40, "attributed to period_start, not to the report's time"),
    ("ad_clicks", "1d", 0, {}, 280, "240 + 40"),
    ("ad_ctr", "1h", 0, {}, pytest.approx(240 / 14000), "clicks 240 / impressions 1000 + 3000 + 10000"),
    ("ad_ctr", "1h", 0, {"platform": "google_ads"}, pytest.approx(0.035), "140 / 4000"),
    ("ad_ctr", "1h", 0, {"platform": "meta_ads"}, pytest.approx(0.01), "100 / 10000"),
    ("ad_ctr", "1h", HOUR, {}, pytest.approx(0.02), "40 / 2000"),
    ("ad_ctr", "1d", 0, {}, pytest.approx(0.0175), "280 / 16000"),
    ("ad_avg_position", "1h", 0, {}, pytest.approx(2.25), "(1.5 x 1000 + 2.5 x 3000) / 4000; meta has none"),
    ("ad_avg_position", "1h", 0, {"platform": "google_ads"}, pytest.approx(2.25), "9000 / 4000"),
    ("ad_avg_position", "1h", HOUR, {}, pytest.approx(1.0), "1.0 x 2000 / 2000"),
    ("ad_avg_position", "1d", 0, {}, pytest.approx(11000 / 6000), "(1500 + 7500 + 2000) / (4000 + 2000)"),
    ("ad_top_impression_share", "1h", 0, {}, pytest.approx(0.375), "(600 + 900) / 4000; meta has none"),
    ("ad_top_impression_share", "1h", HOUR, {}, pytest.approx(0.75), "1500 / 2000"),
    ("ad_top_impression_share", "1d", 0, {}, pytest.approx(0.5), "(600 + 900 + 1500) / 6000"),
    ("ad_cost", "1h", 0, {}, pytest.approx(214.0), "40 + 120 + 50 x 1.08"),
    ("ad_cost", "1h", HOUR, {}, pytest.approx(30.0), ""),
    ("ad_cost", "1d", 0, {}, pytest.approx(244.0), "214 + 30"),
    ("marketing_spend", "1h", 0, {}, pytest.approx(31.6), "10 + 20 x 1.08"),
    ("acquisition_spend", "1h", 0, {}, pytest.approx(245.6), "214 + 31.6"),
    ("acquisition_spend", "1h", HOUR, {}, pytest.approx(30.0), "ad cost only"),
    ("acquisition_spend", "1d", 0, {}, pytest.approx(275.6), "244 + 31.6"),
]


@pytest.fixture(scope="module")
def ads():
    return compute(ADS, sizes=(300, HOUR, DAY))


@pytest.mark.parametrize(("kpi", "window", "start", "dims", "expected", "why"), AD_CASES)
def test_ad_and_spend_kpis(ads, kpi, window, start, dims, expected, why):
    assert ads(kpi, window, start, **dims) == expected, why


def test_platforms_without_positions_report_no_position(ads):
    assert ads.get("ad_avg_position", "1h", 0, platform="meta_ads") is None
    assert ads.get("ad_top_impression_share", "1h", 0, platform="meta_ads") is None


def test_money_measures_are_in_the_reporting_currency(ads):
    record = ads.get("acquisition_spend", "1h", 0)
    assert record["unit"] == "currency" and record["currency"] == "USD"


@pytest.mark.parametrize("kpi", ["ad_clicks", "ad_ctr", "ad_avg_position", "ad_cost", "acquisition_spend"])
def test_report_kpis_are_published_for_1h_and_1d_windows_only(ads, kpi):
    assert ads.get(kpi, "5m", 0) is None  # hourly reports arrive after their 5m windows are final


def test_report_with_unknown_currency_is_a_dead_letter():
    eng = engine((300, HOUR))
    result = eng.ingest([ad(0, "google_ads", "brand_search", 10, 1, 1.0, "XXX")], ACTIVE)
    assert [r.reason for r in result.rejected] == ["bad_value:currency"]


# ------------------------------------------------------------------- email
# Deliveries: spring_sale to a, b, c, d @0-3; weekly_digest to a, b, c @4-6   (7 deliveries)
# Opens:      spring_sale a @10 and again @20 (a reopen); weekly_digest a @30;
#             spring_sale b @130 arrives first, then b @50: the first open moves to @50
# Clicks:     spring_sale a @15 and @16; weekly_digest a @35
# Unsubscribes: a @40 from spring_sale; e @100 naming no campaign
EMAIL = [
    *[email("email_delivered", i, c, "spring_sale") for i, c in enumerate("abcd")],
    *[email("email_delivered", 4 + i, c, "weekly_digest") for i, c in enumerate("abc")],
    email("email_opened", 10, "a", "spring_sale"),
    email("email_opened", 20, "a", "spring_sale"),
    email("email_opened", 30, "a", "weekly_digest"),
    email("email_opened", 130, "b", "spring_sale"),
    email("email_opened", 50, "b", "spring_sale"),
    email("email_clicked", 15, "a", "spring_sale"),
    email("email_clicked", 16, "a", "spring_sale"),
    email("email_clicked", 35, "a", "weekly_digest"),
    email("email_unsubscribed", 40, "a", "spring_sale"),
    email("email_unsubscribed", 100, "e"),
]

EMAIL_CASES = [
    ("email_open_rate", "5m", 0, {}, pytest.approx(3 / 7), "first opens (a, b of spring_sale; a of weekly) / 7"),
    ("email_open_rate", "5m", 0, {"campaign": "spring_sale"}, 0.5, "a, b / 4 deliveries"),
    ("email_open_rate", "5m", 0, {"campaign": "weekly_digest"}, pytest.approx(1 / 3), "a / 3 deliveries"),
    ("email_open_rate", "1m", 0, {}, pytest.approx(3 / 7), "b's first open moved to @50"),
    ("email_clicks", "5m", 0, {}, 3, "every click counts"),
    ("email_clicks", "5m", 0, {"campaign": "spring_sale"}, 2, "@15, @16"),
    ("email_clicks", "5m", 0, {"campaign": "weekly_digest"}, 1, "@35"),
    ("email_unsubscribes", "5m", 0, {}, 2, "a, e"),
    ("email_unsubscribes", "5m", 0, {"campaign": "spring_sale"}, 1, "a"),
    ("email_unsubscribes", "5m", 0, {"campaign": "unknown"}, 1, "e names no campaign"),
    ("email_unsubscribes", "1m", 60, {}, 1, "e @100"),
    ("unsubscribe_rate", "5m", 0, {}, pytest.approx(2 / 7), "2 / 7 deliveries"),
    ("unsubscribe_rate", "5m", 0, {"campaign": "spring_sale"}, 0.25, "1 / 4"),
    ("unsubscribe_rate", "5m", 0, {"campaign": "weekly_digest"}, 0.0, "0 / 3"),
    ("unsubscribe_rate", "5m", 0, {"campaign": "unknown"}, None, "no deliveries: no value"),
]


@pytest.fixture(scope="module")
def emails():
    return compute(EMAIL)


@pytest.mark.parametrize(("kpi", "window", "start", "dims", "expected", "why"), EMAIL_CASES)
def test_email_kpis(emails, kpi, window, start, dims, expected, why):
    assert emails(kpi, window, start, **dims) == expected, why


def test_a_first_open_that_moved_earlier_leaves_no_open_behind(emails):
    record = emails.get("email_open_rate", "1m", 120)  # b's open @130 was replaced by @50
    assert record is None or record["numerator"] == 0


# ------------------------------------------------------------ email and SMS lists
# Email (1m windows; the gauge is the sum of changes before the window end):
#   x  subscribed @10 (+1), unsubscribed @70 (-1), subscribed @130 (+1)
#   y  unsubscribed @80 arrives first (unknown -> off: 0), then subscribed @20: older, ignored
#      for the gauge (still a subscribe event)
#   z  subscribed @30 (+1), subscribed again @40 (already on: 0)
#   w  unsubscribed @50, never subscribed (0)
# SMS:
#   s1 subscribed @100 (+1) arrives first, then unsubscribed @50: older, ignored
#   s2 subscribed @10 (+1), unsubscribed @20 (-1)
LISTS = [
    email("email_subscribed", 10, "x"), email("email_unsubscribed", 70, "x"), email("email_subscribed", 130, "x"),
    email("email_unsubscribed", 80, "y"), email("email_subscribed", 20, "y"),
    email("email_subscribed", 30, "z"), email("email_subscribed", 40, "z"),
    email("email_unsubscribed", 50, "w"),
    event("sms_subscribed", 100, {"contact_id": "s1"}, topic=MARKETING, source="sms"),
    event("sms_unsubscribed", 50, {"contact_id": "s1"}, topic=MARKETING, source="sms"),
    event("sms_subscribed", 10, {"contact_id": "s2"}, topic=MARKETING, source="sms"),
    event("sms_unsubscribed", 20, {"contact_id": "s2"}, topic=MARKETING, source="sms"),
]

LIST_CASES = [
    ("email_subscribers", "1m", 0, 2, "x +1 @10, z +1 @30 (z again @40: 0; y's @20 ignored)"),
    ("email_subscribers", "1m", 60, 1, "2 - x @70"),
    ("email_subscribers", "1m", 120, 2, "1 + x @130"),
    ("email_subscribers", "5m", 0, 2, "x and z"),
    ("email_subscribes", "1m", 0, 4, "x @10, y @20, z @30, z @40"),
    ("email_subscribes", "1m", 120, 1, "x @130"),
    ("email_subscribes", "5m", 0, 5, ""),
    ("sms_subscribers", "1m", 0, 0, "s2 +1 @10 -1 @20; s1's unsubscribe @50 ignored"),
    ("sms_subscribers", "1m", 60, 1, "s1 +1 @100"),
    ("sms_subscribers", "5m", 0, 1, "s1"),
    ("sms_subscribes", "1m", 0, 1, "s2 @10"),
    ("sms_subscribes", "1m", 60, 1, "s1 @100"),
    ("sms_subscribes", "5m", 0, 2, ""),
]


@pytest.fixture(scope="module")
def lists():
    return compute(LISTS)


@pytest.mark.parametrize(("kpi", "window", "start", "expected", "why"), LIST_CASES)
def test_list_kpis(lists, kpi, window, start, expected, why):
    assert lists(kpi, window, start) == expected, why


def test_older_list_events_are_counted_as_stale():
    eng = engine()
    eng.ingest(LISTS, ACTIVE)
    assert eng.counters["stale_subscription_events"] == 2  # y @20, s1 @50


def test_a_list_change_no_window_can_take_is_not_remembered():
    # s1 subscribes @1000; stream time passes; s2's subscribe @10 is late for every window
    # (dropped), so s2's unsubscribe @1010 must not take a subscriber away.
    eng = engine()
    eng.ingest([event("sms_subscribed", 1000, {"contact_id": "s1"}, topic=MARKETING)], ACTIVE)
    snapshots = eng.advance(IDLE, T0)
    late = eng.ingest([event("sms_subscribed", 10, {"contact_id": "s2"}, topic=MARKETING)], ACTIVE).late
    assert [e.windows for e in late] == [["1m", "5m"]]
    eng.ingest([event("sms_unsubscribed", 1010, {"contact_id": "s2"}, topic=MARKETING)], ACTIVE)
    snapshots += eng.flush(T0)
    gauge = [s["value"] for s in snapshots if s["kpi"] == "sms_subscribers" and s["window"] == "5m"]
    assert gauge == [1]  # the 5m window [900, 1200): s1 only


def test_expiry_keeps_subscribers_and_forgets_the_rest():
    eng = engine()
    eng.ingest([email("email_subscribed", 10, "on"), email("email_unsubscribed", 20, "off"),
                email("email_delivered", 30, "on", "spring_sale"), email("email_opened", 40, "on", "spring_sale")],
               ACTIVE)
    eng.marketing.expire(T0 + 100)
    assert list(eng.marketing.subscriptions) == ["email|on"]
    assert len(eng.marketing.first_opens) == 0


# ------------------------------------------------------------------ social
# Reports per hour (period_start), followers / likes, comments, shares, saves / reach:
#   instagram @0:    1000 / 50, 5, 3, 2 / 2000       engagements 60
#   instagram @3600: 1030 / 30, 1, 1, -  / 1000       engagements 32 (no saves)
#   tiktok    @0:     500 / 100, 10, 20, 10 / 5000    engagements 140
#   tiktok    @7200:  560 / 40, 0, 0, 0 / 1000        engagements 40, arrives before:
#   tiktok    @3600:  530 / 20, 2, 2, 1 / 500         engagements 25; older than the latest
#                                                     report: its followers are ignored
# Follower changes: instagram +1000 @0, +30 @3600; tiktok +500 @0, +60 @7200 (560 - 500).
SOCIAL = [
    social(0, "instagram", 1000, 50, 5, 3, 2000, saves=2),
    social(HOUR, "instagram", 1030, 30, 1, 1, 1000),
    social(0, "tiktok", 500, 100, 10, 20, 5000, saves=10),
    social(2 * HOUR, "tiktok", 560, 40, 0, 0, 1000, saves=0),
    social(HOUR, "tiktok", 530, 20, 2, 2, 500, saves=1),
]

SOCIAL_CASES = [
    ("social_followers", "1h", 0, {}, 1500, "1000 + 500"),
    ("social_followers", "1h", 0, {"platform": "instagram"}, 1000, ""),
    ("social_followers", "1h", HOUR, {}, 1530, "1030 + 500 (tiktok's older report ignored)"),
    ("social_followers", "1h", HOUR, {"platform": "tiktok"}, 500, ""),
    ("social_followers", "1h", 2 * HOUR, {}, 1590, "1030 + 560"),
    ("social_followers", "1h", 2 * HOUR, {"platform": "instagram"}, 1030, "carried forward"),
    ("social_followers", "1h", 2 * HOUR, {"platform": "tiktok"}, 560, ""),
    ("social_followers", "1d", 0, {}, 1590, "as of the day's end"),
    ("social_likes", "1h", 0, {}, 150, "50 + 100"),
    ("social_likes", "1h", HOUR, {}, 50, "30 + 20 (the older report's likes still count)"),
    ("social_likes", "1h", 2 * HOUR, {"platform": "tiktok"}, 40, ""),
    ("social_likes", "1d", 0, {}, 240, "150 + 50 + 40"),
    ("social_engagement_rate", "1h", 0, {}, pytest.approx(200 / 7000), "(60 + 140) / (2000 + 5000)"),
    ("social_engagement_rate", "1h", 0, {"platform": "instagram"}, pytest.approx(0.03), "60 / 2000"),
    ("social_engagement_rate", "1h", 0, {"platform": "tiktok"}, pytest.approx(0.028), "140 / 5000"),
    ("social_engagement_rate", "1h", HOUR, {}, pytest.approx(0.038), "(32 + 25) / (1000 + 500)"),
    ("social_engagement_rate", "1h", HOUR, {"platform": "tiktok"}, pytest.approx(0.05), "25 / 500"),
    ("social_engagement_rate", "1d", 0, {}, pytest.approx(297 / 9500), "(200 + 57 + 40) / (7000 + 1500 + 1000)"),
]


@pytest.fixture(scope="module")
def socials():
    return compute(SOCIAL, sizes=(300, HOUR, DAY))


@pytest.mark.parametrize(("kpi", "window", "start", "dims", "expected", "why"), SOCIAL_CASES)
def test_social_kpis(socials, kpi, window, start, dims, expected, why):
    assert socials(kpi, window, start, **dims) == expected, why


def test_older_follower_report_is_counted_as_stale():
    eng = engine((300, HOUR))
    eng.ingest(SOCIAL, ACTIVE)
    assert eng.counters["stale_follower_reports"] == 1


# ----------------------------------------------------------------- reviews
# shoes 5, 5, 3; bags 4, 1; no category 4 (@70)
REVIEWS = [review(0, 5, "shoes"), review(10, 5, "shoes"), review(20, 3, "shoes"),
           review(30, 4, "bags"), review(40, 1, "bags"), review(70, 4, None)]

REVIEW_CASES = [
    ("reviews", "5m", 0, {}, 6, ""),
    ("reviews", "5m", 0, {"category": "shoes"}, 3, ""),
    ("reviews", "5m", 0, {"category": "unknown"}, 1, "no category"),
    ("reviews", "1m", 60, {}, 1, "@70"),
    ("review_avg_rating", "5m", 0, {}, pytest.approx(22 / 6), "(5 + 5 + 3 + 4 + 1 + 4) / 6"),
    ("review_avg_rating", "5m", 0, {"category": "shoes"}, pytest.approx(13 / 3), "(5 + 5 + 3) / 3"),
    ("review_avg_rating", "5m", 0, {"category": "bags"}, 2.5, "(4 + 1) / 2"),
    ("review_avg_rating", "1m", 0, {}, pytest.approx(18 / 5), "(5 + 5 + 3 + 4 + 1) / 5"),
    ("review_positive_share", "5m", 0, {}, pytest.approx(4 / 6), "5, 5, 4, 4 of 6"),
    ("review_positive_share", "5m", 0, {"category": "shoes"}, pytest.approx(2 / 3), "5, 5 of 3"),
    ("review_positive_share", "5m", 0, {"category": "bags"}, 0.5, "4 of 4, 1"),
    ("review_positive_share", "1m", 60, {}, 1.0, "4"),
]


@pytest.fixture(scope="module")
def reviews():
    return compute(REVIEWS)


@pytest.mark.parametrize(("kpi", "window", "start", "dims", "expected", "why"), REVIEW_CASES)
def test_review_kpis(reviews, kpi, window, start, dims, expected, why):
    assert reviews(kpi, window, start, **dims) == expected, why


# ------------------------------------------------------------- label bound
def test_campaigns_beyond_the_label_cap_fold_into_other_with_their_deliveries():
    # Cap 2: c1 and c2 keep their labels; c3, met third, is reported as `other`, its opens
    # and deliveries together (the label is decided per value), so its rate stays right.
    eng = engine(max_label_values=2)
    eng.ingest([email("email_delivered", 0, "a", "c1"), email("email_delivered", 1, "a", "c2"),
                email("email_delivered", 2, "a", "c3"), email("email_delivered", 3, "b", "c3"),
                email("email_opened", 4, "a", "c3"), email("email_delivered", 5, "b", "c1")], ACTIVE)
    snapshots = eng.flush(T0)
    rates = {s["dims"].get("campaign", ""): s["value"]
             for s in snapshots if s["kpi"] == "email_open_rate" and s["window"] == "5m"}
    assert rates == {"": 0.2, "c1": 0.0, "c2": 0.0, "other": 0.5}  # 1 open / 5; c3: 1 open / 2


# ------------------------------------------------------------ restore
def test_a_restored_engine_continues_like_an_uninterrupted_one():
    # The stale events and the earlier open come after the checkpoint, so the latest list
    # status, the latest follower counts and the first opens must all survive it.
    phase_1 = LISTS[:4] + LISTS[8:9] + SOCIAL[:4] + EMAIL[:11]
    phase_2 = LISTS[4:8] + LISTS[9:] + SOCIAL[4:] + EMAIL[11:]
    sizes = (60, 300, HOUR)
    whole = engine(sizes)
    whole.ingest(phase_1 + phase_2, ACTIVE)
    expected = whole.flush(T0)

    first = engine(sizes)
    first.ingest(phase_1, ACTIVE)
    restored = engine(sizes)
    for store in first.stores:
        restored.load(store.name, [(k, orjson.loads(orjson.dumps(v))) for k, v in store.drain_changes()
                                   if v is not None])
    restored.after_load(ACTIVE)
    restored.ingest(phase_2, ACTIVE)
    key = lambda s: orjson.dumps(s, option=orjson.OPT_SORT_KEYS)  # noqa: E731
    assert sorted(map(key, restored.flush(T0))) == sorted(map(key, expected))
    assert restored.counters["stale_subscription_events"] == 2 and restored.counters["stale_follower_reports"] == 1
