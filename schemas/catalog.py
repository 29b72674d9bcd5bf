"""The event catalogue: every input event type, its default topic and its field rules, as data.

The decoder (`schemas.checks`, `schemas.decoder`) and the JSON Schema files
(`schemas.generate`) are both built from these definitions, so a rule lives in one place.
Field names and meanings follow contract/events.md; the feed types (marketing, catalog,
operations) are refined here.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

# Default topic names (configurable: see `topic_types`).
CLICKSTREAM = "shop.clickstream"
ORDERS = "shop.orders"
CHAT = "shop.chat"
SUPPORT = "shop.support"
MARKETING = "shop.marketing"
CATALOG = "shop.catalog"
OPERATIONS = "shop.operations"

SPECVERSION = "1.0"
MAX_ID_LENGTH = 128


class Kind(StrEnum):
    """What a field's value must be."""

    STRING = "string"  # any string
    TEXT = "text"  # non-empty string (ids, names)
    INTEGER = "integer"  # integral number within [minimum, maximum]; bool is not one
    NUMBER = "number"  # number within [minimum, maximum] (or > minimum if exclusive)
    BOOLEAN = "boolean"
    ENUM = "enum"  # one of `values`
    CURRENCY = "currency"  # ISO 4217 code, ^[A-Z]{3}$
    COUNTRY = "country"  # ISO 3166-1 alpha-2, ^[A-Z]{2}$
    TIMESTAMP = "timestamp"  # RFC 3339 with offset (Z or +hh:mm)
    OBJECT = "object"  # nested object with `fields`
    OBJECT_LIST = "object_list"  # list of objects with `fields`


@dataclass(frozen=True)
class Field:
    """One field of an event's `data` (or of a nested object).

    A field with a `default` is never reported missing: the decoder fills the default in.
    JSON null is not a value of any kind; absent optional fields are simply absent.
    """

    name: str
    kind: Kind
    required: bool = False
    default: str | int | bool | None = None
    values: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    max_length: int | None = None
    fields: tuple[Field, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class RangeWhen:
    """`field` must lie within [minimum, maximum] when `when_field` equals `when_value`."""

    field: str
    when_field: str
    when_value: str
    minimum: int
    maximum: int


@dataclass(frozen=True)
class EventType:
    """One event type: its default topic, its `data` fields and cross-field rules."""

    name: str
    topic: str
    description: str
    fields: tuple[Field, ...]
    ranges: tuple[RangeWhen, ...] = ()


# --- field constructors: one line per field in the tables below ---------------------------

def text(name: str, *, required: bool = False, description: str = "") -> Field:
    return Field(name, Kind.TEXT, required, description=description)


def string(name: str, *, required: bool = False, description: str = "") -> Field:
    return Field(name, Kind.STRING, required, description=description)


def money(name: str, *, required: bool = False, description: str = "") -> Field:
    """An amount >= 0 in the event's `currency`."""
    return Field(name, Kind.NUMBER, required, minimum=0, description=description)


def count(name: str, *, required: bool = False, default: int | None = None,
          minimum: int = 0, maximum: int | None = None, description: str = "") -> Field:
    return Field(name, Kind.INTEGER, required, default, minimum=minimum, maximum=maximum,
                 description=description)


def seconds(name: str, *, required: bool = False, description: str = "") -> Field:
    """A duration in seconds, >= 0."""
    return Field(name, Kind.NUMBER, required, minimum=0, description=description)


def choice(name: str, values: tuple[str, ...], *, required: bool = False,
           default: str | None = None, description: str = "") -> Field:
    return Field(name, Kind.ENUM, required, default, values=values, description=description)


def flag(name: str, *, default: bool, description: str = "") -> Field:
    return Field(name, Kind.BOOLEAN, default=default, description=description)


def currency(name: str = "currency", *, required: bool = False,
             description: str = "ISO 4217 currency code") -> Field:
    return Field(name, Kind.CURRENCY, required, description=description)


def country(name: str = "country", *, required: bool = False) -> Field:
    return Field(name, Kind.COUNTRY, required, description="ISO 3166-1 alpha-2 country code")


def timestamp(name: str, *, required: bool = False, description: str = "") -> Field:
    return Field(name, Kind.TIMESTAMP, required, description=description)


def obj(name: str, fields: tuple[Field, ...], *, required: bool = False,
        description: str = "") -> Field:
    return Field(name, Kind.OBJECT, required, fields=fields, description=description)


def obj_list(name: str, fields: tuple[Field, ...], *, required: bool = False,
             description: str = "") -> Field:
    return Field(name, Kind.OBJECT_LIST, required, fields=fields, description=description)


# --- envelope ------------------------------------------------------------------------------

ENVELOPE: tuple[Field, ...] = (
    choice("specversion", (SPECVERSION,), required=True, description="CloudEvents version"),
    Field("id", Kind.TEXT, True, max_length=MAX_ID_LENGTH,
          description="event id; (source, id) is unique, a repeat is a duplicate"),
    text("source", required=True, description="the emitter: web, ios, zendesk, erp, ..."),
    text("type", required=True, description="the event type"),
    timestamp("time", required=True, description="event time; all KPI windows use it"),
    obj("data", (), required=True, description="the type's fields"),
)

# --- shared value sets and nested objects ----------------------------------------------------

DEVICES = ("desktop", "mobile", "tablet")
PAGE_TYPES = ("home", "category", "product", "search", "cart", "checkout", "blog", "other")
PARTIES = ("visitor", "agent", "bot")
CHAT_CHANNELS = ("web_chat", "whatsapp", "messenger", "other")
CHAT_INTENTS = ("pre_sales", "support", "other")
TICKET_CHANNELS = ("email", "web_form", "chat", "phone", "social", "marketplace", "other")
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")
TICKET_AUTHORS = ("agent", "bot", "customer")
SURVEYS = ("csat", "nps")
TOUCHPOINTS = ("support", "purchase", "other")
SEVERITIES = ("low", "medium", "high", "critical")

PAGE = obj("page", required=True, description="the page the event happened on", fields=(
    text("path", required=True, description="URL path, e.g. /p/123"),
    choice("type", PAGE_TYPES, default="other", description="page type"),
    string("url", description="full URL"),
    string("referrer", description="full referrer URL"),
))
CAMPAIGN = obj("campaign", description="UTM values of the visit", fields=(
    string("source"), string("medium"), string("name"), string("term"), string("content"),
))
_PRODUCT_FIELDS = (
    text("product_id", required=True),
    text("sku"),
    string("category"),
    money("price", description="unit price"),
)
PRODUCT = obj("product", required=True, fields=_PRODUCT_FIELDS + (currency(),))
CART_PRODUCT = obj("product", required=True, fields=_PRODUCT_FIELDS + (
    currency(), count("quantity", default=1),
))
ORDER_LINES = obj_list("products", description="the order's lines", fields=_PRODUCT_FIELDS + (
    count("quantity", default=1),
    money("cost", description="unit cost of goods at the time of sale"),
))

CLICKSTREAM_COMMON: tuple[Field, ...] = (
    text("anonymous_id", required=True, description="persistent visitor id"),
    text("session_id", required=True, description="the tracker's session id"),
    text("customer_id", description="logged-in customer"),
    choice("device", DEVICES, required=True),
    country(),
    PAGE,
    CAMPAIGN,
)
PERIOD: tuple[Field, ...] = (
    timestamp("period_start", required=True, description="start of the reported period"),
    timestamp("period_end", required=True, description="end of the reported period"),
)


def _clickstream(name: str, description: str, *fields: Field) -> EventType:
    return EventType(name, CLICKSTREAM, description, CLICKSTREAM_COMMON + fields)


def _report(name: str, topic: str, description: str, *fields: Field) -> EventType:
    """A periodic report, attributed to the window containing `period_start`."""
    return EventType(name, topic, description, fields + PERIOD)


# --- the event types ------------------------------------------------------------------------

_TYPES: tuple[EventType, ...] = (
    # clickstream
    _clickstream("page_viewed", "A page was viewed."),
    _clickstream("product_viewed", "A product page or tile was viewed.", PRODUCT),
    _clickstream("product_added", "A product was added to a cart.",
                 text("cart_id", required=True), CART_PRODUCT),
    _clickstream("product_removed", "A product was removed from a cart.",
                 text("cart_id", required=True), CART_PRODUCT),
    _clickstream("checkout_started", "A checkout was started.",
                 text("cart_id", required=True), text("checkout_id", required=True),
                 money("value"), currency()),
    # orders
    EventType("order_completed", ORDERS, "An order was placed (order_id is the dedup key).", (
        text("order_id", required=True),
        text("customer_id", required=True),
        currency(required=True),
        money("revenue", required=True,
              description="product total after discounts, excluding shipping and tax"),
        money("shipping"), money("tax"), money("discount"),
        string("coupon"),
        text("checkout_id"),
        text("anonymous_id"),
        text("session_id", description="links the order to its visit"),
        string("affiliation", description="affiliate id"),
        country(),
        ORDER_LINES,
    )),
    EventType("order_refunded", ORDERS, "Money of an order was refunded.", (
        text("order_id", required=True),
        money("amount", required=True),
        currency(required=True),
    )),
    EventType("order_cancelled", ORDERS, "An order was cancelled.", (
        text("order_id", required=True),
    )),
    # chat
    EventType("chat_started", CHAT, "A chat conversation started.", (
        text("conversation_id", required=True),
        choice("initiator", PARTIES, required=True),
        choice("channel", CHAT_CHANNELS, required=True),
        choice("intent", CHAT_INTENTS, default="other"),
        text("anonymous_id"), text("session_id"), text("customer_id"),
    )),
    EventType("chat_message", CHAT, "A message was posted in a chat.", (
        text("conversation_id", required=True),
        choice("author", PARTIES, required=True),
    )),
    EventType("chat_ended", CHAT, "A chat conversation ended.", (
        text("conversation_id", required=True),
    )),
    # support
    EventType("ticket_created", SUPPORT, "A support ticket was opened.", (
        text("ticket_id", required=True),
        choice("channel", TICKET_CHANNELS, required=True),
        choice("priority", TICKET_PRIORITIES, default="normal"),
        text("customer_id"),
    )),
    EventType("ticket_replied", SUPPORT, "A reply was posted on a ticket.", (
        text("ticket_id", required=True),
        choice("author", TICKET_AUTHORS, required=True),
        flag("public", default=True, description="false for internal notes"),
    )),
    EventType("ticket_escalated", SUPPORT, "A ticket was escalated.", (
        text("ticket_id", required=True),
        count("to_tier", description="support tier escalated to"),
    )),
    EventType("ticket_resolved", SUPPORT, "A ticket was resolved.", (
        text("ticket_id", required=True),
    )),
    EventType("ticket_reopened", SUPPORT, "A resolved ticket was reopened.", (
        text("ticket_id", required=True),
    )),
    EventType("survey_responded", SUPPORT, "A customer answered a CSAT (1-5) or NPS (0-10) survey.", (
        choice("survey", SURVEYS, required=True),
        count("score", required=True, maximum=10, description="csat 1-5, nps 0-10"),
        text("ticket_id"),
        text("customer_id"),
        choice("touchpoint", TOUCHPOINTS),
    ), ranges=(
        RangeWhen("score", "survey", "csat", 1, 5),
        RangeWhen("score", "survey", "nps", 0, 10),
    )),
    # marketing
    _report("ad_performance_reported", MARKETING, "Ad platform performance of one campaign for a period.",
            text("platform", required=True),
            text("campaign_id", required=True),
            count("impressions", required=True),
            count("clicks", required=True),
            money("cost", required=True),
            currency(required=True),
            Field("avg_position", Kind.NUMBER, minimum=0, description="mean ad position"),
            count("top_impressions", description="impressions at the top of the page")),
    _report("marketing_spend_reported", MARKETING, "Marketing spend outside ad platforms for a period.",
            text("channel", required=True),
            money("amount", required=True),
            currency(required=True)),
    EventType("email_delivered", MARKETING, "A campaign email was delivered.", (
        text("campaign_id", required=True), text("contact_id", required=True),
    )),
    EventType("email_opened", MARKETING, "A campaign email was opened.", (
        text("campaign_id", required=True), text("contact_id", required=True),
    )),
    EventType("email_clicked", MARKETING, "A link in a campaign email was clicked.", (
        text("campaign_id", required=True), text("contact_id", required=True),
    )),
    EventType("email_subscribed", MARKETING, "A contact subscribed to email.", (
        text("contact_id", required=True),
    )),
    EventType("email_unsubscribed", MARKETING, "A contact unsubscribed from email.", (
        text("contact_id", required=True),
        text("campaign_id", description="the campaign whose email led to it"),
    )),
    EventType("sms_subscribed", MARKETING, "A contact subscribed to SMS.", (
        text("contact_id", required=True),
    )),
    EventType("sms_unsubscribed", MARKETING, "A contact unsubscribed from SMS.", (
        text("contact_id", required=True),
    )),
    _report("social_stats_reported", MARKETING, "Social account statistics for a period.",
            text("platform", required=True),
            text("account", required=True),
            count("followers", required=True, description="followers at period end"),
            count("likes", required=True),
            count("comments", required=True),
            count("shares", required=True),
            count("saves", description="absent where the platform has no saves"),
            count("reach", required=True)),
    EventType("product_reviewed", MARKETING, "A product review was published.", (
        text("product_id", required=True),
        text("review_id", required=True),
        count("rating", required=True, minimum=1, maximum=5),
        string("category"),
    )),
    # catalog
    EventType("inventory_reported", CATALOG, "Stock available of a SKU at a location (latest wins).", (
        text("sku", required=True),
        text("location", required=True),
        count("available", required=True),
        string("category"),
    )),
    EventType("price_changed", CATALOG, "Our price of a SKU changed.", (
        text("sku", required=True),
        money("price", required=True),
        currency(required=True),
        string("category"),
    )),
    EventType("competitor_price_observed", CATALOG, "A competitor's price of a SKU was observed.", (
        text("sku", required=True),
        text("competitor", required=True),
        money("price", required=True),
        currency(required=True),
    )),
    _report("market_size_reported", CATALOG, "Market size of a segment for a period.",
            text("segment", required=True),
            money("value", required=True),
            currency(required=True)),
    EventType("fx_rate_reported", CATALOG, "Exchange rate: 1 `base` = `rate` `quote`.", (
        currency("base", required=True, description="ISO 4217 code of the base currency"),
        currency("quote", required=True, description="ISO 4217 code of the quote currency"),
        Field("rate", Kind.NUMBER, True, minimum=0, exclusive_minimum=True),
    )),
    # operations
    EventType("work_order_completed", OPERATIONS, "A production work order was completed.", (
        text("work_order_id", required=True),
        text("line", required=True),
        timestamp("started_at", required=True),
        count("units_started", required=True),
        count("units_good_first_pass", required=True),
        count("units_good", required=True),
    )),
    _report("line_status_reported", OPERATIONS, "Production line times and output for a period (OEE).",
            text("line", required=True),
            seconds("planned_s", required=True),
            seconds("run_s", required=True),
            seconds("ideal_cycle_s", required=True),
            count("units_total", required=True),
            count("units_good", required=True)),
    _report("labor_reported", OPERATIONS, "Crew times and output for a period (OLE).",
            text("crew", required=True),
            seconds("scheduled_s", required=True),
            seconds("productive_s", required=True),
            count("units_actual", required=True),
            Field("units_standard", Kind.NUMBER, True, minimum=0,
                  description="units the standard rate expects for the productive time"),
            count("units_good", required=True)),
    EventType("compliance_incident", OPERATIONS, "A compliance incident was recorded.", (
        text("incident_id", required=True),
        text("category", required=True),
        choice("severity", SEVERITIES, required=True),
    )),
)

EVENT_TYPES: dict[str, EventType] = {t.name: t for t in _TYPES}

TOPICS: tuple[str, ...] = (CLICKSTREAM, ORDERS, CHAT, SUPPORT, MARKETING, CATALOG, OPERATIONS)

TOPIC_TYPES: dict[str, frozenset[str]] = {
    topic: frozenset(t.name for t in _TYPES if t.topic == topic) for topic in TOPICS
}


def topic_types(renames: Mapping[str, str] | None = None) -> dict[str, frozenset[str]]:
    """`TOPIC_TYPES` with configured topic names: `renames` maps a default name to the real one."""
    renames = renames or {}
    return {renames.get(topic, topic): types for topic, types in TOPIC_TYPES.items()}
