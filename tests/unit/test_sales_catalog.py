"""Sales KPIs 25, 26, 28, 30, 33, 35, 37, 40, 41: customers, refunds, churn, CAC, affinity, pricing, stock, market."""
from __future__ import annotations

import pytest

from eventkit import ACTIVE, IDLE, ORDERS, T0, Snapshots, engine, event, iso, make_order
from processors.churn import merge_order
from streams.settings import Settings

CATALOG, MARKETING = "shop.catalog", "shop.marketing"
H, D = 3600, 86400

# fx: 1 EUR = 2 USD, 1 GBP = 3 USD (reporting currency USD), unless an fx report says otherwise.
FX = {"USD": 1.0, "EUR": 2.0, "GBP": 3.0}


def run(events, sizes, **config):
    """Ingest everything, then close every window; (engine, final snapshots)."""
    eng = engine(sizes, fx_rates=FX, **config)
    eng.ingest(events, ACTIVE)
    return eng, Snapshots(eng.advance(IDLE, T0) + eng.flush(T0))


def order(t, order_id, customer, revenue, currency="USD", products=(), country="US"):
    """An order_completed whose lines are (product_id, category, price, quantity)."""
    lines = [{"product_id": p, "category": c, "price": price, "quantity": q} for p, c, price, q in products]
    return event("order_completed", t, {"order_id": order_id, "customer_id": customer, "currency": currency,
                                        "revenue": revenue, "country": country, "products": lines},
                 topic=ORDERS, source="shop")


def refund(t, order_id, amount, currency="USD"):
    return event("order_refunded", t, {"order_id": order_id, "amount": amount, "currency": currency},
                 topic=ORDERS, source="shop")


def fx_report(t, base, rate):
    return event("fx_rate_reported", t, {"base": base, "quote": "USD", "rate": rate}, topic=CATALOG, source="fx")


def price(t, sku, amount, currency="USD", category=None):
    data = {"sku": sku, "price": amount, "currency": currency}
    if category:
        data["category"] = category
    return event("price_changed", t, data, topic=CATALOG, source="pim")


def competitor(t, sku, name, amount, currency="USD"):
    return event("competitor_price_observed", t,
                 {"sku": sku, "competitor": name, "price": amount, "currency": currency},
                 topic=CATALOG, source="pricing")


def stock(t, sku, location, available, category):
    return event("inventory_reported", t,
                 {"sku": sku, "location": location, "available": available, "category": category},
                 topic=CATALOG, source="wms")


def market(t, segment, value, currency, start, end):
    return event("market_size_reported", t, {"segment": segment, "value": value, "currency": currency,
                                             "period_start": iso(start), "period_end": iso(end)},
                 topic=CATALOG, source="research")


# ------------------------------------------------- 30, 35, 40: multi-currency money
# Hour 0 [0, 3600):
#   o-1 @100  c-1 US 100 USD  (new)
#   o-2 @200  c-2 DE  50 EUR  (new)
#   o-3 @300  c-1 GB  10 GBP  (returning)
#   fx @3000: 1 EUR = 1.5 USD, in force at the hour's end -> EUR converts at 1.5
#   refund @3500 of o-2: 10 EUR; refund @3550 of an order never seen: 5 USD
# Hour 1 [3600, 7200):
#   fx @4000: 1 EUR = 2.5 USD
#   o-4 @5000 c-3 US 10 USD (new)
MONEY = [
    order(100, "o-1", "c-1", 100.0, country="US"),
    order(200, "o-2", "c-2", 50.0, currency="EUR", country="DE"),
    order(300, "o-3", "c-1", 10.0, currency="GBP", country="GB"),
    fx_report(3000, "EUR", 1.5),
    refund(3500, "o-2", 10.0, currency="EUR"),
    refund(3550, "o-x", 5.0),
    fx_report(4000, "EUR", 2.5),
    order(5000, "o-4", "c-3", 10.0, country="US"),
]


@pytest.fixture(scope="module")
def money():
    return run(MONEY, (H,))[1]


MONEY_CASES = [
    ("revenue", 0, {}, 205, "100 + 50 x 1.5 + 10 x 3"),
    ("net_revenue", 0, {}, 185, "205 - 10 x 1.5 - 5"),
    ("net_revenue", 0, {"country": "DE"}, 60, "75 - 15 (refund of o-2, a DE order)"),
    ("net_revenue", 0, {"country": "US"}, 100, "o-1"),
    ("net_revenue", 0, {"country": "GB"}, 30, "10 GBP x 3"),
    ("net_revenue", 0, {"country": "unknown"}, -5, "refund of an order never seen"),
    ("net_revenue", 0, {"currency": "EUR"}, 60, "(50 - 10) EUR x 1.5"),
    ("net_revenue", 0, {"currency": "USD"}, 95, "100 - 5"),
    ("net_revenue", 0, {"currency": "GBP"}, 30, "10 x 3"),
    ("new_customer_orders", 0, {}, 2, "o-1 (c-1), o-2 (c-2)"),
    ("returning_customer_orders", 0, {}, 1, "o-3"),
    ("new_customer_revenue", 0, {}, 175, "100 + 50 x 1.5"),
    ("clv", 0, {}, 92.5, "(205 - 15 - 5) / 2 customers"),
    ("revenue", H, {}, 10, "o-4"),
    ("net_revenue", H, {}, 10, "no refund in hour 1"),
    ("new_customer_revenue", H, {}, 10, "o-4"),
    # lifetime as of 7200: USD 100 + 10 - 5 = 105; EUR (50 - 10) x 2.5 = 100; GBP 10 x 3 = 30
    ("clv", H, {}, pytest.approx(235 / 3), "(105 + 100 + 30) / 3 customers"),
]


@pytest.mark.parametrize(("kpi", "start", "dims", "expected", "why"), MONEY_CASES)
def test_money_kpis_in_three_currencies(money, kpi, start, dims, expected, why):
    assert money(kpi, "1h", start, **dims) == expected, why


@pytest.fixture(scope="module")
def money_refund_first():
    """The same events, but the refund of o-2 arrives before o-2 itself (another partition)."""
    early = [e for e in MONEY if e.type == "order_refunded" and e.data["order_id"] == "o-2"]
    return run(early + [e for e in MONEY if e not in early], (H,))[1]


@pytest.mark.parametrize(("kpi", "start", "dims", "expected", "why"), MONEY_CASES)
def test_a_refund_before_its_order_counts_for_the_orders_country(money_refund_first, kpi, start, dims, expected, why):
    assert money_refund_first(kpi, "1h", start, **dims) == expected, why


def test_money_kpis_carry_the_reporting_currency(money):
    record = money.get("clv", "1h", 0)
    assert (record["unit"], record["currency"], record["numerator"], record["denominator"]) == (
        "currency", "USD", 185, 2)


def test_refund_with_an_unknown_currency_is_a_dead_letter():
    eng = engine((60,), fx_rates=FX)
    report = eng.ingest([order(10, "o-1", "c-1", 10.0), refund(20, "o-1", 5.0, currency="XXX")], ACTIVE)
    assert [r.reason for r in report.rejected] == ["bad_value:currency"]
    assert Snapshots(eng.flush(T0))("net_revenue", "1m", 0) == 10


def test_an_earlier_order_arriving_late_moves_new_customer_revenue_and_the_customer():
    eng = engine((60, 300), fx_rates=FX)
    eng.ingest([make_order(100, "o-5", "c-3", 10.0)], ACTIVE)  # counted as c-3's first order ...
    out = eng.advance(ACTIVE)
    eng.ingest([make_order(40, "o-4", "c-3", 30.0)], ACTIVE)  # ... until the earlier one arrives
    snaps = Snapshots(out + eng.advance(IDLE, T0) + eng.flush(T0))
    assert snaps("new_customer_revenue", "5m", 0) == 30  # o-4 only
    assert snaps("returning_customer_orders", "5m", 0) == 1  # o-5
    assert snaps("new_customer_revenue", "1m", 60) == 0  # o-5: +10 then -10
    assert snaps("returning_customer_orders", "1m", 60) == 1
    assert snaps("clv", "1m", 0) == 30  # as of 60: o-4's 30 / 1 customer
    assert snaps("clv", "1m", 60) == 40  # as of 120: (30 + 10) / 1 customer (seen once, not twice)


# ------------------------------------------------------------------ 25: churn rate
# Horizon 3 days, day windows. A customer is active at s when they ordered in [s - 3d, s);
# they churn 3 days after the last order of a streak (orders less than 3 days apart).
#   c-1: orders 0d+1h, 2d+1h           -> streak [0d+1h, 2d+1h], churns 5d+1h (day 5)
#   c-2: order 1d+2h                   -> churns 4d+2h (day 4)
#   c-3: orders 0d+5h, 4d+5h, and 2d+5h arriving last, which bridges the 4-day gap:
#        one streak [0d+5h, 4d+5h], churns 7d+5h (day 7); without 2d+5h it would have
#        churned on day 3 and come back on day 4
#   c-4: order 3d+6h                   -> churns 6d+6h (day 6)
# Active at a day's start ws (first order < ws <= churn time):
#   day 1: c-1, c-3 = 2          churned 0
#   day 2: c-1, c-2, c-3 = 3     churned 0
#   day 3: c-1, c-2, c-3 = 3     churned 0 (c-3 no longer churns on day 3)
#   day 4: c-1..c-4 = 4          churned c-2 -> 1/4
#   day 5: c-1, c-3, c-4 = 3     churned c-1 -> 1/3
#   day 6: c-3, c-4 = 2          churned c-4 -> 1/2
#   day 7: c-3 = 1               churned c-3 -> 1
#   day 8: nobody                -> 0 / 0, no value
CHURN = [
    make_order(0 * D + 1 * H, "o-1", "c-1", 1.0),
    make_order(2 * D + 1 * H, "o-2", "c-1", 1.0),
    make_order(1 * D + 2 * H, "o-3", "c-2", 1.0),
    make_order(0 * D + 5 * H, "o-4", "c-3", 1.0),
    make_order(4 * D + 5 * H, "o-5", "c-3", 1.0),
    make_order(3 * D + 6 * H, "o-6", "c-4", 1.0),
    make_order(2 * D + 5 * H, "o-7", "c-3", 1.0),
]
CHURN_EXPECTED = {1: (0, 2), 2: (0, 3), 3: (0, 3), 4: (1, 4), 5: (1, 3), 6: (1, 2), 7: (1, 1)}


@pytest.mark.parametrize("arrival", ["as listed", "reversed"])
def test_churn_rate_by_day_in_any_arrival_order(arrival):
    events = CHURN if arrival == "as listed" else CHURN[::-1]
    snaps = run(events, (H, D), churn_horizon_s=3 * D)[1]
    for day, (churned, active) in CHURN_EXPECTED.items():
        record = snaps.get("churn_rate", "1d", day * D)
        assert (record["numerator"], record["denominator"]) == (churned, active), f"day {day}"
        assert record["value"] == churned / active, f"day {day}"
    last = snaps.get("churn_rate", "1d", 8 * D)
    assert (last["value"], last["numerator"], last["denominator"]) == (None, 0, 0)
    assert snaps.get("churn_rate", "1d", 0) is None  # nobody active and nobody churning on day 0
    assert snaps.get("churn_rate", "1h", 4 * D) is None  # a daily KPI only


def test_an_order_merges_the_streaks_it_chains_to():
    horizon = 10
    assert merge_order([], 5, horizon) == [[5, 5]]
    assert merge_order([[0, 4]], 2, horizon) == [[0, 4]]  # inside: no change
    assert merge_order([[0, 4]], 14, horizon) == [[0, 14]]  # 14 <= 4 + 10: same streak
    assert merge_order([[0, 4]], 15, horizon) == [[0, 4], [15, 15]]  # more than 10 after 4: new streak
    assert merge_order([[0, 4], [20, 30]], 12, horizon) == [[0, 30]]  # bridges both


def test_churn_horizon_is_a_setting():
    assert Settings().engine_config().churn_horizon_s == 90 * D  # default
    assert Settings.from_env({"SHOPPULSE_CHURN_HORIZON": "30d"}).engine_config().churn_horizon_s == 30 * D


def test_churn_scheduled_ahead_is_final_when_stream_time_passes_it_and_not_reported_before():
    eng = engine((D,), fx_rates=FX, churn_horizon_s=2 * D)
    eng.ingest([make_order(100, "o-1", "c-1", 1.0)], ACTIVE)  # churns at 2d+100
    first = eng.interim(T0)
    assert {r["window_start"] for r in first} == {iso(0)}  # days 1-3 (scheduled changes) wait
    final = eng.advance(IDLE, T0)
    assert final == []  # stream time 100: nothing final
    eng.ingest([make_order(3 * D + 500, "o-2", "c-2", 1.0)], ACTIVE)
    snaps = Snapshots(eng.advance(IDLE, T0))  # stream time 3d+500: days 0-2 final
    assert snaps.get("churn_rate", "1d", 1 * D)["value"] == 0  # c-1 active, not churning
    assert snaps.get("churn_rate", "1d", 2 * D)["value"] == 1  # c-1 churns at 2d+100
    assert snaps.get("churn_rate", "1d", 3 * D) is None  # still open


# ---------------------------------------------------------------------- 28: CAC
def test_cac_is_acquisition_spend_per_new_customer_for_hours_and_days():
    # Hour 0: new customers c-1 and c-2 (o-3 is c-1's second order); ad cost 30 USD and
    # influencer spend 10 EUR = 20 USD for periods starting at 0.
    period = {"period_start": iso(0), "period_end": iso(H)}
    events = [
        make_order(100, "o-1", "c-1", 10.0), make_order(200, "o-2", "c-2", 10.0),
        make_order(300, "o-3", "c-1", 10.0),
        event("ad_performance_reported", 3700, {"platform": "google", "campaign_id": "k-1", "impressions": 1000,
                                                "clicks": 30, "cost": 30.0, "currency": "USD", **period},
              topic=MARKETING, source="ads"),
        event("marketing_spend_reported", 3700, {"channel": "influencer", "amount": 10.0, "currency": "EUR",
                                                 **period}, topic=MARKETING, source="finance"),
    ]
    snaps = run(events, (300, H, D))[1]
    assert snaps("cac", "1h", 0) == 25  # (30 + 20) / 2
    assert snaps("cac", "1d", 0) == 25
    assert snaps.get("cac", "5m", 0) is None  # hours and days only


# ------------------------------------------------------------- 37: product affinity
# o-1: p1 p2 p3 -> pairs p1p2 p1p3 p2p3; o-2: p1 p2; o-3: p2 only; o-4: p1 (two lines) p2
# orders 4; orders with p1: 3, p2: 4, p3: 1; pair orders p1p2 3, p1p3 1, p2p3 1
AFFINITY = [
    order(10, "o-1", "c-1", 1.0, products=(("p1", "x", 1, 1), ("p2", "x", 1, 1), ("p3", "x", 1, 1))),
    order(20, "o-2", "c-2", 1.0, products=(("p2", "x", 1, 1), ("p1", "x", 1, 1))),
    order(30, "o-3", "c-3", 1.0, products=(("p2", "x", 1, 1),)),
    order(40, "o-4", "c-4", 1.0, products=(("p1", "x", 1, 1), ("p2", "x", 1, 1), ("p1", "x", 1, 2))),
]


def test_product_affinity_ranks_pairs_with_support_confidence_and_lift():
    record = run(AFFINITY, (60,))[1].get("product_affinity", "1m", 0)
    assert record["value"] is None
    assert record["ranking"] == [
        # support 3/4; confidence 3/3 (orders with p1); lift 0.75 / (3/4 x 4/4) = 1
        {"a": "p1", "b": "p2", "count": 3, "support": 0.75, "confidence": 1.0, "lift": 1.0},
        # support 1/4; confidence 1/3; lift 0.25 / (3/4 x 1/4) = 4/3
        {"a": "p1", "b": "p3", "count": 1, "support": 0.25, "confidence": pytest.approx(1 / 3),
         "lift": pytest.approx(4 / 3)},
        # support 1/4; confidence 1/4 (orders with p2); lift 0.25 / (4/4 x 1/4) = 1
        {"a": "p2", "b": "p3", "count": 1, "support": 0.25, "confidence": 0.25, "lift": 1.0},
    ]


def test_product_affinity_is_bounded_per_order_and_per_bucket():
    # 25 distinct products: only the first 20 by id count, i.e. 20 x 19 / 2 = 190 pairs;
    # with a cap of 50 distinct pairs per bucket, 50 are kept and 190 - 50 = 140 dropped.
    products = tuple((f"p{i:02d}", "x", 1, 1) for i in range(25))
    eng = engine((60,), fx_rates=FX)
    eng.aggregates.ranking_cap = 50
    eng.ingest([order(10, "o-1", "c-1", 1.0, products=products)], ACTIVE)
    bucket = eng.aggregates.store.get(f"event|{int(T0)}")[""]
    assert len(bucket["affinity_pairs"]) == 50
    assert sorted(bucket["affinity_items"]) == [f"p{i:02d}" for i in range(20)]  # p20..p24 not counted
    assert eng.aggregates.dropped_ranking_items == 140
    ranking = Snapshots(eng.flush(T0)).get("product_affinity", "1m", 0)["ranking"]
    assert len(ranking) == 20 and ranking[0]["a"] == "p00"


# ---------------------------------------------------------- 26: competitor prices
# Hour 0:
#   A shoes: own 100 USD @10; X 80 @20, Y 125 @30    -> 100 / 80 = 1.25 (above)
#   B bags:  own 90 USD @40; X 100 @50               -> 0.9
#   C bags:  own 50 USD @60, no competitor           -> not counted
#   D bags:  own 100 EUR @70; X 160 USD @80          -> 100 x 2 / 160 = 1.25 (above)
# Hour 1:
#   X for A 110 @4000 -> lowest min(110, 125) = 110 -> 100 / 110
#   B 120 USD @4100, now in accessories               -> 120 / 100 = 1.2 (above)
#   Y for A 999 @25, older than Y's 125 @30           -> ignored
PRICES = [
    price(10, "A", 100.0, category="shoes"), competitor(20, "A", "X", 80.0), competitor(30, "A", "Y", 125.0),
    price(40, "B", 90.0, category="bags"), competitor(50, "B", "X", 100.0),
    price(60, "C", 50.0, category="bags"),
    price(70, "D", 100.0, currency="EUR", category="bags"), competitor(80, "D", "X", 160.0),
    competitor(4000, "A", "X", 110.0),
    price(4100, "B", 120.0, category="accessories"),
    competitor(25, "A", "Y", 999.0),
]

PRICE_CASES = [
    ("competitor_price_index", 0, {}, pytest.approx(3.4 / 3), "(1.25 + 0.9 + 1.25) / 3"),
    ("priced_above_competitor_share", 0, {}, pytest.approx(2 / 3), "A, D of A, B, D"),
    ("competitor_price_index", 0, {"category": "shoes"}, 1.25, "A"),
    ("competitor_price_index", 0, {"category": "bags"}, 1.075, "(0.9 + 1.25) / 2"),
    ("priced_above_competitor_share", 0, {"category": "bags"}, 0.5, "D of B, D"),
    ("competitor_price_index", H, {}, pytest.approx((100 / 110 + 1.2 + 1.25) / 3, abs=1e-6),
     "A 100/110, B 1.2, D 1.25"),
    ("priced_above_competitor_share", H, {}, pytest.approx(2 / 3), "B, D"),
    ("competitor_price_index", H, {"category": "shoes"}, pytest.approx(100 / 110, abs=1e-6), "A"),
    ("priced_above_competitor_share", H, {"category": "shoes"}, 0, "A below"),
    ("competitor_price_index", H, {"category": "bags"}, 1.25, "D (B left bags)"),
    ("competitor_price_index", H, {"category": "accessories"}, 1.2, "B"),
]


@pytest.fixture(scope="module")
def prices():
    return run(PRICES, (H,))


@pytest.mark.parametrize(("kpi", "start", "dims", "expected", "why"), PRICE_CASES)
def test_competitor_price_kpis(prices, kpi, start, dims, expected, why):
    assert prices[1](kpi, "1h", start, **dims) == expected, why


def test_an_older_competitor_price_is_ignored_and_counted(prices):
    assert prices[0].counters["stale_catalog_reports"] == 1


# -------------------------------------------------------------------- 33: inventory
# Hour 0: A@wh1 10 (shoes), A@wh2 0 (shoes), B@wh1 5 (bags)
# Hour 1: A@wh1 0 @4000, A@wh2 7 @4100; B@wh1 99 @25 is older than B@wh1's report @30: ignored
STOCK = [
    stock(10, "A", "wh1", 10, "shoes"), stock(20, "A", "wh2", 0, "shoes"), stock(30, "B", "wh1", 5, "bags"),
    stock(4000, "A", "wh1", 0, "shoes"), stock(4100, "A", "wh2", 7, "shoes"), stock(25, "B", "wh1", 99, "bags"),
]

STOCK_CASES = [
    ("inventory_available", 0, {}, 15, "10 + 0 + 5"),
    ("stockout_skus", 0, {}, 1, "A@wh2"),
    ("inventory_available", 0, {"location": "wh1"}, 15, "A 10 + B 5"),
    ("stockout_skus", 0, {"location": "wh2"}, 1, "A"),
    ("inventory_available", 0, {"category": "shoes"}, 10, "A@wh1 10 + A@wh2 0"),
    ("stockout_skus", 0, {"category": "bags"}, 0, "B has 5"),
    ("inventory_available", H, {}, 12, "0 + 7 + 5"),
    ("stockout_skus", H, {}, 1, "A@wh1"),
    ("inventory_available", H, {"location": "wh1"}, 5, "A 0 + B 5"),
    ("stockout_skus", H, {"location": "wh1"}, 1, "A"),
    ("stockout_skus", H, {"location": "wh2"}, 0, "A has 7"),
    ("inventory_available", H, {"category": "shoes"}, 7, "0 + 7"),
]


@pytest.mark.parametrize(("kpi", "start", "dims", "expected", "why"), STOCK_CASES)
def test_inventory_kpis(kpi, start, dims, expected, why):
    assert run(STOCK, (H,))[1](kpi, "1h", start, **dims) == expected, why


def test_a_stock_report_for_final_windows_only_is_late_and_the_gauge_stays_consistent():
    eng = engine((60,), fx_rates=FX)
    eng.ingest([stock(10, "A", "wh1", 10, "shoes"), stock(200, "B", "wh1", 1, "shoes")], ACTIVE)
    out = eng.advance(IDLE, T0)  # stream time 200: minutes up to [120, 180) are final
    report = eng.ingest([stock(20, "A", "wh1", 3, "shoes")], ACTIVE)  # newer than @10, but its minute is final
    assert [late.windows for late in report.late] == [["1m"]]
    eng.ingest([stock(250, "A", "wh1", 5, "shoes")], ACTIVE)
    snaps = Snapshots(out + eng.flush(T0))
    assert snaps("inventory_available", "1m", 180) == 11  # A 10 (the late 3 was not counted) + B 1
    assert snaps("inventory_available", "1m", 240) == 6  # A 5 (a change of 10 -> 5) + B 1


# -------------------------------------------------------------------- 41: market share
# Market size, spread over each report's period in proportion to time:
#   shoes 2400 USD over [0, 1d)      -> 100 per hour
#   bags  4800 EUR over [0, 12h)     -> 400 EUR = 800 USD per hour
#   toys   300 USD over [0.5h, 2.5h) -> 150 per hour: 75 in hour 0, 150 in hour 1, 75 in hour 2
# Revenue by segment (order revenue split by the lines' price x quantity):
#   o-1 @100  20 USD: shoes 30 x 1, bags 10 x 1  -> shoes 15, bags 5
#   o-2 @4000 10 EUR: toys 5 x 2                 -> toys 10 EUR = 20 USD
MARKET = [
    market(5, "shoes", 2400.0, "USD", 0, D),
    market(5, "bags", 4800.0, "EUR", 0, 12 * H),
    market(5, "toys", 300.0, "USD", H / 2, 2.5 * H),
    order(100, "o-1", "c-1", 20.0, products=(("s-1", "shoes", 30.0, 1), ("b-1", "bags", 10.0, 1))),
    order(4000, "o-2", "c-2", 10.0, currency="EUR", products=(("t-1", "toys", 5.0, 2),)),
]

MARKET_CASES = [
    ("1h", 0, {}, pytest.approx(20 / 975), "20 / (100 + 800 + 75)"),
    ("1h", 0, {"segment": "shoes"}, 0.15, "15 / 100"),
    ("1h", 0, {"segment": "bags"}, 0.00625, "5 / 800"),
    ("1h", 0, {"segment": "toys"}, 0, "0 / 75"),
    ("1h", H, {}, pytest.approx(20 / 1050), "20 / (100 + 800 + 150)"),
    ("1h", H, {"segment": "toys"}, pytest.approx(20 / 150), "20 / 150"),
    ("1h", 12 * H, {}, 0, "0 / 100: only shoes' market left"),
    ("1d", 0, {}, pytest.approx(40 / 12300), "(20 + 20) / (2400 + 4800 x 2 + 300)"),
]


@pytest.mark.parametrize(("window", "start", "dims", "expected", "why"), MARKET_CASES)
def test_market_share(window, start, dims, expected, why):
    assert run(MARKET, (H, D))[1]("market_share", window, start, **dims) == expected, why


def test_market_size_report_with_an_empty_period_is_a_dead_letter():
    eng = engine((H,), fx_rates=FX)
    report = eng.ingest([market(5, "shoes", 100.0, "USD", H, H)], ACTIVE)
    assert [r.reason for r in report.rejected] == ["bad_value:period_end"]


def test_market_size_of_hours_that_ended_before_the_report_is_left_out():
    # shoes 2400 USD over [0, 1d) reported at 2h 30m: hours 0 and 1 are history and left
    # out; hour 2 gets its 100 (its slice starts at 2h, within the report's hour).
    # Order o-1 @2h40m: 20 USD of shoes -> market share of hour 2 = 20 / 100.
    events = [market(2.5 * H, "shoes", 2400.0, "USD", 0, D),
              order(2 * H + 2400, "o-1", "c-1", 20.0, products=(("s-1", "shoes", 20.0, 1),))]
    snaps = run(events, (H, D))[1]
    assert snaps("market_share", "1h", 2 * H) == 0.2
    assert snaps.get("market_share", "1h", 0) is None
    assert snaps.get("market_share", "1h", H) is None
