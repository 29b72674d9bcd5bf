"""Orders: money in the reporting currency, order dedup, new vs returning customers."""
from __future__ import annotations

from typing import TYPE_CHECKING

from schemas.events import Event

from .aggregates import MICROS, UNKNOWN, to_micros
from .registry import EVENT
from .state import TrackedStore

if TYPE_CHECKING:
    from .engine import KpiEngine

# Order record (kept for the first order of each customer, to move it between "new"
# and "returning" if an earlier order of the same customer arrives later):
#   t, oid, rev (revenue micros, order currency), cogs (micros, order currency), country, currency


class OrderTracker:
    def __init__(self, engine: KpiEngine):
        self.engine = engine
        self.orders_seen = TrackedStore("orders_seen")  # order_id -> order time
        self.customers = TrackedStore("customers")  # customer_id -> first order record

    def stores(self) -> list[TrackedStore]:
        return [self.orders_seen, self.customers]

    def handlers(self):
        return {"order_completed": self.on_order_completed}

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
        self.orders_seen[order_id] = t
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
                self._count(first, new=False, sign=1)
            self.customers[customer_id] = record
        self._count(record, new=is_new, sign=1)
        session_id = data.get("session_id")
        if session_id:
            self.engine.sessions.add_pending(session_id, "o", [t, record["rev"], currency])

    def _count(self, record: dict, new: bool, sign: int) -> None:
        revenue, cogs = record["rev"] / MICROS, record["cogs"] / MICROS
        dims = {"country": record["country"], "currency": record["currency"],
                "new_vs_returning": "new" if new else "returning", "hour": self.engine.config.hour_of_day(record["t"])}
        self.engine.contribute(EVENT, record["t"], dims, {
            "orders": sign,
            "revenue": sign * revenue,
            "cogs": sign * cogs,
            "gross_profit": sign * (revenue - cogs),
            "new_customer_orders": sign * int(new),
        }, currency=record["currency"])

    def expire(self, horizon: float) -> None:
        for order_id in [k for k, t in self.orders_seen.items() if t < horizon]:
            self.orders_seen.pop(order_id)
