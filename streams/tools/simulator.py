"""Seeded storefront model that emits ShopPulse input events in event-time order.

Pure Python, no Kafka: `generate()` yields `(topic, key, cloudevent)` tuples that
follow `contract/events.md`. One discrete-event loop drives everything: actions
(a session's next page, an agent's reply, an hourly report) sit in a heap keyed by
simulated time and each action emits events at its own time and schedules the next.

Properties the rest of the project relies on:

- Same arguments, same output (ids included): the id namespace is derived from
  (`seed`, `start_s`), so two live runs never collide in the dedup store.
- Output order is by *arrival* time. Mobile SDKs flush a few seconds late, so an
  event's `time` may lie up to `MAX_DISORDER_S` before the previous event's `time`;
  it never lies more than 5 s back on any topic.
- The core streams (clickstream, orders, chat, support) do not depend on `feeds`:
  feed events use their own random generator and id counter.
"""
from __future__ import annotations

import bisect
import hashlib
import heapq
import itertools
import math
import random
import time
from collections import Counter
from typing import Any, Callable, Iterator

from schemas.catalog import CATALOG, CHAT, CLICKSTREAM, MARKETING, OPERATIONS, ORDERS, SUPPORT

CORE_TOPICS = (CLICKSTREAM, ORDERS, CHAT, SUPPORT)
FEED_TOPICS = (MARKETING, CATALOG, OPERATIONS)
ALL_TOPICS = CORE_TOPICS + FEED_TOPICS

# Partitions when the tools create a topic before the worker does (the worker's default).
DEFAULT_PARTITIONS = dict.fromkeys(ALL_TOPICS, 4)

MAX_DISORDER_S = 3.0      # app SDK flush delay; the duplicate delay adds at most 1 s
SESSION_POOL_MAX = 50_000  # visitors remembered for returning sessions
CUSTOMER_POOL_MAX = 50_000

Emitted = tuple[float, str, "str | None", dict]  # (arrival_s, topic, key, event)


def generate(seed: int, start_s: float, duration_s: float, sessions_per_s: float, *,
             feeds: bool = False, duplicate_share: float = 0.0,
             ) -> Iterator[tuple[str, str | None, dict]]:
    """Yield `(topic, key, event)` for `[start_s, start_s + duration_s)`.

    `duration_s` may be `math.inf`. `duplicate_share` re-sends that share of core
    events unchanged (at-least-once delivery) and re-sends some orders under a new
    event id (a retried webhook), to exercise dedup.
    """
    for _arrival, topic, key, event in generate_timed(
            seed, start_s, duration_s, sessions_per_s, feeds=feeds,
            duplicate_share=duplicate_share):
        yield topic, key, event


def generate_timed(seed: int, start_s: float, duration_s: float, sessions_per_s: float,
                   *, feeds: bool = False, duplicate_share: float = 0.0,
                   ) -> Iterator[Emitted]:
    """Like `generate`, with each event's arrival time (seconds) first.

    Arrival times are non-decreasing; a real-time writer sleeps until them.
    """
    if sessions_per_s <= 0:
        raise ValueError("sessions_per_s must be positive")
    store = Storefront(seed, start_s, sessions_per_s, feeds=feeds,
                       duplicate_share=duplicate_share)
    return store.run(start_s + duration_s)


def rfc3339(t: float) -> str:
    """Format epoch seconds as RFC 3339 UTC with milliseconds."""
    sec, milli = divmod(int(t * 1000 + 0.5), 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{milli:03d}Z"


# --------------------------------------------------------------------------- catalog

CATEGORIES = (  # (name, products, median USD price)
    ("apparel", 120, 35.0), ("shoes", 60, 85.0), ("electronics", 50, 140.0),
    ("home", 70, 45.0), ("beauty", 50, 24.0), ("sports", 30, 55.0), ("toys", 20, 30.0),
)
FX_USD_PER = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27}
PRICE_BOOK = {"USD": 1.0, "EUR": 0.96, "GBP": 0.82}  # list price factor vs USD
LOCATIONS = ("us-east", "eu-central")


class Product:
    __slots__ = ("product_id", "sku", "category", "price_usd", "cost_ratio", "related", "prices")

    def __init__(self, product_id: str, sku: str, category: str, price_usd: float,
                 cost_ratio: float):
        self.product_id = product_id
        self.sku = sku
        self.category = category
        self.cost_ratio = cost_ratio
        self.related: list[Product] = []
        self.set_price(price_usd)

    def set_price(self, price_usd: float) -> None:
        self.price_usd = price_usd
        # Charm prices per currency book; cost follows the list price ratio.
        self.prices = {cur: (round(price_usd, 2) if cur == "USD"
                             else max(0.99, math.floor(price_usd * f) + 0.99))
                       for cur, f in PRICE_BOOK.items()}

    def unit_cost(self, currency: str) -> float:
        return round(self.prices[currency] * self.cost_ratio, 2)

    def as_data(self, currency: str) -> dict:
        return {"product_id": self.product_id, "sku": self.sku, "category": self.category,
                "price": self.prices[currency], "currency": currency}


def build_catalog(rng: random.Random) -> list[Product]:
    products: list[Product] = []
    n = 1000
    for category, count, median in CATEGORIES:
        group = []
        for _ in range(count):
            n += 1
            price = round(median * rng.lognormvariate(0.0, 0.45), 0) - 0.01
            p = Product(f"P{n}", f"{category[:3].upper()}-{n}-{rng.choice('SMLKBW')}",
                        category, max(4.99, price), rng.uniform(0.3, 0.62))
            group.append(p)
        for p in group:
            p.related = rng.sample(group, 6)
        products.extend(group)
    rng.shuffle(products)  # popularity rank is the shuffled position
    return products


# --------------------------------------------------------------------------- traffic

SOCIAL_SITES = ("facebook", "instagram", "tiktok", "twitter", "x", "linkedin", "pinterest",
                "youtube", "reddit")

# (weight, kind, source, medium, campaign names, referrer or None, ad platform or None)
TRAFFIC = (
    (18.0, "direct", None, None, (), None, None),
    (16.0, "organic_search", None, None, (), "https://www.google.com/", None),
    (1.5, "organic_search", None, None, (), "https://www.google.de/", None),
    (2.5, "organic_search", None, None, (), "https://www.bing.com/", None),
    (1.0, "organic_search", None, None, (), "https://duckduckgo.com/", None),
    (0.7, "organic_search", None, None, (), "https://search.yahoo.com/", None),
    (0.5, "organic_search", None, None, (), "https://www.baidu.com/", None),
    (0.8, "organic_search", "google", "organic", ("seo",), "https://www.google.com/", None),
    (10.0, "paid_search", "google", "cpc", ("brand_search", "generic_search", "pmax_all"),
     "https://www.google.com/", "google_ads"),
    (2.5, "paid_search", "bing", "cpc", ("brand_search",), "https://www.bing.com/",
     "microsoft_ads"),
    (4.5, "paid_social", "facebook", "cpc", ("prospecting", "retargeting"),
     "https://m.facebook.com/", "meta_ads"),
    (2.0, "paid_social", "instagram", "cpc", ("prospecting", "reels_q"),
     "https://l.instagram.com/", "meta_ads"),
    (1.5, "paid_social", "tiktok", "ppc", ("spark_ads",), None, "tiktok_ads"),
    (2.5, "display", "gdn", "display", ("remarketing",), None, "google_ads"),
    (1.5, "display", "criteo", "cpm", ("dynamic_retargeting",), None, "criteo"),
    (2.0, "affiliate", "aff-1042", "affiliate", ("partner_program",), "https://www.dealfinder.example/", None),
    (1.5, "affiliate", "aff-2210", "affiliate", ("partner_program",), "https://www.cashbackhub.example/", None),
    (1.0, "affiliate", "aff-3307", "affiliates", ("partner_program",), None, None),
    (0.5, "affiliate", "aff-5120", "affiliate", ("coupon_sites",), None, None),
    (6.0, "email", "newsletter", "email", ("weekly_digest", "spring_sale", "welcome_series"),
     "https://mail.google.com/", None),
    (1.0, "email", "klaviyo", "e-mail", ("abandoned_cart",), None, None),
    (3.0, "sms", "sms", "sms", ("flash_sale", "back_in_stock"), None, None),
    (2.0, "organic_social", "instagram", "social", ("ugc_reels",), "https://l.instagram.com/", None),
    (1.0, "organic_social", "pinterest", "social-network", ("pins",), None, None),
    (1.5, "organic_social", None, None, (), "https://m.facebook.com/", None),
    (1.0, "organic_social", None, None, (), "https://www.reddit.com/r/BuyItForLife/", None),
    (3.0, "referral", None, None, (), "https://www.techgearblog.example/best-picks-2024", None),
    (1.5, "referral", None, None, (), "https://t.co/x4AbC9", None),
    (1.0, "referral", "partner_site", "referral", ("brand_collab",), "https://www.partner.example/", None),
    (0.7, "other", "flyer", "qr", ("store_flyer",), None, None),
    (0.3, "other", "podcast", "audio", ("sponsor_read",), None, None),
)
TRAFFIC_CUM = list(itertools.accumulate(t[0] for t in TRAFFIC))

SEARCH_TERMS = ("running shoes", "wireless earbuds", "linen shirt", "yoga mat", "desk lamp",
                "gift ideas", "shoppulse store", "vegan leather bag")
BOUNCE_P = {"direct": 0.34, "organic_search": 0.46, "paid_search": 0.40, "paid_social": 0.55,
            "display": 0.62, "affiliate": 0.30, "email": 0.30, "sms": 0.34,
            "organic_social": 0.55, "referral": 0.45, "other": 0.50}
BUYER_P = {"direct": 0.05, "organic_search": 0.03, "paid_search": 0.045, "paid_social": 0.02,
           "display": 0.012, "affiliate": 0.055, "email": 0.07, "sms": 0.06,
           "organic_social": 0.015, "referral": 0.025, "other": 0.02}
LANDING = {  # kind -> (page types, weights)
    "direct": (("home", "product", "other"), (70, 22, 8)),
    "organic_search": (("blog", "product", "category", "home"), (25, 40, 20, 15)),
    "paid_search": (("product", "category", "search"), (60, 32, 8)),
    "paid_social": (("product", "category"), (85, 15)),
    "display": (("home", "product"), (40, 60)),
    "affiliate": (("product", "category"), (80, 20)),
    "email": (("category", "product", "home"), (45, 35, 20)),
    "sms": (("product", "category"), (70, 30)),
    "organic_social": (("product", "blog"), (70, 30)),
    "referral": (("blog", "product", "home"), (35, 50, 15)),
    "other": (("home", "other"), (80, 20)),
}
BROWSE_PAGES = ("product", "category", "search", "home", "blog", "other")
BROWSE_CUM = list(itertools.accumulate((52, 20, 10, 6, 7, 5)))

DEVICES = (("desktop", 45), ("mobile", 47), ("tablet", 8))
COUNTRIES = (("US", 38), ("GB", 10), ("DE", 10), ("FR", 7), ("CA", 5), ("JP", 5), ("AU", 4),
             ("CN", 4), ("BR", 4), ("IN", 3), ("ES", 3), ("IT", 3), ("NL", 2), ("MX", 2))
EUROZONE = {"DE", "FR", "ES", "IT", "NL"}
TAX_RATE = {"US": 0.07, "GB": 0.20, "DE": 0.19, "FR": 0.20, "ES": 0.21, "IT": 0.22,
            "NL": 0.21, "CA": 0.13, "AU": 0.10, "JP": 0.10}
SITE = "https://shop.example.com"


def _cum(pairs) -> tuple[tuple, list[float]]:
    values = tuple(v for v, _ in pairs)
    return values, list(itertools.accumulate(w for _, w in pairs))


DEVICE_VALUES, DEVICE_CUM = _cum(DEVICES)
COUNTRY_VALUES, COUNTRY_CUM = _cum(COUNTRIES)


class Visitor:
    __slots__ = ("anonymous_id", "device", "source", "country", "currency", "customer_id",
                 "busy_until", "orders")

    def __init__(self, anonymous_id: str, device: str, source: str, country: str,
                 customer_id: str | None):
        self.anonymous_id = anonymous_id
        self.device = device
        self.source = source
        self.country = country
        self.currency = ("GBP" if country == "GB" else "EUR" if country in EUROZONE else "USD")
        self.customer_id = customer_id
        self.busy_until = 0.0
        self.orders = 0


class Session:
    __slots__ = ("session_id", "visitor", "customer_id", "kind", "campaign", "platform",
                 "base", "prev_url", "page", "on_product", "pages_left", "buyer", "will_order",
                 "cart_id", "cart", "last_product", "views_to_add", "done_adding", "chat_step",
                 "step", "checkout_id", "ordered", "app")


class Storefront:
    """The simulation state and its event loop. Use `generate()` instead of this."""

    def __init__(self, seed: int, start_s: float, sessions_per_s: float, *,
                 feeds: bool = False, duplicate_share: float = 0.0):
        self.rng = random.Random(seed)
        self.frng = random.Random(f"feeds:{seed}")
        self.start_s = start_s
        self.rate = sessions_per_s
        self.feeds = feeds
        self.duplicate_share = duplicate_share
        self.ns = hashlib.blake2b(f"{seed}:{start_s:.3f}".encode(), digest_size=4).hexdigest()
        self.now = start_s
        self._heap: list = []
        self._seq = itertools.count()
        self._out: list[Emitted] = []
        self._event_n = itertools.count(1)
        self._feed_n = itertools.count(1)
        self._ids = Counter()
        self._fmt_sec = -1
        self._fmt_prefix = ""
        self.catalog = build_catalog(self.rng)
        self.catalog_cum = list(itertools.accumulate(1.0 / (i + 1) ** 0.9
                                                     for i in range(len(self.catalog))))
        self.visitors: list[Visitor] = []
        self.customers: list[str] = []
        self.customer_currency: dict[str, str] = {}
        # Read (never written) by the feeds: what the storefront did per hour.
        self.paid_clicks: Counter = Counter()        # (platform, campaign) -> sessions
        self.affiliate_revenue_usd = 0.0
        self.units_sold: Counter = Counter()         # (sku, location) -> units
        self._schedule_core()
        if feeds:
            FeedModel(self).schedule()

    # ------------------------------------------------------------------ event loop

    def run(self, end_s: float) -> Iterator[Emitted]:
        heap = self._heap
        pop = heapq.heappop
        while heap and heap[0][0] < end_s:
            key, _, fn, arg = pop(heap)
            self.now = key
            if fn is None:
                yield arg
                continue
            fn(arg)
            if self._out:
                out, self._out = self._out, []
                yield from out

    def at(self, t: float, fn: Callable[[Any], None], arg: Any = None) -> None:
        heapq.heappush(self._heap, (t, next(self._seq), fn, arg))

    def clock(self, t: float) -> str:
        sec, milli = divmod(int(t * 1000 + 0.5), 1000)
        if sec != self._fmt_sec:
            self._fmt_sec = sec
            self._fmt_prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        return f"{self._fmt_prefix}.{milli:03d}Z"

    def emit(self, topic: str, source: str, etype: str, data: dict, key: str | None,
             delay_s: float = 0.0, *, feed: bool = False) -> dict:
        """Build one CloudEvent at the current time; it arrives `delay_s` later."""
        n = next(self._feed_n) if feed else next(self._event_n)
        event = {"specversion": "1.0", "id": f"{self.ns}-{'feed-' if feed else ''}{n:x}",
                 "source": source, "type": etype, "time": self.clock(self.now), "data": data}
        self._deliver(self.now + delay_s, topic, key, event)
        if not feed and self.duplicate_share and self.rng.random() < self.duplicate_share:
            self._deliver(self.now + delay_s + self.rng.uniform(0.05, 1.0), topic, key, event)
        return event

    def _deliver(self, arrival: float, topic: str, key: str | None, event: dict) -> None:
        if arrival <= self.now:
            self._out.append((arrival, topic, key, event))
        else:
            heapq.heappush(self._heap, (arrival, next(self._seq), None,
                                        (arrival, topic, key, event)))

    def new_id(self, prefix: str) -> str:
        self._ids[prefix] += 1
        return f"{prefix}-{self.ns}-{self._ids[prefix]}"

    # ------------------------------------------------------------------ schedule

    def _schedule_core(self) -> None:
        r, t0 = self.rng, self.start_s
        self.at(t0 + r.expovariate(self.rate), self._session_start)
        self.at(t0 + r.expovariate(self.rate * 0.008), self._ticket_background)
        self.at(t0 + r.expovariate(self.rate * 0.002), self._chat_offsite)
        self.at(t0 + r.expovariate(self.rate * 0.0015), self._order_offsite)
        self.at(t0 + r.expovariate(self.rate * 0.002), self._nps_background)
        self.at(t0 + r.expovariate(1 / 600), self._reprice)

    def pick_product(self) -> Product:
        r = self.rng.random() * self.catalog_cum[-1]
        return self.catalog[bisect.bisect(self.catalog_cum, r)]

    def _remember_customer(self, customer_id: str, currency: str) -> None:
        if customer_id in self.customer_currency:
            return
        self.customer_currency[customer_id] = currency
        if len(self.customers) < CUSTOMER_POOL_MAX:
            self.customers.append(customer_id)
        else:
            old_i = self.rng.randrange(CUSTOMER_POOL_MAX)
            self.customer_currency.pop(self.customers[old_i], None)
            self.customers[old_i] = customer_id

    # ------------------------------------------------------------------ visitors

    def _pick_visitor(self) -> tuple[Visitor, bool]:
        r = self.rng
        if self.visitors and r.random() < 0.3:
            v = self.visitors[r.randrange(len(self.visitors))]
            if v.busy_until <= self.now:
                return v, True
        device = DEVICE_VALUES[bisect.bisect(DEVICE_CUM, r.random() * DEVICE_CUM[-1])]
        country = COUNTRY_VALUES[bisect.bisect(COUNTRY_CUM, r.random() * COUNTRY_CUM[-1])]
        x = r.random()
        if device == "desktop":
            source = "web"
        elif device == "mobile":
            source = "web" if x < 0.65 else "ios" if x < 0.85 else "android"
        else:
            source = "web" if x < 0.7 else "ios"
        customer_id = self.new_id("c") if r.random() < 0.12 else None
        v = Visitor(self.new_id("a"), device, source, country, customer_id)
        if len(self.visitors) < SESSION_POOL_MAX:
            self.visitors.append(v)
        else:
            self.visitors[r.randrange(SESSION_POOL_MAX)] = v
        return v, False

    # ------------------------------------------------------------------ sessions

    def _session_start(self, _: Any) -> None:
        r = self.rng
        self.at(self.now + r.expovariate(self.rate), self._session_start)
        v, returning = self._pick_visitor()
        tr = TRAFFIC[bisect.bisect(TRAFFIC_CUM, r.random() * TRAFFIC_CUM[-1])]
        _, kind, source, medium, names, referrer, platform = tr
        s = Session()
        s.session_id = self.new_id("s")
        s.visitor = v
        s.app = v.source != "web"
        logged_p = 0.9 if s.app else 0.6
        s.customer_id = v.customer_id if v.customer_id and r.random() < logged_p else None
        s.kind = kind
        s.campaign = None
        s.platform = None
        if source is not None:
            name = names[r.randrange(len(names))]
            if r.random() < 0.05:  # hand-typed UTM tags come in any case
                medium = medium.upper() if r.random() < 0.5 else medium.capitalize()
            s.campaign = {"source": source, "medium": medium, "name": name}
            if medium.lower() in ("cpc", "ppc"):
                s.campaign["term"] = SEARCH_TERMS[r.randrange(len(SEARCH_TERMS))]
                s.campaign["content"] = f"ad-{r.randrange(100, 999)}"
            if platform:
                s.platform = platform
                self.paid_clicks[(platform, name)] += 1
        s.prev_url = None if s.app else referrer
        s.base = SITE if not s.app else None
        s.cart_id = None
        s.cart = []
        s.last_product = None
        s.checkout_id = None
        s.ordered = False
        s.done_adding = False
        s.step = 0
        buyer_p = BUYER_P[kind] * (1.8 if v.orders else 1.0)
        s.buyer = r.random() < buyer_p * (0.75 if v.device == "mobile" else 1.0)
        s.will_order = s.buyer and r.random() < 0.78
        s.views_to_add = 1 + int(r.expovariate(0.6))
        bounce = not s.buyer and r.random() < BOUNCE_P[kind]
        s.chat_step = -1
        if not bounce and r.random() < 0.06:
            s.chat_step = r.randint(1, 4)
        s.pages_left = 0 if bounce else 1 + int(r.expovariate(0.25))
        types, weights = LANDING[kind]
        page_type = r.choices(types, weights)[0]
        v.busy_until = math.inf
        self._page_view(s, page_type, first=True)
        if bounce:
            v.busy_until = self.now
            return
        self.at(self.now + self._gap(s), self._session_step, s)

    def _gap(self, s: Session) -> float:
        g = self.rng.lognormvariate(3.0 if not s.app else 2.6, 1.0)  # median 20 s / 13 s
        return 1.5 if g < 1.5 else 1200.0 if g > 1200.0 else g

    def _base_data(self, s: Session, page: dict) -> dict:
        v = s.visitor
        data = {"anonymous_id": v.anonymous_id, "session_id": s.session_id,
                "device": v.device, "country": v.country, "page": page}
        if s.customer_id:
            data["customer_id"] = s.customer_id
        return data

    def _page(self, s: Session, page_type: str, path: str) -> dict:
        page = {"path": path, "type": page_type}
        if s.base is not None:
            url = s.base + path
            page["url"] = url
            if s.prev_url:
                page["referrer"] = s.prev_url
            s.prev_url = url
        return page

    def _page_view(self, s: Session, page_type: str, path: str | None = None,
                   first: bool = False) -> None:
        r = self.rng
        product = None
        if path is not None:
            pass
        elif page_type == "product":
            last = s.last_product
            product = (last.related[r.randrange(6)] if last is not None and r.random() < 0.6
                       else self.pick_product())
            path = f"/p/{product.product_id}"
        elif page_type == "category":
            path = f"/c/{CATEGORIES[r.randrange(len(CATEGORIES))][0]}"
        elif page_type == "search":
            path = "/search?q=" + SEARCH_TERMS[r.randrange(len(SEARCH_TERMS))].replace(" ", "+")
        elif page_type == "home":
            path = "/"
        elif page_type == "blog":
            path = f"/blog/post-{r.randrange(1, 80)}"
        elif page_type == "cart":
            path = "/cart"
        elif page_type == "checkout":
            path = "/checkout"
        else:
            path = ("/pages/shipping", "/pages/returns", "/pages/about", "/account")[r.randrange(4)]
        s.page = self._page(s, page_type, path)
        data = self._base_data(s, s.page)
        if first and s.campaign is not None:
            data["campaign"] = s.campaign
        s.on_product = product is not None
        if product is not None:
            s.views_to_add -= 1
            s.last_product = product
            data["product"] = product.as_data(s.visitor.currency)
            self._click(s, "product_viewed", data)
        else:
            self._click(s, "page_viewed", data)

    def _click(self, s: Session, etype: str, data: dict) -> None:
        delay = 0.0
        if s.app and self.rng.random() < 0.3:
            delay = self.rng.uniform(0.1, MAX_DISORDER_S)
        self.emit(CLICKSTREAM, s.visitor.source, etype, data, s.session_id, delay)

    def _session_step(self, s: Session) -> None:
        r = self.rng
        s.step += 1
        if s.step == s.chat_step:
            self._chat_in_session(s)
        if s.cart and s.checkout_id is None and (
                (s.buyer and (s.done_adding or s.pages_left <= 0))
                or (not s.buyer and r.random() < 0.06)):
            self._checkout(s)
            return
        if (s.on_product and s.checkout_id is None
                and all(p is not s.last_product for p, _ in s.cart)
                and ((s.buyer and s.views_to_add <= 0) or (not s.buyer and r.random() < 0.07))):
            self._add_to_cart(s)
            self.at(self.now + self._gap(s), self._session_step, s)
            return
        shopping = s.buyer and s.checkout_id is None
        if s.pages_left <= 0 and not shopping:
            s.visitor.busy_until = self.now
            return
        s.pages_left -= 1
        if s.cart and r.random() < 0.12:
            self._page_view(s, "cart")
            if r.random() < 0.3 and (len(s.cart) >= 2 or not s.buyer):
                self._remove_from_cart(s)
        elif shopping and s.pages_left <= 0 and not s.cart:
            s.views_to_add = 0  # about to leave: the buyer picks something now
            self._page_view(s, "product")
        else:
            self._page_view(
                s, BROWSE_PAGES[bisect.bisect(BROWSE_CUM, r.random() * BROWSE_CUM[-1])])
        self.at(self.now + self._gap(s), self._session_step, s)

    def _add_to_cart(self, s: Session) -> None:
        r = self.rng
        if s.cart_id is None:
            s.cart_id = self.new_id("cart")
        product = s.last_product
        qty = 1 if r.random() < 0.82 else r.randint(2, 3)
        s.cart.append((product, qty))
        self._click(s, "product_added", self._cart_data(s, product, qty))
        if r.random() < 0.35:
            s.views_to_add = r.randint(1, 3)  # keeps shopping for another item
        else:
            s.done_adding = True

    def _remove_from_cart(self, s: Session) -> None:
        product, qty = s.cart.pop(self.rng.randrange(len(s.cart)))
        self._click(s, "product_removed", self._cart_data(s, product, qty))

    def _cart_data(self, s: Session, product: Product, qty: int) -> dict:
        data = self._base_data(s, dict(s.page))
        data["cart_id"] = s.cart_id
        item = product.as_data(s.visitor.currency)
        item["quantity"] = qty
        data["product"] = item
        return data

    def _checkout(self, s: Session) -> None:
        r = self.rng
        cur = s.visitor.currency
        s.checkout_id = self.new_id("chk")
        self._page_view(s, "checkout")
        data = self._base_data(s, dict(s.page))
        data.update(cart_id=s.cart_id, checkout_id=s.checkout_id,
                    value=round(sum(p.prices[cur] * q for p, q in s.cart), 2), currency=cur)
        self._click(s, "checkout_started", data)
        if s.will_order:
            self.at(self.now + r.uniform(25.0, 240.0), self._order, s)
        else:
            s.pages_left = r.randint(0, 2)
            s.buyer = False
            self.at(self.now + self._gap(s), self._session_step, s)

    # ------------------------------------------------------------------ orders

    def _order(self, s: Session) -> None:
        r = self.rng
        v = s.visitor
        if v.customer_id is None:
            v.customer_id = self.new_id("c")  # checkout creates the account
        s.customer_id = v.customer_id
        s.ordered = True
        v.orders += 1
        affiliation = s.campaign["source"] if s.kind == "affiliate" else None
        coupon = s.campaign["name"].upper() + "10" if (
            s.kind in ("email", "sms") and r.random() < 0.5) else None
        order = self._order_data(s.cart, v.currency, v.customer_id, v.country, coupon)
        order.update(checkout_id=s.checkout_id, anonymous_id=v.anonymous_id,
                     session_id=s.session_id)
        if affiliation:
            order["affiliation"] = affiliation
            self.affiliate_revenue_usd += order["revenue"] * FX_USD_PER[v.currency]
        self._emit_order(order)
        self._page_view(s, "checkout", "/checkout/thank-you")
        s.pages_left = r.randint(0, 2) if r.random() < 0.4 else 0
        self.at(self.now + self._gap(s), self._session_step, s)

    def _order_data(self, cart: list, currency: str, customer_id: str, country: str,
                    coupon: str | None) -> dict:
        products = [{"product_id": p.product_id, "sku": p.sku, "category": p.category,
                     "price": p.prices[currency], "quantity": q,
                     "cost": p.unit_cost(currency)} for p, q in cart]
        gross = sum(p["price"] * p["quantity"] for p in products)
        discount = round(gross * 0.1, 2) if coupon else 0.0
        revenue = round(gross - discount, 2)
        shipping = 0.0 if revenue >= 50 else {"USD": 5.99, "EUR": 4.95, "GBP": 3.99}[currency]
        order = {"order_id": self.new_id("o"), "customer_id": customer_id, "currency": currency,
                 "revenue": revenue, "shipping": shipping,
                 "tax": round(revenue * TAX_RATE.get(country, 0.0), 2), "discount": discount,
                 "country": country, "products": products}
        if coupon:
            order["coupon"] = coupon
        return order

    def _emit_order(self, order: dict) -> None:
        r = self.rng
        self._remember_customer(order["customer_id"], order["currency"])
        self.emit(ORDERS, "erp", "order_completed", order, order["order_id"])
        if self.duplicate_share and r.random() < self.duplicate_share:
            self.emit(ORDERS, "erp", "order_completed", dict(order), order["order_id"], 0.5)
        location = LOCATIONS[1] if order["currency"] != "USD" else LOCATIONS[0]
        for p in order["products"]:
            self.units_sold[(p["sku"], location)] += p["quantity"]
        x = r.random()
        if x < 0.02:
            self.at(self.now + r.uniform(60.0, 3600.0), self._cancel, order)
        elif x < 0.09:
            quick = r.random() < 0.3
            delay = r.uniform(900.0, 6 * 3600.0) if quick else r.uniform(86400.0, 14 * 86400.0)
            self.at(self.now + delay, self._refund, order)
        if r.random() < 0.12:
            survey = "csat" if r.random() < 0.6 else "nps"
            self.at(self.now + r.uniform(300.0, 86400.0), self._survey,
                    (survey, "purchase", order["customer_id"], None, 0))
        if r.random() < 0.05:
            self.at(self.now + r.expovariate(1 / 7200.0), self._ticket_create,
                    (order["customer_id"], None))

    def _cancel(self, order: dict) -> None:
        self.emit(ORDERS, "erp", "order_cancelled", {"order_id": order["order_id"]},
                  order["order_id"])

    def _refund(self, order: dict) -> None:
        r = self.rng
        products = order["products"]
        if len(products) > 1 and r.random() < 0.6:
            p = products[r.randrange(len(products))]
            amount = p["price"]
        else:
            amount = round(order["revenue"] + (order["shipping"] if r.random() < 0.5 else 0), 2)
        self.emit(ORDERS, "erp", "order_refunded",
                  {"order_id": order["order_id"], "amount": amount,
                   "currency": order["currency"]}, order["order_id"])

    def _order_offsite(self, _: Any) -> None:
        """Marketplace and phone orders: no session, known customers."""
        r = self.rng
        self.at(self.now + r.expovariate(self.rate * 0.0015), self._order_offsite)
        if self.customers and r.random() < 0.5:
            customer_id = self.customers[r.randrange(len(self.customers))]
            currency = self.customer_currency[customer_id]
        else:
            customer_id, currency = self.new_id("c"), "USD"
        country = {"USD": "US", "EUR": "DE", "GBP": "GB"}[currency]
        cart = [(self.pick_product(), 1) for _ in range(r.randint(1, 2))]
        order = self._order_data(cart, currency, customer_id, country, None)
        order["affiliation"] = "marketplace"
        self._emit_order(order)

    def _reprice(self, _: Any) -> None:
        r = self.rng
        self.at(self.now + r.expovariate(1 / 600), self._reprice)
        p = self.catalog[r.randrange(len(self.catalog))]
        new_price = max(4.99, round(p.price_usd * r.uniform(0.85, 1.12), 0) - 0.01)
        p.set_price(new_price)
        if self.feeds:
            self.emit(CATALOG, "pim", "price_changed",
                      {"sku": p.sku, "price": p.prices["USD"], "currency": "USD"},
                      p.sku, feed=True)

    # ------------------------------------------------------------------ chat

    def _chat_in_session(self, s: Session) -> None:
        r = self.rng
        v = s.visitor
        pre_sales = not s.ordered and r.random() < (0.8 if not v.orders else 0.5)
        if pre_sales and not s.buyer and r.random() < 0.25:
            s.buyer = True  # a good pre-sales answer converts
            s.will_order = r.random() < 0.85
            s.views_to_add = 0
        data = {"conversation_id": self.new_id("conv"), "initiator": "visitor",
                "channel": "web_chat", "intent": "pre_sales" if pre_sales else "support",
                "anonymous_id": v.anonymous_id, "session_id": s.session_id}
        if r.random() < 0.05:  # proactive invitations open some chats
            data["initiator"] = "bot" if r.random() < 0.6 else "agent"
        if v.customer_id:
            data["customer_id"] = v.customer_id
        self._chat_open(data)

    def _chat_offsite(self, _: Any) -> None:
        r = self.rng
        self.at(self.now + r.expovariate(self.rate * 0.002), self._chat_offsite)
        channel = r.choices(("whatsapp", "messenger", "other"), (55, 35, 10))[0]
        data = {"conversation_id": self.new_id("conv"), "initiator": "visitor",
                "channel": channel,
                "intent": r.choices(("support", "pre_sales", "other"), (60, 25, 15))[0]}
        if self.customers and r.random() < 0.6:
            data["customer_id"] = self.customers[r.randrange(len(self.customers))]
        if r.random() < 0.1:
            del data["intent"]  # older widgets send no intent
        self._chat_open(data)

    def _chat_open(self, data: dict) -> None:
        r = self.rng
        conv = data["conversation_id"]
        self.emit(CHAT, "livechat", "chat_started", data, conv)
        t = self.now
        script: list[tuple[float, str]] = []
        if data["initiator"] != "visitor":
            script.append((t + 0.2, data["initiator"]))
        t += r.uniform(2.0, 20.0)
        script.append((t, "visitor"))
        if r.random() < 0.4:
            t += r.uniform(1.0, 5.0)
            script.append((t, "bot"))
        answered = r.random() < 0.88
        if answered:
            t += min(900.0, max(5.0, r.lognormvariate(3.6, 0.9)))  # median ~37 s
            script.append((t, "agent"))
            for _ in range(r.randint(0, 6)):
                t += r.uniform(8.0, 90.0)
                script.append((t, "visitor" if script[-1][1] == "agent" else "agent"))
        t += r.uniform(20.0, 300.0)
        for when, author in script:
            self.at(when, self._chat_message, (conv, author))
        self.at(t, self._chat_end, (data, answered))

    def _chat_message(self, arg: tuple[str, str]) -> None:
        conv, author = arg
        self.emit(CHAT, "livechat", "chat_message",
                  {"conversation_id": conv, "author": author}, conv)

    def _chat_end(self, arg: tuple[dict, bool]) -> None:
        data, answered = arg
        conv = data["conversation_id"]
        self.emit(CHAT, "livechat", "chat_ended", {"conversation_id": conv}, conv)
        r = self.rng
        if (not answered and r.random() < 0.5) or (
                data.get("intent") == "support" and r.random() < 0.15):
            self._ticket_create((data.get("customer_id"), "chat"))

    # ------------------------------------------------------------------ support

    def _ticket_background(self, _: Any) -> None:
        r = self.rng
        self.at(self.now + r.expovariate(self.rate * 0.008), self._ticket_background)
        customer_id = None
        if self.customers and r.random() < 0.7:
            customer_id = self.customers[r.randrange(len(self.customers))]
        elif r.random() < 0.8:
            customer_id = self.new_id("c")
        self._ticket_create((customer_id, None))

    def _ticket_create(self, arg: tuple[str | None, str | None]) -> None:
        r = self.rng
        customer_id, channel = arg
        ticket_id = self.new_id("t")
        channel = channel or r.choices(
            ("email", "web_form", "chat", "phone", "social", "marketplace", "other"),
            (40, 20, 8, 10, 9, 9, 4))[0]
        priority = r.choices(("low", "normal", "high", "urgent"), (20, 55, 20, 5))[0]
        data = {"ticket_id": ticket_id, "channel": channel, "priority": priority}
        if customer_id:
            data["customer_id"] = customer_id
        if r.random() < 0.04:
            del data["priority"]  # defaults to normal
        self.emit(SUPPORT, "zendesk", "ticket_created", data, ticket_id)
        self._ticket_script(ticket_id, customer_id, priority, self.now)

    def _ticket_script(self, ticket_id: str, customer_id: str | None, priority: str,
                       t: float) -> None:
        """Schedule a ticket's life: replies, escalations, resolution, survey, reopen."""
        r = self.rng
        steps: list[tuple[float, str, Any]] = []
        if r.random() < 0.3:
            steps.append((t + r.uniform(5.0, 60.0), "reply", ("bot", True)))
        median = {"urgent": 180.0, "high": 480.0, "normal": 1200.0, "low": 2700.0}[priority]
        first = t + max(30.0, median * r.lognormvariate(0.0, 0.8))
        if r.random() < 0.1:
            steps.append((t + (first - t) * r.uniform(0.2, 0.8), "reply", ("agent", False)))
        steps.append((first, "reply", ("agent", True)))
        t = first
        escalated = False
        for _ in range(r.choices((0, 1, 2, 3), (40, 35, 15, 10))[0]):
            t += r.uniform(300.0, 3600.0)
            steps.append((t, "reply", ("customer", True)))
            t += max(60.0, median * r.lognormvariate(0.0, 0.7))
            steps.append((t, "reply", ("agent", True)))
        if r.random() < 0.12:
            escalated = True
            t += r.uniform(60.0, 1800.0)
            steps.append((t, "escalate", 2))
            if r.random() < 0.2:
                t += r.uniform(600.0, 7200.0)
                steps.append((t, "escalate", 3))
        if r.random() < 0.88:
            t += r.lognormvariate(math.log(1800.0), 0.9)
            steps.append((t, "resolve", None))
            if r.random() < 0.35:
                score = self._csat_score(escalated)
                steps.append((t + r.uniform(120.0, 7200.0), "survey",
                              ("csat", "support", customer_id, ticket_id, score)))
            if r.random() < 0.08:
                t += max(1200.0, r.lognormvariate(math.log(3 * 3600.0), 1.0))
                steps.append((t, "reopen", None))
                t += max(60.0, median * r.lognormvariate(0.0, 0.7))
                steps.append((t, "reply", ("agent", True)))
                t += r.uniform(300.0, 7200.0)
                steps.append((t, "resolve", None))
        for when, what, arg in steps:
            if what == "survey":
                self.at(when, self._survey, arg)
            else:
                self.at(when, self._ticket_event, (ticket_id, what, arg))

    def _csat_score(self, escalated: bool) -> int:
        weights = (15, 12, 15, 25, 33) if escalated else (7, 5, 10, 25, 53)
        return self.rng.choices((1, 2, 3, 4, 5), weights)[0]

    def _ticket_event(self, arg: tuple[str, str, Any]) -> None:
        ticket_id, what, extra = arg
        if what == "reply":
            author, public = extra
            data = {"ticket_id": ticket_id, "author": author}
            if not public or self.rng.random() < 0.5:
                data["public"] = public
            self.emit(SUPPORT, "zendesk", "ticket_replied", data, ticket_id)
        elif what == "escalate":
            self.emit(SUPPORT, "zendesk", "ticket_escalated",
                      {"ticket_id": ticket_id, "to_tier": extra}, ticket_id)
        elif what == "resolve":
            self.emit(SUPPORT, "zendesk", "ticket_resolved", {"ticket_id": ticket_id}, ticket_id)
        else:
            self.emit(SUPPORT, "zendesk", "ticket_reopened", {"ticket_id": ticket_id}, ticket_id)

    def _survey(self, arg: tuple) -> None:
        survey, touchpoint, customer_id, ticket_id, score = arg
        r = self.rng
        if survey == "nps":
            score = r.choices(range(11), (3, 2, 2, 3, 3, 5, 7, 13, 17, 20, 25))[0]
        elif not score:
            score = self._csat_score(False)
        data: dict[str, Any] = {"survey": survey, "score": score, "touchpoint": touchpoint}
        if ticket_id:
            data["ticket_id"] = ticket_id
        if customer_id:
            data["customer_id"] = customer_id
        source = "zendesk" if touchpoint == "support" else "surveys"
        self.emit(SUPPORT, source, "survey_responded", data, ticket_id or customer_id)

    def _nps_background(self, _: Any) -> None:
        r = self.rng
        self.at(self.now + r.expovariate(self.rate * 0.002), self._nps_background)
        customer_id = self.customers[r.randrange(len(self.customers))] if self.customers else None
        self._survey(("nps", "other", customer_id, None, 0))


# =========================================================================== feeds

AD_KIND = {"google_ads": "search", "microsoft_ads": "search", "meta_ads": "social",
           "tiktok_ads": "social", "criteo": "display"}
AD_CAMPAIGNS = {
    "google_ads": ("brand_search", "generic_search", "pmax_all", "remarketing"),
    "microsoft_ads": ("brand_search",),
    "meta_ads": ("prospecting", "retargeting", "reels_q"),
    "tiktok_ads": ("spark_ads",),
    "criteo": ("dynamic_retargeting",),
}
EMAIL_CAMPAIGNS = ("weekly_digest", "spring_sale", "welcome_series", "abandoned_cart")
SOCIAL_PLATFORMS = ("instagram", "tiktok", "facebook")
COMPETITORS = ("amazon", "walmart", "zalando", "target")
LINES = (("pack-1", 20.0), ("pack-2", 24.0), ("kitting", 45.0))
CREWS = (("crew-a", 8), ("crew-b", 6))
OPS_PERIOD_S = 900.0
HOUR_S = 3600.0
DAY_S = 86400.0


class FeedModel:
    """Marketing, catalog and operations feeds, driven by the storefront's loop.

    Uses its own random generator; only reads storefront state (paid clicks, units
    sold, prices) so the core streams are the same with or without feeds.
    """

    def __init__(self, store: Storefront):
        self.s = store
        self.r = store.frng
        self.contacts = [f"ct-{store.ns}-{i}" for i in range(1, 4001)]
        self.sms_contacts: list[str] = [f"sms-{store.ns}-{i}" for i in range(1, 801)]
        self.inventory: dict[tuple[str, str], int] = {}
        self.competitor: dict[str, list[str]] = {}
        self.followers = {p: self.r.randint(40_000, 250_000) for p in SOCIAL_PLATFORMS}
        self.fx = {"EUR": FX_USD_PER["EUR"], "GBP": FX_USD_PER["GBP"]}
        self.by_sku = {p.sku: p for p in store.catalog}
        self.email_n = 0
        self.work_order_n = 0
        self.review_n = 0
        self.incident_n = 0

    def emit(self, topic: str, source: str, etype: str, data: dict, key: str | None) -> None:
        self.s.emit(topic, source, etype, data, key, feed=True)

    def schedule(self) -> None:
        s, r, t0 = self.s, self.r, self.s.start_s
        s.at(t0, self._snapshot)
        next_hour = (t0 // HOUR_S + 1) * HOUR_S
        s.at(next_hour, self._hourly, next_hour)
        s.at((t0 // DAY_S + 1) * DAY_S, self._daily)
        s.at((t0 // OPS_PERIOD_S + 1) * OPS_PERIOD_S, self._ops_period)
        s.at(t0 + 60.0, self._email_campaign)
        for name, _cycle in LINES:
            s.at(t0 + r.uniform(60.0, 1500.0), self._work_order_done,
                 (name, t0 - r.uniform(300.0, 1200.0)))
        self._poisson(self._email_subscribe, s.rate * 0.01)
        self._poisson(self._email_unsubscribe, s.rate * 0.0008)
        self._poisson(self._sms_subscribe, s.rate * 0.003)
        self._poisson(self._sms_unsubscribe, s.rate * 0.001)
        self._poisson(self._review, s.rate * 0.004)
        self._poisson(self._compliance_incident, 1 / 2400.0)

    def _poisson(self, fn: Callable[[], None], rate_per_s: float) -> None:
        def tick(_: Any) -> None:
            fn()
            self.s.at(self.s.now + self.r.expovariate(rate_per_s), tick)
        self.s.at(self.s.now + self.r.expovariate(rate_per_s), tick)

    def _period(self, start: float, end: float) -> dict:
        return {"period_start": rfc3339(start), "period_end": rfc3339(end)}

    # ------------------------------------------------------------------ periodic

    def _snapshot(self, _: Any) -> None:
        """What a fresh connector sync sends first: rates, prices, stock, market."""
        r = self.r
        self._fx()
        for p in self.s.catalog:
            self.emit(CATALOG, "pim", "price_changed",
                      {"sku": p.sku, "price": p.prices["USD"], "currency": "USD"}, p.sku)
        for i, p in enumerate(self.s.catalog):
            for loc in LOCATIONS:
                stock = 0 if r.random() < 0.03 else int(r.uniform(5, 400) / (1 + i / 150))
                self.inventory[(p.sku, loc)] = stock
            self.competitor[p.sku] = r.sample(COMPETITORS, r.randint(1, 3))
        self._inventory()
        self._competitor_prices(1.0)
        self._market_size(self.s.now // DAY_S * DAY_S)

    def _hourly(self, hour_end: float) -> None:
        s = self.s
        s.at(hour_end + HOUR_S, self._hourly, hour_end + HOUR_S)
        hour_start = hour_end - HOUR_S
        self._ad_reports(hour_start, hour_end)
        self._spend_reports(hour_start, hour_end)
        self._social(hour_start, hour_end)
        self._fx()
        self._restock()
        self._inventory()
        self._competitor_prices(0.1)

    def _daily(self, _: Any) -> None:
        self.s.at(self.s.now + DAY_S, self._daily)
        self._market_size(self.s.now)

    def _ad_reports(self, start: float, end: float) -> None:
        r, clicks_seen = self.r, self.s.paid_clicks
        for platform, campaigns in AD_CAMPAIGNS.items():
            kind = AD_KIND[platform]
            for campaign in campaigns:
                sessions = clicks_seen.pop((platform, campaign), 0)
                clicks = int(sessions * r.uniform(1.05, 1.3))  # some clicks never load
                ctr = {"search": (0.03, 0.07), "social": (0.008, 0.016),
                       "display": (0.002, 0.005)}[kind]
                impressions = int(max(clicks, 1) / r.uniform(*ctr)) + r.randint(0, 50)
                cpc = {"search": (0.6, 1.9), "social": (0.4, 1.2), "display": (0.2, 0.7)}[kind]
                data = {"platform": platform, "campaign_id": campaign,
                        "impressions": impressions, "clicks": clicks,
                        "cost": round(clicks * r.uniform(*cpc), 2), "currency": "USD",
                        **self._period(start, end)}
                if kind == "search":
                    data["avg_position"] = round(r.uniform(1.1, 2.9), 2)
                    data["top_impressions"] = int(impressions * r.uniform(0.35, 0.8))
                self.emit(MARKETING, "ads", "ad_performance_reported", data, campaign)

    def _spend_reports(self, start: float, end: float) -> None:
        r, s = self.r, self.s
        spend = {"affiliate": (round(s.affiliate_revenue_usd * 0.08, 2), "USD"),
                 "email": (round(r.uniform(4.0, 6.0), 2), "USD"),
                 "sms": (round(r.uniform(8.0, 16.0), 2), "USD"),
                 "influencer": (round(r.uniform(20.0, 60.0), 2), "EUR")}
        s.affiliate_revenue_usd = 0.0
        for channel, (amount, currency) in spend.items():
            self.emit(MARKETING, "finance", "marketing_spend_reported",
                      {"channel": channel, "amount": amount, "currency": currency,
                       **self._period(start, end)}, channel)

    def _social(self, start: float, end: float) -> None:
        r = self.r
        for platform in SOCIAL_PLATFORMS:
            self.followers[platform] += r.randint(-20, 120)
            reach = r.randint(2_000, 30_000)
            likes = int(reach * r.uniform(0.01, 0.06))
            self.emit(MARKETING, "social", "social_stats_reported",
                      {"platform": platform, "account": "@shoppulse",
                       "followers": self.followers[platform], "likes": likes,
                       "comments": int(likes * r.uniform(0.02, 0.1)),
                       "shares": int(likes * r.uniform(0.02, 0.15)),
                       "saves": int(likes * r.uniform(0.01, 0.2)), "reach": reach,
                       **self._period(start, end)}, platform)

    def _fx(self) -> None:
        r = self.r
        for cur in self.fx:
            self.fx[cur] = round(self.fx[cur] * r.uniform(0.998, 1.002), 5)
            self.emit(CATALOG, "fx", "fx_rate_reported",
                      {"base": cur, "quote": "USD", "rate": self.fx[cur]}, f"{cur}USD")

    def _restock(self) -> None:
        r = self.r
        for key, units in list(self.s.units_sold.items()):
            self.inventory[key] = max(0, self.inventory.get(key, 0) - units)
        self.s.units_sold.clear()
        for key, available in self.inventory.items():
            if available < 10 and r.random() < 0.25:
                self.inventory[key] = available + r.randint(100, 400)

    def _inventory(self) -> None:
        by_sku = self.by_sku
        for (sku, loc), available in self.inventory.items():
            self.emit(CATALOG, "wms", "inventory_reported",
                      {"sku": sku, "location": loc, "available": available,
                       "category": by_sku[sku].category}, sku)

    def _competitor_prices(self, share: float) -> None:
        r = self.r
        for p in self.s.catalog:
            if share < 1.0 and r.random() >= share:
                continue
            for competitor in self.competitor[p.sku]:
                self.emit(CATALOG, "pricing", "competitor_price_observed",
                          {"sku": p.sku, "competitor": competitor,
                           "price": round(p.price_usd * r.uniform(0.85, 1.15), 2),
                           "currency": "USD"}, p.sku)

    def _market_size(self, day_start: float) -> None:
        r = self.r
        daily_revenue = self.s.rate * DAY_S * 0.03 * 90.0  # sessions x conversion x AOV
        for category, count, median in CATEGORIES:
            share = count * median / sum(c * m for _, c, m in CATEGORIES)
            value = daily_revenue * share / r.uniform(0.01, 0.03)
            self.emit(CATALOG, "research", "market_size_reported",
                      {"segment": category, "value": round(value, -2), "currency": "USD",
                       **self._period(day_start, day_start + DAY_S)}, category)

    # ------------------------------------------------------------------ email, sms, reviews

    def _email_campaign(self, _: Any) -> None:
        s, r = self.s, self.r
        s.at(s.now + 4 * HOUR_S, self._email_campaign)
        campaign = EMAIL_CAMPAIGNS[self.email_n % len(EMAIL_CAMPAIGNS)]
        self.email_n += 1
        size = min(len(self.contacts), int(100 * s.rate) + 50)
        for i, contact in enumerate(r.sample(self.contacts, size)):
            s.at(s.now + i * 0.05, self._email_delivered, (campaign, contact))

    def _email_delivered(self, arg: tuple[str, str]) -> None:
        s, r = self.s, self.r
        campaign, contact = arg
        self.emit(MARKETING, "esp", "email_delivered",
                  {"campaign_id": campaign, "contact_id": contact}, contact)
        if r.random() < 0.24:
            opened = s.now + r.lognormvariate(math.log(900.0), 1.2)
            s.at(opened, self._email_event, ("email_opened", campaign, contact))
            if r.random() < 0.12:  # reopened later; only the first open counts
                s.at(opened + r.uniform(60.0, 7200.0), self._email_event,
                     ("email_opened", campaign, contact))
            if r.random() < 0.14:
                s.at(opened + r.uniform(3.0, 120.0), self._email_event,
                     ("email_clicked", campaign, contact))
            if r.random() < 0.015:
                s.at(opened + r.uniform(5.0, 60.0), self._email_event,
                     ("email_unsubscribed", campaign, contact))

    def _email_event(self, arg: tuple[str, str, str]) -> None:
        etype, campaign, contact = arg
        data = {"contact_id": contact}
        if etype != "email_unsubscribed":
            data["campaign_id"] = campaign
        self.emit(MARKETING, "esp", etype, data, contact)

    def _email_subscribe(self) -> None:
        contact = f"ct-{self.s.ns}-{len(self.contacts) + 1}"
        self.contacts.append(contact)
        self.emit(MARKETING, "esp", "email_subscribed", {"contact_id": contact}, contact)

    def _email_unsubscribe(self) -> None:
        contact = self.contacts[self.r.randrange(len(self.contacts))]
        self.emit(MARKETING, "esp", "email_unsubscribed", {"contact_id": contact}, contact)

    def _sms_subscribe(self) -> None:
        contact = f"sms-{self.s.ns}-{len(self.sms_contacts) + 1}"
        self.sms_contacts.append(contact)
        self.emit(MARKETING, "sms", "sms_subscribed", {"contact_id": contact}, contact)

    def _sms_unsubscribe(self) -> None:
        contact = self.sms_contacts[self.r.randrange(len(self.sms_contacts))]
        self.emit(MARKETING, "sms", "sms_unsubscribed", {"contact_id": contact}, contact)

    def _review(self) -> None:
        r = self.r
        p = self.s.catalog[int(r.paretovariate(1.2)) % len(self.s.catalog)]
        self.review_n += 1
        self.emit(MARKETING, "reviews", "product_reviewed",
                  {"product_id": p.product_id, "review_id": f"rv-{self.s.ns}-{self.review_n}",
                   "rating": r.choices((1, 2, 3, 4, 5), (9, 6, 10, 25, 50))[0],
                   "category": p.category}, p.product_id)

    # ------------------------------------------------------------------ operations

    def _ops_period(self, _: Any) -> None:
        s, r = self.s, self.r
        end = s.now
        s.at(end + OPS_PERIOD_S, self._ops_period)
        period = self._period(end - OPS_PERIOD_S, end)
        for line, cycle in LINES:
            run = OPS_PERIOD_S * r.uniform(0.7, 0.96)
            total = int(run / cycle * r.uniform(0.8, 0.97))
            self.emit(OPERATIONS, "mes", "line_status_reported",
                      {"line": line, "planned_s": OPS_PERIOD_S, "run_s": round(run, 1),
                       "ideal_cycle_s": cycle, "units_total": total,
                       "units_good": int(total * r.uniform(0.95, 0.995)), **period}, line)
        for crew, size in CREWS:
            scheduled = size * OPS_PERIOD_S
            standard = int(scheduled / 60.0)
            actual = int(standard * r.uniform(0.8, 1.05))
            self.emit(OPERATIONS, "mes", "labor_reported",
                      {"crew": crew, "scheduled_s": scheduled,
                       "productive_s": round(scheduled * r.uniform(0.75, 0.92), 1),
                       "units_actual": actual, "units_standard": standard,
                       "units_good": int(actual * r.uniform(0.96, 0.995)), **period}, crew)

    def _work_order_done(self, arg: tuple[str, float]) -> None:
        s, r = self.s, self.r
        line, started_at = arg
        cycle = dict(LINES)[line]
        self.work_order_n += 1
        started = int((s.now - started_at) * 0.85 / cycle)
        first_pass = int(started * r.uniform(0.9, 0.99))
        good = min(started, first_pass + int((started - first_pass) * r.uniform(0.3, 0.9)))
        self.emit(OPERATIONS, "mes", "work_order_completed",
                  {"work_order_id": f"wo-{s.ns}-{self.work_order_n}", "line": line,
                   "started_at": rfc3339(started_at), "units_started": started,
                   "units_good_first_pass": first_pass, "units_good": good}, line)
        next_start = s.now + r.uniform(30.0, 300.0)
        s.at(next_start + r.uniform(900.0, 2700.0), self._work_order_done, (line, next_start))

    def _compliance_incident(self) -> None:
        r = self.r
        self.incident_n += 1
        incident = f"inc-{self.s.ns}-{self.incident_n}"
        self.emit(OPERATIONS, "ehs", "compliance_incident",
                  {"incident_id": incident,
                   "category": r.choice(("safety", "quality", "environmental",
                                         "data_privacy", "labor")),
                   "severity": r.choices(("low", "medium", "high", "critical"),
                                         (50, 30, 15, 5))[0]}, incident)
