"""Order KPIs: money in the reporting currency, COGS and margin, dedup, new vs returning customers."""
from __future__ import annotations

import pytest

from eventkit import ACTIVE, IDLE, T0, Snapshots, compute, engine, make_order

# fx: 1 EUR = 2 USD (reporting currency USD), so conversions are easy to do by hand.
FX = {"USD": 1.0, "EUR": 2.0}

# o-1 @10  c-1 US  100 USD, COGS 20x2 + 10x1 = 50 USD          (c-1's first order: new)
# o-2 @20  c-2 DE   30 EUR = 60 USD, COGS 5x3 = 15 EUR = 30 USD  (new)
# o-3 @70  c-1 US   40 USD, COGS 10x1 = 10 USD                  (c-1 again: returning)
ORDERS = [
    make_order(10, "o-1", "c-1", 100.0, costs=((20.0, 2), (10.0, 1)), country="US"),
    make_order(20, "o-2", "c-2", 30.0, currency="EUR", costs=((5.0, 3),), country="DE"),
    make_order(70, "o-3", "c-1", 40.0, costs=((10.0, 1),), country="US"),
    # o-1 again under another event id: the order id was already counted
    make_order(15, "o-1", "c-1", 100.0, costs=((20.0, 2), (10.0, 1)), country="US"),
]


@pytest.fixture(scope="module")
def snaps() -> Snapshots:
    return compute(ORDERS, fx_rates=FX)


CASES = [
    # 5m window [T0, T0+300)
    ("orders", "5m", 0, {}, 3, "o-1, o-2, o-3 (duplicate o-1 ignored)"),
    ("revenue", "5m", 0, {}, 200, "100 + 30x2 + 40"),
    ("cogs", "5m", 0, {}, 90, "50 + 30 + 10"),
    ("gross_profit", "5m", 0, {}, 110, "200 - 90"),
    ("gross_margin", "5m", 0, {}, 0.55, "110 / 200"),
    ("aov", "5m", 0, {}, pytest.approx(200 / 3), "200 / 3"),
    ("new_customer_orders", "5m", 0, {}, 2, "o-1 (c-1), o-2 (c-2)"),
    ("aov", "5m", 0, {"new_vs_returning": "new"}, 80, "(100 + 60) / 2"),
    ("aov", "5m", 0, {"new_vs_returning": "returning"}, 40, "40 / 1"),
    ("revenue", "5m", 0, {"currency": "USD"}, 140, "100 + 40"),
    ("revenue", "5m", 0, {"currency": "EUR"}, 60, "30 EUR x 2"),
    ("revenue", "5m", 0, {"country": "US"}, 140, "100 + 40"),
    ("orders", "5m", 0, {"country": "DE"}, 1, "o-2"),
    ("cogs", "5m", 0, {"country": "DE"}, 30, "15 EUR x 2"),
    ("gross_profit", "5m", 0, {"country": "US"}, 80, "140 - 60"),
    ("gross_margin", "5m", 0, {"country": "US"}, pytest.approx(80 / 140), "80 / 140"),
    ("gross_margin", "5m", 0, {"country": "DE"}, 0.5, "(60 - 30) / 60"),
    ("aov", "5m", 0, {"country": "US"}, 70, "140 / 2"),
    # 1m windows
    ("orders", "1m", 0, {}, 2, "o-1 @10, o-2 @20"),
    ("revenue", "1m", 0, {}, 160, "100 + 60"),
    ("aov", "1m", 0, {}, 80, "160 / 2"),
    ("orders", "1m", 60, {}, 1, "o-3 @70"),
    ("revenue", "1m", 60, {}, 40, ""),
    ("gross_margin", "1m", 60, {}, 0.75, "(40 - 10) / 40"),
    ("new_customer_orders", "1m", 60, {}, 0, "o-3 is c-1's second order"),
]


@pytest.mark.parametrize(("kpi", "window", "start", "dims", "expected", "why"), CASES)
def test_order_kpis(snaps, kpi, window, start, dims, expected, why):
    assert snaps(kpi, window, start, **dims) == expected, why


def test_money_records_carry_the_reporting_currency(snaps):
    assert snaps.get("revenue", "5m", 0)["currency"] == "USD"
    assert snaps.get("revenue", "5m", 0, currency="EUR")["unit"] == "currency"
    assert "currency" not in snaps.get("orders", "5m", 0)


def test_repeated_source_and_id_counts_once():
    eng = engine(fx_rates=FX)
    order = make_order(10, "o-1", "c-1", 100.0)
    report = eng.ingest([order, order], ACTIVE)
    assert (report.accepted, report.duplicates["shop.orders"]) == (1, 1)
    # ... also when the repeat comes in a later batch
    report = eng.ingest([order], ACTIVE)
    assert (report.accepted, report.duplicates["shop.orders"]) == (0, 1)
    snaps = Snapshots(eng.flush(T0))
    assert snaps("orders", "1m", 0) == 1
    assert snaps("revenue", "1m", 0) == 100


def test_repeated_order_id_counts_once_and_is_counted_in_a_metric():
    eng = engine(fx_rates=FX)
    eng.ingest([make_order(10, "o-1", "c-1", 100.0), make_order(30, "o-1", "c-1", 999.0)], ACTIVE)
    assert eng.counters["duplicate_orders"] == 1
    snaps = Snapshots(eng.flush(T0))
    assert snaps("orders", "1m", 0) == 1
    assert snaps("revenue", "1m", 0) == 100  # the first copy wins


def test_a_customers_earlier_order_arriving_later_moves_the_later_order_to_returning():
    eng = engine(fx_rates=FX)
    # c-3's order @100 (10 USD) arrives first and is counted as new ...
    eng.ingest([make_order(100, "o-5", "c-3", 10.0)], ACTIVE)
    out = eng.advance(ACTIVE)
    # ... then c-3's earlier order @40 (30 USD) arrives (within grace of its minute).
    report = eng.ingest([make_order(40, "o-4", "c-3", 30.0)], ACTIVE)
    assert report.late == []
    snaps = Snapshots(out + eng.advance(IDLE, T0) + eng.flush(T0))
    assert snaps("new_customer_orders", "5m", 0) == 1  # o-4 only
    assert snaps("orders", "5m", 0) == 2
    assert snaps("aov", "5m", 0, new_vs_returning="new") == 30  # o-4: 30 / 1
    assert snaps("aov", "5m", 0, new_vs_returning="returning") == 10  # o-5: 10 / 1
    assert snaps("new_customer_orders", "1m", 0) == 1  # o-4 @40
    assert snaps("new_customer_orders", "1m", 60) == 0  # o-5 @100: +1 then -1
    assert snaps("aov", "1m", 60, new_vs_returning="returning") == 10
    # o-5 never counts as new in the end: its minute has no "new" breakdown, exactly as
    # when the two orders arrive in time order.
    assert snaps.get("aov", "1m", 60, new_vs_returning="new") is None


def test_unknown_currency_is_rejected_as_a_dead_letter():
    eng = engine(fx_rates=FX)
    report = eng.ingest([make_order(10, "o-9", "c-9", 10.0, currency="GBP"),
                         make_order(20, "o-1", "c-1", 5.0)], ACTIVE)
    assert [r.reason for r in report.rejected] == ["bad_value:currency"]
    rejection = report.rejected[0]
    assert (rejection.topic, rejection.partition) == ("shop.orders", 0)
    assert "GBP" in rejection.detail
    snaps = Snapshots(eng.flush(T0))
    assert snaps("orders", "1m", 0) == 1  # o-1 only
    assert snaps("revenue", "1m", 0) == 5


def test_order_with_no_products_has_zero_cogs_and_full_margin():
    snaps = compute([make_order(10, "o-1", "c-1", 25.0)], fx_rates=FX)
    assert snaps("cogs", "1m", 0) == 0
    assert snaps("gross_margin", "1m", 0) == 1.0  # (25 - 0) / 25


def test_zero_revenue_gives_no_gross_margin_and_no_value_for_aov_of_nothing():
    snaps = compute([make_order(10, "o-1", "c-1", 0.0, costs=((0.0, 1),))], fx_rates=FX)
    assert snaps("revenue", "1m", 0) == 0
    assert snaps("aov", "1m", 0) == 0  # 0 / 1 order
    record = snaps.get("gross_margin", "1m", 0)
    assert (record["value"], record["numerator"], record["denominator"]) == (None, 0, 0)  # 0 / 0
