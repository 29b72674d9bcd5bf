"""Orders and refunds: money, order dedup, new vs returning customers, baskets, churn and lifetime value."""
from __future__ import annotations

from typing import TYPE_CHECKING

from schemas.events import Event

from .aggregates import MICROS, UNKNOWN, to_micros
from .churn import ChurnTracker
from .rankings import PAIR_SEPARATOR
from .registry import EVENT
from .state import TrackedStore

if TYPE_CHECKING:
    from .engine import KpiEngine

# Order record (kept for the first order of each customer, to move it between "new"
# and "returning" if an earlier order of the same customer arrives later):
#   t, oid, rev (revenue micros, order currency), cogs (micros, order currency), country, currency

# Product affinity: an order contributes the pairs of at most this many of its distinct
# products (the first ones by product_id), i.e. at most 190 pairs per order.
MAX_BASKET_PRODUCTS = 20


class OrderTracker:
    def __init__(self, engine: KpiEngine):
        self.engine = engine
        self.orders_seen = TrackedStore("orders_seen")  # order_id -> [order time, country]
        self.customers = TrackedStore("customers")  # customer_id -> first order record
        # Refunds that arrived before their order (another partition may be behind):
        # order_id -> [[refund time, amount, currency], ...], booked under country "unknown"
        # until the order names its country.
        self.early_refunds = TrackedStore("early_refunds")
        self.churn = ChurnTracker(engine)

    def stores(self) -> list[TrackedStore]:
        return [self.orders_seen, self.customers, self.early_refunds] + self.churn.stores()

    def handlers(self):
        return {"order_completed": self.on_order_completed, "order_refunded": self.on_order_refunded}

    def on_order_completed(self, event: Event) -> None:
        data, t = event.data, event.time_s
        order_id = data["order_id"]
        if order_id in self.orders_seen:
            self.engine.counters["duplicate_orders"] += 1
            return
        currency = data["currency"]
        if not self.engine.fx.known(currency):
            self.engine.reject(event, "bad_value:currency", f"no exchange rate for {currency}")
            return
        cost = sum(float(p.get("cost") or 0) * float(p.get("quantity", 1)) for p in data.get("products") or ())
        self.orders_seen[order_id] = [t, data.get("country") or UNKNOWN]
        self._rebook_early_refunds(order_id, data.get("country") or UNKNOWN)
        # Money stays in the order's currency (micros); windows convert it when reported.
        record = {"t": t, "oid": order_id, "rev": to_micros(float(data["revenue"])), "cogs": to_micros(cost),
                  "country": data.get("country") or UNKNOWN, "currency": currency}
        customer_id = data["customer_id"]
        first = self.customers.get(customer_id)
        is_new = first is None or (t, order_id) < (first["t"], first["oid"])
        if is_new:
            if first is not None:
                # An earlier order arrived after a later one: the later one was counted
                # as new; move it to returning.
                self._count(first, new=True, sign=-1)
                self._count(first, new=False, sign=1)  # (after the retraction, zero sums are dropped)
            self.customers[customer_id] = record
        self._count(record, new=is_new, sign=1, basket=data.get("products") or ())
        self.churn.on_order(customer_id, t)
        session_id = data.get("session_id")
        if session_id:
            self.engine.sessions.add_pending(session_id, "o", [t, record["rev"], currency])

    def _count(self, record: dict, new: bool, sign: int, basket=None) -> None:
        """Contribute an order (sign -1 takes it back); with `basket`, also its products and segments."""
        revenue, cogs = record["rev"] / MICROS, record["cogs"] / MICROS
        dims = {"country": record["country"], "currency": record["currency"],
                "new_vs_returning": "new" if new else "returning", "hour": self.engine.config.hour_of_day(record["t"])}
        amounts = {
            "orders": sign,
            "revenue": sign * revenue,
            "cogs": sign * cogs,
            "gross_profit": sign * (revenue - cogs),
            "new_customer_orders": sign * int(new),
            "returning_customer_orders": sign * int(not new),
            "new_customer_revenue": sign * revenue * int(new),
            "net_revenue": sign * revenue,
            "lifetime_net_revenue": sign * revenue,
            "customers_seen": sign * int(new),  # one per customer, at their first order
        }
        segments = []
        if basket is not None:
            # Basket measures ride along with the order's own contribution (one bucket update).
            amounts.update(basket_pairs(basket))
            (dims["segment"], first), *segments = segment_shares(basket, record["rev"])
            amounts["segment_revenue"] = first / MICROS
        if sign < 0:  # retract() takes the amounts as they were contributed
            self.engine.retract(EVENT, record["t"], dims, {m: -a for m, a in amounts.items()},
                                currency=record["currency"])
        else:
            self.engine.contribute(EVENT, record["t"], dims, amounts, currency=record["currency"])
        for segment, micros in segments:  # an order spanning several product categories
            self.engine.contribute(EVENT, record["t"], {"segment": segment}, {"segment_revenue": micros / MICROS},
                                   currency=record["currency"])

    def on_order_refunded(self, event: Event) -> None:
        """A refund lowers net revenue and lifetime revenue when it is booked (its event time)."""
        data = event.data
        currency = data["currency"]
        if not self.engine.fx.known(currency):
            self.engine.reject(event, "bad_value:currency", f"no exchange rate for {currency}")
            return
        order_id, amount = data["order_id"], float(data["amount"])
        order = self.orders_seen.get(order_id)
        if order is None:
            self.early_refunds[order_id] = self.early_refunds.get(order_id, []) + [[event.time_s, amount, currency]]
        country = order[1] if isinstance(order, list) else UNKNOWN  # orders are kept for a retention period
        self._book_refund(event.time_s, country, amount, currency, sign=1)

    def _book_refund(self, t: float, country: str, amount: float, currency: str, sign: int) -> None:
        """Contribute a refund (sign -1 takes it back)."""
        dims, amounts = {"country": country, "currency": currency}, {"net_revenue": -amount,
                                                                      "lifetime_net_revenue": -amount}
        if sign < 0:
            self.engine.retract(EVENT, t, dims, amounts, currency=currency)
        else:
            self.engine.contribute(EVENT, t, dims, amounts, currency=currency)

    def _rebook_early_refunds(self, order_id: str, country: str) -> None:
        """Move refunds that came before their order from country "unknown" to the order's."""
        for t, amount, currency in self.early_refunds.pop(order_id, None) or ():
            if country != UNKNOWN:
                self._book_refund(t, UNKNOWN, amount, currency, sign=-1)
                self._book_refund(t, country, amount, currency, sign=1)

    def expire(self, horizon: float) -> None:
        for order_id in [k for k, v in self.orders_seen.items() if (v[0] if isinstance(v, list) else v) < horizon]:
            self.orders_seen.pop(order_id)
        for order_id in [k for k, v in self.early_refunds.items() if max(r[0] for r in v) < horizon]:
            self.early_refunds.pop(order_id)  # the order never came: the refunds stay "unknown"
        self.churn.expire(horizon)


def basket_pairs(products) -> dict:
    """Affinity amounts of one order: its distinct products (at most MAX_BASKET_PRODUCTS) and their pairs."""
    ids = sorted({p["product_id"] for p in products})[:MAX_BASKET_PRODUCTS]
    if not ids:
        return {}
    pairs = {f"{a}{PAIR_SEPARATOR}{b}": 1 for i, a in enumerate(ids) for b in ids[i + 1:]}
    return {"affinity_items": dict.fromkeys(ids, 1), "affinity_pairs": pairs}


def segment_shares(products, revenue_micros: int) -> list[tuple[str, int]]:
    """The order's revenue split over product categories in proportion to price x quantity.

    Lines without a price weigh nothing; an order whose lines weigh nothing goes to
    "unknown". Rounding is cumulative, so the shares add up to the revenue exactly.
    """
    weights: dict[str, float] = {}
    for p in products:
        weight = float(p.get("price") or 0) * float(p.get("quantity", 1))
        category = p.get("category") or UNKNOWN
        weights[category] = weights.get(category, 0.0) + weight
    total = sum(weights.values())
    if total <= 0:
        return [(UNKNOWN, revenue_micros)]
    shares, done, given = [], 0.0, 0
    for category in sorted(weights):
        done += weights[category]
        share = round(revenue_micros * done / total)
        shares.append((category, share - given))
        given = share
    return shares
