"""Builders of decoded events (with the decoder's defaults filled in) and snapshot lookups for engine tests."""
from __future__ import annotations

import datetime as dt
import itertools

from processors.config import EngineConfig
from processors.engine import KpiEngine
from schemas.events import Event

# 2023-11-14T00:00:00Z: a whole day since the epoch (19675 x 86400), so every window size
# used in the tests (1m, 5m, 1h, 1d) starts a window here.
T0 = 1_699_920_000.0

CLICKSTREAM, ORDERS, CHAT, SUPPORT = "shop.clickstream", "shop.orders", "shop.chat", "shop.support"

# Wall clocks for `advance`: 0.0 right after `ingest(..., 0.0)` keeps every partition active
# (watermark = slowest partition); a huge wall clock makes every partition idle (watermark =
# newest event time anywhere). With IDLE pass `emitted_at`: 1e18 s is no printable time.
ACTIVE, IDLE = 0.0, 1e18

_ids = itertools.count(1)
_offsets = itertools.count()


def iso(offset_s: float) -> str:
    """RFC 3339 text of T0 + offset_s, written independently of processors.snapshots."""
    moment = dt.datetime.fromtimestamp(T0 + offset_s, tz=dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def event(type_: str, t: float, data: dict, *, topic: str, source: str = "web",
          id: str | None = None, partition: int = 0) -> Event:
    """An event at T0 + t seconds."""
    return Event(id or f"e{next(_ids)}", source, type_, T0 + t, data, topic, partition, next(_offsets))


# ------------------------------------------------------------------ clickstream
def _click(type_: str, t: float, session: str, anon: str, *, device: str = "desktop",
           country: str | None = "US", campaign: dict | None = None, referrer: str | None = None,
           page_type: str = "other", customer: str | None = None, extra: dict | None = None,
           **kw) -> Event:
    page = {"path": "/", "type": page_type}
    if referrer is not None:
        page["referrer"] = referrer
    data = {"anonymous_id": anon, "session_id": session, "device": device, "page": page}
    if country is not None:
        data["country"] = country
    if campaign is not None:
        data["campaign"] = campaign
    if customer is not None:
        data["customer_id"] = customer
    data.update(extra or {})
    return event(type_, t, data, topic=CLICKSTREAM, **kw)


def make_page_view(t: float, session: str, anon: str, **kw) -> Event:
    return _click("page_viewed", t, session, anon, **kw)


def make_product_view(t: float, session: str, anon: str, **kw) -> Event:
    product = {"product_id": "p-1", "currency": "USD", "price": 10.0}
    return _click("product_viewed", t, session, anon, extra={"product": product}, **kw)


def make_add(t: float, session: str, anon: str, **kw) -> Event:
    product = {"product_id": "p-1", "currency": "USD", "price": 10.0, "quantity": 1}
    return _click("product_added", t, session, anon, extra={"cart_id": f"cart-{session}", "product": product}, **kw)


def make_checkout(t: float, session: str, anon: str, **kw) -> Event:
    extra = {"cart_id": f"cart-{session}", "checkout_id": f"co-{session}"}
    return _click("checkout_started", t, session, anon, extra=extra, **kw)


# ----------------------------------------------------------------------- orders
def make_order(t: float, order_id: str, customer: str, revenue: float, *, currency: str = "USD",
               costs: tuple[tuple[float, int], ...] = (), session: str | None = None,
               country: str | None = "US", **kw) -> Event:
    """An order_completed; `costs` lists (unit cost, quantity) per product line."""
    data = {"order_id": order_id, "customer_id": customer, "currency": currency, "revenue": revenue,
            "products": [{"product_id": f"p-{i}", "cost": cost, "quantity": qty}
                         for i, (cost, qty) in enumerate(costs)]}
    if session is not None:
        data["session_id"] = session
    if country is not None:
        data["country"] = country
    return event("order_completed", t, data, topic=ORDERS, source=kw.pop("source", "shop"), **kw)


# ------------------------------------------------------------------------- chat
def make_chat_started(t: float, conversation: str, *, initiator: str = "visitor", channel: str = "web_chat",
                      intent: str = "other", session: str | None = None, **kw) -> Event:
    data = {"conversation_id": conversation, "initiator": initiator, "channel": channel, "intent": intent}
    if session is not None:
        data["session_id"] = session
    return event("chat_started", t, data, topic=CHAT, source="chat", **kw)


def make_chat_message(t: float, conversation: str, author: str, **kw) -> Event:
    return event("chat_message", t, {"conversation_id": conversation, "author": author},
                 topic=CHAT, source="chat", **kw)


# ---------------------------------------------------------------------- support
def make_ticket_created(t: float, ticket: str, channel: str = "email", **kw) -> Event:
    return event("ticket_created", t, {"ticket_id": ticket, "channel": channel, "priority": "normal"},
                 topic=SUPPORT, source="helpdesk", **kw)


def make_ticket_replied(t: float, ticket: str, author: str = "agent", public: bool = True, **kw) -> Event:
    return event("ticket_replied", t, {"ticket_id": ticket, "author": author, "public": public},
                 topic=SUPPORT, source="helpdesk", **kw)


def make_ticket_event(type_: str, t: float, ticket: str, **kw) -> Event:
    """ticket_escalated, ticket_resolved or ticket_reopened."""
    return event(type_, t, {"ticket_id": ticket}, topic=SUPPORT, source="helpdesk", **kw)


def make_survey(t: float, survey: str, score: int, touchpoint: str = "support", **kw) -> Event:
    return event("survey_responded", t, {"survey": survey, "score": score, "touchpoint": touchpoint},
                 topic=SUPPORT, source="surveys", **kw)


# -------------------------------------------------------------------- running
def engine(sizes: tuple[int, ...] = (60, 300), kpis=None, **config) -> KpiEngine:
    """An engine; `kpis` replaces the registry (e.g. to lift a KPI's window restriction)."""
    if kpis is None:
        return KpiEngine(EngineConfig(window_sizes_s=sizes, **config))
    return KpiEngine(EngineConfig(window_sizes_s=sizes, **config), kpis)


def compute(events: list[Event], sizes: tuple[int, ...] = (60, 300), kpis=None, **config) -> "Snapshots":
    """Batch use of the engine: ingest everything, then close every session and window."""
    eng = engine(sizes, kpis, **config)
    eng.ingest(events, ACTIVE)
    return Snapshots(eng.advance(IDLE, T0) + eng.flush(T0))


class Snapshots:
    """Final snapshot records indexed by (kpi, window, window start offset, dims)."""

    def __init__(self, records: list[dict]):
        self.records = records
        self.by_key: dict[tuple, dict] = {}
        for r in records:
            key = (r["kpi"], r["window"], r["window_start"], tuple(sorted(r["dims"].items())))
            assert key not in self.by_key, f"snapshot emitted twice: {key}"
            self.by_key[key] = r

    def get(self, kpi: str, window: str, start_offset: float, **dims) -> dict | None:
        return self.by_key.get((kpi, window, iso(start_offset), tuple(sorted(dims.items()))))

    def __call__(self, kpi: str, window: str, start_offset: float, **dims):
        """The value of one snapshot (which must exist)."""
        record = self.get(kpi, window, start_offset, **dims)
        assert record is not None, f"no snapshot {kpi} {window} {iso(start_offset)} {dims}"
        return record["value"]
