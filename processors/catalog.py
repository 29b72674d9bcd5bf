"""Catalog feeds: price position against competitors, stock levels and market size per segment.

Running gauges (competitor price index, inventory) are kept as changes at event time
to cumulative measures: the tracker remembers, per SKU or per (SKU, location), what it
has counted so far, and a new report contributes the difference (old value out, new
value in, moved between categories when the category changes). A window then reports
the sum of every change before its end.

- "Latest" is by event time: a report older than the one kept for the same key is
  ignored (counted in `stale_catalog_reports`); on equal times the larger value wins,
  so the result does not depend on arrival order.
- Competitor price index: per SKU, own price / lowest latest competitor price, for SKUs
  having both. Prices in one currency are compared as they are (exact, no rate needed);
  when currencies differ every price is converted to the reporting currency at the rate
  in force at the change (`fx.rate_at`), so such comparisons follow the fx reports
  seen by then. A SKU's change is counted at the newest time of the prices it uses (and
  never before its previous change), so a late older observation does not go back in time.
- If a change falls only in final windows it is not counted (the event is reported
  late) and the tracker keeps its previous counted value, so the gauges stay the sum
  of what was counted.
- Stock-outs are counted per (SKU, location): by location, the SKUs out of stock
  there; overall, the sum over locations.
- Market size: a report's value is spread over its period in proportion to time and
  contributed hour by hour (at the start of each hour's overlap), so an hourly or daily
  window holds the market size prorated to its length. Slices of hours that ended before
  the report's own time are left out (they would land in windows that may be final). `market_share` is therefore
  reported for 1h and 1d windows only. Periods longer than `MAX_MARKET_PERIOD_S` are
  rejected (they would create too many future buckets).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from schemas.events import Event
from schemas.timestamps import parse_time

from .aggregates import MICROS, UNKNOWN, to_micros
from .registry import EVENT
from .state import TrackedStore
from .windows import floor_to

if TYPE_CHECKING:
    from .engine import KpiEngine

MARKET_SPREAD_S = 3600  # market size is spread over hours
MAX_MARKET_PERIOD_S = 366 * 86400
MAX_COMPETITORS_PER_SKU = 50

# Store shapes:
#   sku_prices:   sku -> {"own": [t, price, currency] | None, "cat": category,
#                         "comp": {competitor: [t, price, currency]},
#                         "counted": {"t": change time, "r": ratio, "cat": category} | None}
#   stock_levels: "sku \x1f location" -> [t, available, category]
SEP = "\x1f"


class CatalogTracker:
    """Turns catalog feed events into changes of running gauges and prorated market sizes."""

    def __init__(self, engine: KpiEngine):
        self.engine = engine
        self.prices = TrackedStore("sku_prices")
        self.stock = TrackedStore("stock_levels")

    def stores(self) -> list[TrackedStore]:
        return [self.prices, self.stock]

    def handlers(self):
        return {
            "price_changed": self.on_price_changed,
            "competitor_price_observed": self.on_competitor_price_observed,
            "inventory_reported": self.on_inventory_reported,
            "market_size_reported": self.on_market_size_reported,
        }

    # ---------------------------------------------------------------- prices
    def _currency_known(self, event: Event) -> bool:
        currency = event.data["currency"]
        if self.engine.fx.known(currency):
            return True
        self.engine.reject(event, "bad_value:currency", f"no exchange rate for {currency}")
        return False

    def _sku(self, sku: str) -> dict:
        entry = self.prices.get(sku)
        if entry is None:
            entry = self.prices[sku] = {"own": None, "cat": UNKNOWN, "comp": {}, "counted": None}
        else:
            self.prices.touch(sku)
        return entry

    def on_price_changed(self, event: Event) -> None:
        if not self._currency_known(event):
            return
        data = event.data
        entry = self._sku(data["sku"])
        price = [event.time_s, float(data["price"]), data["currency"]]
        if not _newer(price, entry["own"]):
            self.engine.counters["stale_catalog_reports"] += 1
            return
        entry["own"] = price
        entry["cat"] = data.get("category") or entry["cat"]
        self._recount_price(entry)

    def on_competitor_price_observed(self, event: Event) -> None:
        if not self._currency_known(event):
            return
        data = event.data
        entry = self._sku(data["sku"])
        competitors, name = entry["comp"], data["competitor"]
        price = [event.time_s, float(data["price"]), data["currency"]]
        if not _newer(price, competitors.get(name)):
            self.engine.counters["stale_catalog_reports"] += 1
            return
        if name not in competitors and len(competitors) >= MAX_COMPETITORS_PER_SKU:
            self.engine.counters["dropped_competitors"] += 1
            return
        competitors[name] = price
        self._recount_price(entry)

    def _recount_price(self, entry: dict) -> None:
        """Contribute the change of this SKU's ratio (and category) to the running sums."""
        old = entry["counted"]
        inputs = ([entry["own"]] if entry["own"] else []) + list(entry["comp"].values())
        t = max([p[0] for p in inputs] + ([old["t"]] if old else []))
        ratio = self._price_ratio(entry, t)
        new = None if ratio is None else {"t": t, "r": round(ratio, 6), "cat": entry["cat"]}
        if _same_count(old, new):
            return
        changes = []
        if old:
            changes.append((old["cat"], -1, old["r"]))
        if new:
            changes.append((new["cat"], 1, new["r"]))
        counted = True
        for category, sign, r in changes:
            counted = self.engine.contribute(EVENT, t, {"category": category}, {
                "price_index_sum": sign * r, "priced_skus": sign, "priced_above_skus": sign * int(r > 1),
            }) and counted
        if counted:
            entry["counted"] = new

    def _price_ratio(self, entry: dict, t: float) -> float | None:
        own, competitors = entry["own"], list(entry["comp"].values())
        if own is None or not competitors:
            return None
        prices = [own] + competitors
        if all(p[2] == own[2] for p in prices):
            values = [p[1] for p in prices]  # one currency: compared as they are
        else:
            rates = [self.engine.fx.rate_at(p[2], t) for p in prices]
            if None in rates:
                return None
            values = [p[1] * rate for p, rate in zip(prices, rates)]
        lowest = min(values[1:])
        return values[0] / lowest if lowest > 0 else None

    # ------------------------------------------------------------- inventory
    def on_inventory_reported(self, event: Event) -> None:
        data = event.data
        key = f"{data['sku']}{SEP}{data['location']}"
        old = self.stock.get(key)
        level = [event.time_s, int(data["available"]), data.get("category") or (old[2] if old else UNKNOWN)]
        if not _newer(level, old):
            self.engine.counters["stale_catalog_reports"] += 1
            return
        t, location = event.time_s, data["location"]
        changes = ([(old[2], -1, old[1])] if old else []) + [(level[2], 1, level[1])]
        counted = True
        for category, sign, available in changes:
            amounts = {"inventory_units": sign * available, "stockout_skus": sign * int(available == 0)}
            counted = self.engine.contribute(EVENT, t, {"location": location, "category": category},
                                             amounts) and counted
        if counted:
            self.stock[key] = level

    # ---------------------------------------------------------------- market
    def on_market_size_reported(self, event: Event) -> None:
        data = event.data
        if not self._currency_known(event):
            return
        start, end = parse_time(data["period_start"]), parse_time(data["period_end"])
        if not 0 < end - start <= MAX_MARKET_PERIOD_S:
            self.engine.reject(event, "bad_value:period_end",
                               f"period must last more than 0 s and at most {MAX_MARKET_PERIOD_S} s")
            return
        dims = {"segment": data["segment"]}
        # Hours that ended before the report was made are history: attributing them would
        # land in windows that may already be final, depending on arrival order.
        current_hour = floor_to(event.time_s, MARKET_SPREAD_S)
        for t, micros in spread(to_micros(float(data["value"])), start, end, MARKET_SPREAD_S):
            if t >= current_hour:
                self.engine.contribute(EVENT, t, dims, {"market_size": micros / MICROS}, currency=data["currency"])


def spread(total_micros: int, start: float, end: float, step_s: int) -> list[tuple[float, int]]:
    """(time, micros) per `step_s`-aligned slice of [start, end), in proportion to its overlap.

    Rounding is cumulative, so the parts add up to `total_micros` exactly.
    """
    parts, done, given = [], 0.0, 0
    slice_start = floor_to(start, step_s)
    length = end - start
    while slice_start < end:
        lo, hi = max(start, slice_start), min(end, slice_start + step_s)
        done += hi - lo
        share = round(total_micros * done / length)
        parts.append((lo, share - given))
        given = share
        slice_start += step_s
    return parts


def _newer(candidate: list, kept: list | None) -> bool:
    """Whether a [time, value, ...] report replaces the kept one: later time, then larger value."""
    return kept is None or (candidate[0], candidate[1]) > (kept[0], kept[1])


def _same_count(old: dict | None, new: dict | None) -> bool:
    if old is None or new is None:
        return old is new
    return old["r"] == new["r"] and old["cat"] == new["cat"]
