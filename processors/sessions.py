"""Sessions: the 30-minute inactivity rule, session attributes, and session-scoped measures."""
from __future__ import annotations

import bisect
import math
from functools import lru_cache
from typing import TYPE_CHECKING

from schemas.events import Event

from .aggregates import MICROS, UNKNOWN
from .channels import SEARCH_ENGINES, SOCIAL_SITES, classify_channel, referrer_host
from .rankings import PAIR_SEPARATOR
from .registry import SESSION
from .state import TrackedStore
from .windows import floor_to

if TYPE_CHECKING:
    from .engine import KpiEngine

INF = math.inf
PAGE_VIEW_TYPES = ("page_viewed", "product_viewed")
CLICK_TYPES = ("page_viewed", "product_viewed", "product_added", "product_removed", "checkout_started")
PPC_CHANNELS = ("paid_search", "paid_social")
DIRECT, OTHER = "(direct)", "other"
# A session remembers at most this many of its earliest events (by time) for time on page
# and product-to-product transitions; what lies beyond is left out of those two KPIs.
MAX_SESSION_EVENTS = 500

# Session record (a plain dict, persisted as JSON):
#   start, last       first and last event time of the session (s)
#   anon, cust        anonymous_id, customer_id
#   channel, device, country, source   attributes of the first event
#   pv                {bucket_start: page views in that bucket}
#   bpv               {bucket_start: page_viewed of blog pages in that bucket}
#   npv               page views in total
#   cart, checkout    saw product_added / checkout_started
#   ev                the earliest MAX_SESSION_EVENTS events, sorted: [time] for other clicks,
#                     [time, page type] for page_viewed, [time, page type, product_id] for
#                     product_viewed (tuples in memory: the garbage collector skips them)
# Pending record (orders and pre-sales chats that name a session; the session takes
# them when it closes):  {"o": [[time, revenue_micros, currency], ...], "c": [[time, chat_channel], ...]}


def session_attributes(event: Event) -> dict:
    data = event.data
    page = data.get("page") or {}
    campaign = data.get("campaign") or {}
    referrer = page.get("referrer")
    return {
        "channel": classify_channel(campaign, referrer),
        "device": data.get("device") or UNKNOWN,
        "country": data.get("country") or UNKNOWN,
        "source": str(campaign.get("source") or referrer_host(referrer) or DIRECT).lower(),
        "anon": data["anonymous_id"],
        "cust": data.get("customer_id"),
    }


@lru_cache(maxsize=4096)  # a pure function of a few recurring sources
def source_label(source: str, tracked: frozenset[str]) -> str:
    """A bounded label for a traffic source (campaign source or referrer host).

    "(direct)" and configured sources stay as they are; a name containing a search engine
    or social site (as the channel rules read them) becomes that site ("www.google.de" ->
    "google"); anything else is "other", so the label set never grows with the traffic.
    """
    if source == DIRECT or source in tracked:
        return source
    labels = source.split(".")
    for site in SEARCH_ENGINES + SOCIAL_SITES:
        if (site in labels) if len(site) == 1 else (site in source):
            return site
    return OTHER


class SessionTracker:
    def __init__(self, engine: KpiEngine):
        self.engine = engine
        self.timeout_s = engine.config.session_timeout_s
        self.max_s = engine.config.session_max_s
        self.sessions = TrackedStore("sessions")
        self.pending = TrackedStore("pending")
        self.visitors = TrackedStore("visitors")  # anonymous_id -> [first session start, its session_id]
        self.tracked_sources = frozenset(s.lower() for s in engine.config.tracked_sources)
        # Indexes rebuilt from the stores (not persisted): sessions by the minute they are
        # due to close, and open session starts / pending chats by bucket (the floor that
        # holds session-scoped windows open).
        self._due_minute: dict[str, int] = {}
        self._by_due_minute: dict[int, set[str]] = {}
        self._open_floor: dict[int, int] = {}
        self._guard_s = self.timeout_s + engine.config.max_grace_s
        self._max_guard_s = self.max_s + engine.config.max_grace_s
        self._last_orphan_scan = -INF
        self._last_bucket, self._last_bucket_name = None, ""

    def stores(self) -> list[TrackedStore]:
        return [self.sessions, self.pending, self.visitors]

    def handlers(self):
        return {t: self.on_click for t in CLICK_TYPES}

    def after_load(self) -> None:
        for sid, session in self.sessions.items():
            if session.get("ev"):
                session["ev"] = [tuple(entry) for entry in session["ev"]]  # stored as JSON arrays
            self._schedule(sid, session)
            self._count_floor(session["start"], 1)
        for record in self.pending.data.values():
            for chat in record["c"]:
                self._count_floor(chat[0], 1)

    # ------------------------------------------------------------- indexes
    def _schedule(self, sid: str, session: dict) -> None:
        due = min(session["last"] + self._guard_s, session["start"] + self._max_guard_s)
        minute = int(due // 60)
        old = self._due_minute.get(sid)
        if old == minute:
            return
        by_minute = self._by_due_minute
        if old is not None:
            others = by_minute[old]
            others.discard(sid)
            if not others:  # `close_due` reads every minute held here
                del by_minute[old]
        self._due_minute[sid] = minute
        sids = by_minute.get(minute)
        if sids is None:
            by_minute[minute] = {sid}
        else:
            sids.add(sid)

    def _unschedule(self, sid: str) -> None:
        minute = self._due_minute.pop(sid, None)
        if minute is not None:
            bucket = self._by_due_minute.get(minute)
            bucket.discard(sid)
            if not bucket:
                del self._by_due_minute[minute]

    def _count_floor(self, t: float, delta: int) -> None:
        bucket = floor_to(t, self.engine.bucket_s)
        count = self._open_floor.get(bucket, 0) + delta
        if count:
            self._open_floor[bucket] = count
        else:
            self._open_floor.pop(bucket, None)

    # ---------------------------------------------------------- click events
    def on_click(self, event: Event) -> None:
        data, t = event.data, event.time_s
        sid = data["session_id"]
        session = self.sessions.data.get(sid)
        if session is not None:
            if t > session["last"] + self.timeout_s or t >= session["start"] + self.max_s:
                self.close(sid, session)
                session = None
            elif t < session["start"] - self.timeout_s:
                # Belongs to an earlier visit under the same id that is already closed.
                self.engine.mark_late(self.engine.sizes)
                return
        if session is None:
            if self._late_everywhere(t):
                return
            session = {"start": t, "last": t, "pv": {}, "bpv": {}, "npv": 0, "cart": False, "checkout": False,
                       "ev": [], **session_attributes(event)}
            self.sessions[sid] = session
            self._count_floor(t, 1)
            self._note_start(sid, session)
        else:
            if t < session["start"]:
                if self._late_everywhere(t):
                    # Moving the start there would drop the whole session at close.
                    return
                self._count_floor(session["start"], -1)
                self._count_floor(t, 1)
                session["start"] = t
                session.update(session_attributes(event))
                self._note_start(sid, session)
            if t > session["last"]:
                session["last"] = t
            self.sessions.touch(sid)
        self._schedule(sid, session)
        kind = event.type
        # What the session remembers of the click: see `ev` in the session record above.
        if kind in PAGE_VIEW_TYPES:
            page_type = (data.get("page") or {}).get("type") or "other"
            if kind == "product_viewed":
                self._remember(session, (t, page_type, str(data["product"]["product_id"])))
            else:
                self._remember(session, (t, page_type))
            bucket = self._bucket_name(t)
            pv = session["pv"]
            pv[bucket] = pv.get(bucket, 0) + 1
            session["npv"] += 1
            if kind == "page_viewed" and (data.get("page") or {}).get("type") == "blog":
                blog = session.setdefault("bpv", {})
                blog[bucket] = blog.get(bucket, 0) + 1
        else:
            self._remember(session, (t,))
            if kind == "product_added":
                session["cart"] = True
            elif kind == "checkout_started":
                session["checkout"] = True

    def _bucket_name(self, t: float) -> str:
        """The bucket of `t` as a session record key (the last one is kept: clicks come in time order)."""
        bucket = floor_to(t, self.engine.bucket_s)
        if bucket != self._last_bucket:
            self._last_bucket, self._last_bucket_name = bucket, str(bucket)
        return self._last_bucket_name

    @staticmethod
    def _remember(session: dict, entry: tuple) -> None:
        """Keep the earliest MAX_SESSION_EVENTS events in time order, whatever the arrival order."""
        events = session.get("ev")
        if events is None:
            events = session["ev"] = []
        bisect.insort(events, entry)
        if len(events) > MAX_SESSION_EVENTS:
            events.pop()

    def _late_everywhere(self, t: float) -> bool:
        """Report the click late for the final windows a session starting at `t` would miss.

        True when every window of `t` is final (the click cannot start a session). When only
        some are, the session still counts in the larger windows that are open.
        """
        late = self.engine.late_sizes(SESSION, t)
        if late:
            self.engine.mark_late(late)
        return len(late) == len(self.engine.sizes)

    def _note_start(self, sid: str, session: dict) -> None:
        anon, start = session["anon"], session["start"]
        first = self.visitors.get(anon)
        if first is None or (start, sid) < (first[0], first[1]):
            self.visitors[anon] = (start, sid)  # a tuple: the garbage collector skips it

    # ------------------------------------------------- orders and chats join
    def add_pending(self, sid: str, kind: str, item: list) -> None:
        record = self.pending.get(sid)
        if record is None:
            record = self.pending[sid] = {"o": [], "c": []}
        else:
            self.pending.touch(sid)
        record[kind].append(item)
        if kind == "c":
            self._count_floor(item[0], 1)

    def _take_pending(self, sid: str, until: float) -> tuple[list, list]:
        record = self.pending.get(sid)
        if record is None:
            return [], []
        orders = [o for o in record["o"] if o[0] <= until]
        chats = [c for c in record["c"] if c[0] <= until]
        for chat in chats:
            self._count_floor(chat[0], -1)
        record["o"] = [o for o in record["o"] if o[0] > until]
        record["c"] = [c for c in record["c"] if c[0] > until]
        if record["o"] or record["c"]:
            self.pending.touch(sid)
        else:
            self.pending.pop(sid)
        return orders, chats

    # ----------------------------------------------------------- closing
    def close(self, sid: str, session: dict) -> None:
        """Attribute a finished session's measures to the windows they belong to."""
        self.sessions.pop(sid)
        self._unschedule(sid)
        self._count_floor(session["start"], -1)
        engine = self.engine
        orders, chats = self._take_pending(sid, session["last"] + self.timeout_s)
        converted = bool(orders)
        revenue_by_currency: dict[str, int] = {}
        for order in orders:
            currency = order[2] if len(order) > 2 else engine.config.reporting_currency
            revenue_by_currency[currency] = revenue_by_currency.get(currency, 0) + order[1]
        npv = session["npv"]
        bounced = npv == 1 and not session["cart"] and not session["checkout"] and not converted
        first = self.visitors.data.get(session["anon"])
        new_visitor = first is not None and first[0] == session["start"] and first[1] == sid
        channel, start = session["channel"], session["start"]
        dims = {"channel": channel, "device": session["device"], "country": session["country"],
                "source": source_label(session["source"], self.tracked_sources),
                "hour": engine.config.hour_of_day(start)}
        engine.contribute(SESSION, start, dims, {
            "sessions": 1,
            "bounced_sessions": int(bounced),
            "session_page_views": npv,
            "session_duration_s": round(session["last"] - session["start"], 3),
            "converted_sessions": int(converted),
            "cart_sessions": int(session["cart"]),
            "abandoned_cart_sessions": int(session["cart"] and not converted),
            "new_visitor_sessions": int(new_visitor),
            "returning_visitor_sessions": int(not new_visitor),
            "mobile_sessions": int(session["device"] == "mobile"),
            "ppc_sessions": int(channel in PPC_CHANNELS),
            "blog_sessions": int(bool(session.get("bpv"))),
            "visitors": session["anon"],
        })
        for currency, micros in sorted(revenue_by_currency.items()):
            engine.contribute(SESSION, start, dims, {"session_revenue": micros / MICROS}, currency)
        for bucket, count in session["pv"].items():
            engine.contribute(SESSION, float(bucket), dims, {"page_views": count})
        for bucket, count in (session.get("bpv") or {}).items():
            engine.contribute(SESSION, float(bucket), dims, {"blog_page_views": count})
        if channel == "affiliate":
            self._attribute_affiliate(session, converted, revenue_by_currency)
        self._attribute_page_paths(session)
        for chat_time, chat_channel in chats:
            self.resolve_chat(chat_time, chat_channel, converted)

    def _attribute_affiliate(self, session: dict, converted: bool, revenue_by_currency: dict[str, int]) -> None:
        """Affiliate sessions by affiliate: the session's campaign source (or referrer host)."""
        engine, start = self.engine, session["start"]
        dims = {"affiliate": source_label(session["source"], self.tracked_sources)}
        engine.contribute(SESSION, start, dims,
                          {"affiliate_sessions": 1, "affiliate_converted_sessions": int(converted)})
        # A zero in the reporting currency still reports affiliate revenue 0 for the window.
        revenue = sorted(revenue_by_currency.items()) or [(engine.config.reporting_currency, 0)]
        for currency, micros in revenue:
            engine.contribute(SESSION, start, dims, {"affiliate_revenue": micros / MICROS}, currency)

    def _attribute_page_paths(self, session: dict) -> None:
        """Time on page and product-to-product transitions from the time-sorted events.

        Time on page: for each page view followed by another event, the gap to that event,
        attributed to the session start. Transitions: consecutive product views of different
        products, attributed to the time of the second view.
        """
        engine, events = self.engine, session.get("ev", [])
        gaps: dict[str, list[int]] = {}  # page type -> [gap micros, page views timed]
        for this, after in zip(events, events[1:]):
            if len(this) > 1:
                timed = gaps.get(this[1])
                if timed is None:
                    timed = gaps[this[1]] = [0, 0]
                timed[0] += round((after[0] - this[0]) * MICROS)  # to_micros, inlined
                timed[1] += 1
        for page_type, (micros, count) in sorted(gaps.items()):
            engine.contribute(SESSION, session["start"], {"page_type": page_type},
                              {"time_on_page_s": micros / MICROS, "timed_page_views": count})
        views = [e for e in events if len(e) > 2]
        by_bucket: dict[int, dict[str, int]] = {}
        for a, b in zip(views, views[1:]):
            if a[2] != b[2]:
                counts = by_bucket.setdefault(floor_to(b[0], engine.bucket_s), {})
                pair = a[2] + PAIR_SEPARATOR + b[2]
                counts[pair] = counts.get(pair, 0) + 1
        for bucket, counts in sorted(by_bucket.items()):
            engine.contribute(SESSION, float(bucket), {}, {"view_transitions": counts})

    def resolve_chat(self, chat_time: float, chat_channel: str, converted: bool) -> None:
        self.engine.contribute(SESSION, chat_time, {"chat_channel": chat_channel},
                               {"presales_chats": 1, "presales_chats_converted": int(converted)})

    def close_due(self, wm: float) -> None:
        """Close sessions idle past timeout + grace (or past their maximum length); expire orphans."""
        due_minutes = sorted(m for m in self._by_due_minute if m * 60 < wm)
        due = []
        for minute in due_minutes:
            for sid in self._by_due_minute[minute]:
                session = self.sessions[sid]
                if session["last"] + self._guard_s < wm or session["start"] + self._max_guard_s < wm:
                    due.append((session["start"], sid, session))  # (start, sid) is unique
        due.sort()
        for _start, sid, session in due:
            self.close(sid, session)
        if wm - self._last_orphan_scan >= 60 or wm == INF:
            self._last_orphan_scan = wm
            self._expire_orphans(wm)

    def _expire_orphans(self, wm: float) -> None:
        """Orders and chats naming a session that never showed up: resolve them."""
        guard = self._guard_s
        for sid in [sid for sid in self.pending if sid not in self.sessions]:
            record = self.pending[sid]
            orphans_o = [o for o in record["o"] if o[0] + guard < wm]
            orphans_c = [c for c in record["c"] if c[0] + guard < wm]
            if not orphans_o and not orphans_c:
                continue
            self.engine.counters["orders_without_session"] += len(orphans_o)
            for chat_time, chat_channel in orphans_c:
                self._count_floor(chat_time, -1)
                self.resolve_chat(chat_time, chat_channel, False)
            record["o"] = [o for o in record["o"] if o[0] + guard >= wm]
            record["c"] = [c for c in record["c"] if c[0] + guard >= wm]
            if record["o"] or record["c"]:
                self.pending.touch(sid)
            else:
                self.pending.pop(sid)

    def min_pending_time(self) -> float:
        """Earliest bucket an open session or a pending chat can still add to."""
        return min(self._open_floor, default=INF)

    def open_sessions(self) -> int:
        return len(self.sessions)
