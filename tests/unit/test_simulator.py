"""The storefront simulator: deterministic, time-ordered, contract-shaped, realistic."""
from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict
from datetime import datetime
from urllib.parse import urlparse

import orjson
import pytest

from streams.tools import replay, simulate
from streams.tools.simulator import (
    ALL_TOPICS, CATALOG, CHAT, CLICKSTREAM, CORE_TOPICS, MARKETING, OPERATIONS, ORDERS,
    SUPPORT, generate, generate_timed,
)

START_S = 1_717_200_000.0  # 2024-06-01T00:00:00Z
START_ISO = "2024-06-01T00:00:00Z"
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

TOPIC_TYPES = {
    CLICKSTREAM: {"page_viewed", "product_viewed", "product_added", "product_removed",
                  "checkout_started"},
    ORDERS: {"order_completed", "order_refunded", "order_cancelled"},
    CHAT: {"chat_started", "chat_message", "chat_ended"},
    SUPPORT: {"ticket_created", "ticket_replied", "ticket_escalated", "ticket_resolved",
              "ticket_reopened", "survey_responded"},
    MARKETING: {"ad_performance_reported", "marketing_spend_reported", "email_delivered",
                "email_opened", "email_clicked", "email_subscribed", "email_unsubscribed",
                "sms_subscribed", "sms_unsubscribed", "social_stats_reported",
                "product_reviewed"},
    CATALOG: {"inventory_reported", "price_changed", "competitor_price_observed",
              "market_size_reported", "fx_rate_reported"},
    OPERATIONS: {"work_order_completed", "line_status_reported", "labor_reported",
                 "compliance_incident"},
}
CLICK_FIELDS = ("anonymous_id", "session_id", "device", "page")
REQUIRED = {  # type -> data fields events.md requires (or the KPIs read)
    "page_viewed": CLICK_FIELDS,
    "product_viewed": CLICK_FIELDS + ("product",),
    "product_added": CLICK_FIELDS + ("cart_id", "product"),
    "product_removed": CLICK_FIELDS + ("cart_id", "product"),
    "checkout_started": CLICK_FIELDS + ("cart_id", "checkout_id", "value", "currency"),
    "order_completed": ("order_id", "customer_id", "currency", "revenue", "products"),
    "order_refunded": ("order_id", "amount", "currency"),
    "order_cancelled": ("order_id",),
    "chat_started": ("conversation_id", "initiator", "channel"),
    "chat_message": ("conversation_id", "author"),
    "chat_ended": ("conversation_id",),
    "ticket_created": ("ticket_id", "channel"),
    "ticket_replied": ("ticket_id", "author"),
    "ticket_escalated": ("ticket_id",),
    "ticket_resolved": ("ticket_id",),
    "ticket_reopened": ("ticket_id",),
    "survey_responded": ("survey", "score", "touchpoint"),
    "ad_performance_reported": ("platform", "campaign_id", "impressions", "clicks", "cost",
                                "currency", "period_start", "period_end"),
    "marketing_spend_reported": ("channel", "amount", "currency", "period_start"),
    "email_delivered": ("campaign_id", "contact_id"),
    "email_opened": ("campaign_id", "contact_id"),
    "email_clicked": ("campaign_id", "contact_id"),
    "email_subscribed": ("contact_id",),
    "email_unsubscribed": ("contact_id",),
    "sms_subscribed": ("contact_id",),
    "sms_unsubscribed": ("contact_id",),
    "social_stats_reported": ("platform", "account", "followers", "likes", "comments",
                              "shares", "saves", "reach", "period_start"),
    "product_reviewed": ("product_id", "review_id", "rating"),
    "inventory_reported": ("sku", "location", "available"),
    "price_changed": ("sku", "price", "currency"),
    "competitor_price_observed": ("sku", "competitor", "price", "currency"),
    "market_size_reported": ("segment", "value", "currency", "period_start", "period_end"),
    "fx_rate_reported": ("base", "quote", "rate"),
    "work_order_completed": ("work_order_id", "line", "started_at", "units_started",
                             "units_good_first_pass", "units_good"),
    "line_status_reported": ("line", "planned_s", "run_s", "ideal_cycle_s", "units_total",
                             "units_good", "period_start"),
    "labor_reported": ("crew", "scheduled_s", "productive_s", "units_actual",
                       "units_standard", "units_good", "period_start"),
    "compliance_incident": ("incident_id", "category", "severity"),
}
KEY_FIELD = {CLICKSTREAM: "session_id", ORDERS: "order_id", CHAT: "conversation_id"}


@pytest.fixture(scope="module")
def core() -> list[tuple[str, str | None, dict]]:
    return list(generate(7, START_S, 6 * 3600, 1.5))


@pytest.fixture(scope="module")
def with_feeds() -> list[tuple[str, str | None, dict]]:
    return list(generate(7, START_S + 1800, 3 * 3600, 1, feeds=True))


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def sessions_of(events) -> dict[str, list[dict]]:
    by_session: dict[str, list[dict]] = defaultdict(list)
    for topic, _, e in events:
        if topic == CLICKSTREAM:
            by_session[e["data"]["session_id"]].append(e)
    return by_session


# ---------------------------------------------------------------- determinism and order

def test_same_seed_same_output_and_other_seed_differs():
    first = list(generate(11, START_S, 300, 4, feeds=True))
    assert first == list(generate(11, START_S, 300, 4, feeds=True))
    assert first != list(generate(12, START_S, 300, 4, feeds=True))


def test_live_runs_at_different_starts_use_different_ids():
    a = {e["id"] for _, _, e in generate(7, START_S, 60, 5)}
    b = {e["id"] for _, _, e in generate(7, START_S + 0.5, 60, 5)}
    assert a and b and not a & b


def test_core_streams_do_not_depend_on_feeds(with_feeds):
    plain = list(generate(7, START_S + 1800, 3 * 3600, 1))
    assert [x for x in with_feeds if x[0] in CORE_TOPICS] == plain


@pytest.mark.parametrize("fixture", ["core", "with_feeds"])
def test_time_goes_back_at_most_5_s_per_topic(fixture, request):
    latest: dict[str, float] = {}
    for topic, _, e in request.getfixturevalue(fixture):
        t = epoch(e["time"])
        assert t >= latest.get(topic, t) - 5.0, e
        latest[topic] = max(latest.get(topic, t), t)
    assert set(latest) >= set(CORE_TOPICS)


def test_arrival_times_never_decrease_and_stay_in_range():
    arrivals = [a for a, *_ in generate_timed(3, START_S, 600, 10, feeds=True)]
    assert arrivals == sorted(arrivals)
    assert START_S <= arrivals[0] and arrivals[-1] < START_S + 600


def test_some_app_events_arrive_out_of_order(core):
    times = [epoch(e["time"]) for t, _, e in core if t == CLICKSTREAM]
    assert any(b < a for a, b in zip(times, times[1:]))


# ---------------------------------------------------------------- envelope and fields

@pytest.mark.parametrize("fixture", ["core", "with_feeds"])
def test_envelopes_follow_the_contract(fixture, request):
    seen = set()
    for topic, key, e in request.getfixturevalue(fixture):
        assert set(e) == {"specversion", "id", "source", "type", "time", "data"}
        assert e["specversion"] == "1.0"
        assert isinstance(e["id"], str) and 0 < len(e["id"]) <= 128
        assert isinstance(e["source"], str) and e["source"]
        assert (e["source"], e["id"]) not in seen, e
        seen.add((e["source"], e["id"]))
        assert TIME_RE.match(e["time"]), e["time"]
        assert e["type"] in TOPIC_TYPES[topic], (topic, e["type"])
        assert isinstance(e["data"], dict)
        assert len(orjson.dumps(e)) < 64 * 1024


@pytest.mark.parametrize("fixture", ["core", "with_feeds"])
def test_required_fields_are_present(fixture, request):
    types = Counter()
    for topic, key, e in request.getfixturevalue(fixture):
        data = e["data"]
        missing = [f for f in REQUIRED[e["type"]] if f not in data]
        assert not missing, (e, missing)
        if topic in KEY_FIELD:
            assert key == data[KEY_FIELD[topic]]
        elif topic == SUPPORT and "ticket_id" in data:
            assert key == data["ticket_id"]
        types[e["type"]] += 1
    expected = set().union(*(TOPIC_TYPES[t] for t in CORE_TOPICS))
    if fixture == "with_feeds":
        expected = set(REQUIRED)
    assert set(types) == expected, expected - set(types)


@pytest.mark.parametrize("etype, check", [
    ("page_viewed", lambda d: d["page"]["type"] in
     {"home", "category", "product", "search", "cart", "checkout", "blog", "other"}),
    ("page_viewed", lambda d: d["device"] in {"desktop", "mobile", "tablet"}),
    ("product_viewed", lambda d: {"product_id", "sku", "category", "price", "currency"}
     <= set(d["product"])),
    ("product_added", lambda d: d["product"]["quantity"] >= 1),
    ("checkout_started", lambda d: d["value"] > 0 and len(d["currency"]) == 3),
    ("order_completed", lambda d: all({"product_id", "sku", "category", "price", "quantity",
                                       "cost"} <= set(p) and 0 < p["cost"] < p["price"]
                                      for p in d["products"])),
    ("order_completed", lambda d: abs(d["revenue"] + d["discount"] - sum(
        p["price"] * p["quantity"] for p in d["products"])) < 0.011),
    ("order_refunded", lambda d: d["amount"] > 0),
    ("chat_started", lambda d: d["initiator"] in {"visitor", "agent", "bot"}
     and d["channel"] in {"web_chat", "whatsapp", "messenger", "other"}
     and d.get("intent", "other") in {"pre_sales", "support", "other"}),
    ("chat_message", lambda d: d["author"] in {"visitor", "agent", "bot"}),
    ("ticket_created", lambda d: d["channel"] in
     {"email", "web_form", "chat", "phone", "social", "marketplace", "other"}
     and d.get("priority", "normal") in {"low", "normal", "high", "urgent"}),
    ("ticket_replied", lambda d: d["author"] in {"agent", "bot", "customer"}
     and isinstance(d.get("public", True), bool)),
    ("ticket_escalated", lambda d: isinstance(d.get("to_tier", 2), int)),
    ("survey_responded", lambda d: isinstance(d["score"], int) and (
        1 <= d["score"] <= 5 if d["survey"] == "csat" else 0 <= d["score"] <= 10)
     and d["touchpoint"] in {"support", "purchase", "other"}),
])
def test_field_values(core, etype, check):
    datas = [e["data"] for _, _, e in core if e["type"] == etype]
    assert datas
    bad = [d for d in datas if not check(d)]
    assert not bad, bad[:3]


def test_feed_values(with_feeds):
    by_type = defaultdict(list)
    for _, _, e in with_feeds:
        by_type[e["type"]].append(e["data"])
    for d in by_type["ad_performance_reported"]:
        assert 0 <= d["clicks"] <= d["impressions"]
        assert epoch(d["period_end"]) - epoch(d["period_start"]) == 3600
    assert {d["platform"] for d in by_type["ad_performance_reported"]} >= {
        "google_ads", "meta_ads"}
    assert any("avg_position" in d for d in by_type["ad_performance_reported"])
    assert all(1 <= d["rating"] <= 5 for d in by_type["product_reviewed"])
    assert any(d["available"] == 0 for d in by_type["inventory_reported"])
    assert {(d["base"], d["quote"]) for d in by_type["fx_rate_reported"]} == {
        ("EUR", "USD"), ("GBP", "USD")}
    for d in by_type["work_order_completed"]:
        assert d["units_good_first_pass"] <= d["units_good"] <= d["units_started"]
    for d in by_type["line_status_reported"]:
        assert d["run_s"] <= d["planned_s"] and d["units_good"] <= d["units_total"]
    assert all(d["severity"] in {"low", "medium", "high", "critical"}
               for d in by_type["compliance_incident"])


# ---------------------------------------------------------------- a realistic mix

SOCIAL = ("facebook", "instagram", "tiktok", "twitter", "x", "linkedin", "pinterest",
          "youtube", "reddit")
SEARCH = ("google", "bing", "yahoo", "baidu", "duckduckgo", "yandex")


def channel(first: dict) -> str:
    """The channel rules of kpis.md, written out independently for the test."""
    c = first.get("campaign") or {}
    medium, source = (c.get("medium") or "").lower(), (c.get("source") or "").lower()
    referrer = first["page"].get("referrer")
    host = urlparse(referrer).hostname or "" if referrer else ""
    if medium in ("cpc", "ppc", "paidsearch"):
        return "paid_social" if source in SOCIAL else "paid_search"
    if medium in ("display", "cpm", "banner"):
        return "display"
    if medium in ("affiliate", "affiliates"):
        return "affiliate"
    if "email" in (medium, source) or "e-mail" in (medium, source):
        return "email"
    if medium == "sms":
        return "sms"
    if medium in ("social", "social-network", "social-media", "sm") or source in SOCIAL:
        return "organic_social"
    if medium == "organic" or any(s in host for s in SEARCH):
        return "organic_search"
    if medium == "referral" or referrer:
        return "referral"
    return "direct" if not c and not referrer else "other"


def test_sessions_bounce_channels_devices_countries(core):
    sessions = sessions_of(core)
    ordered = {e["data"].get("session_id") for _, _, e in core if e["type"] == "order_completed"}
    firsts = [min(evs, key=lambda e: e["time"])["data"] for evs in sessions.values()]
    bounced = sum(
        1 for sid, evs in sessions.items()
        if sum(e["type"] in ("page_viewed", "product_viewed") for e in evs) == 1
        and not any(e["type"] in ("product_added", "checkout_started") for e in evs)
        and sid not in ordered)
    assert len(sessions) > 5000
    assert 0.3 < bounced / len(sessions) < 0.5
    channels = Counter(channel(d) for d in firsts)
    assert set(channels) == {"direct", "organic_search", "paid_search", "paid_social",
                             "display", "affiliate", "email", "sms", "organic_social",
                             "referral", "other"}
    assert Counter(d["device"] for d in firsts)["mobile"] / len(firsts) > 0.3
    assert len({d["country"] for d in firsts}) >= 8
    assert any(d["page"]["type"] == "blog" for d in firsts)
    affiliates = {d["campaign"]["source"] for d in firsts if channel(d) == "affiliate"}
    assert len(affiliates) >= 3


def test_returning_and_logged_in_visitors(core):
    sessions = sessions_of(core)
    per_visitor = Counter(evs[0]["data"]["anonymous_id"] for evs in sessions.values())
    returning = sum(n - 1 for n in per_visitor.values())
    assert 0.1 < returning / len(sessions) < 0.4
    assert any("customer_id" in evs[0]["data"] for evs in sessions.values())


def test_carts_checkouts_orders_link_up(core):
    sessions = sessions_of(core)
    checkouts = {sid for sid, evs in sessions.items()
                 if any(e["type"] == "checkout_started" for e in evs)}
    carts = {sid for sid, evs in sessions.items()
             if any(e["type"] == "product_added" for e in evs)}
    orders = [e["data"] for _, _, e in core if e["type"] == "order_completed"]
    linked = [o for o in orders if "session_id" in o]
    assert len(linked) > 100 and len(linked) > 0.8 * len(orders)
    assert {o["session_id"] for o in linked} <= checkouts
    assert 0.01 < len(linked) / len(sessions) < 0.05  # conversion rate
    abandoned = len(carts - {o["session_id"] for o in linked})
    assert 0.6 < abandoned / len(carts) < 0.92
    currencies = Counter(o["currency"] for o in orders)
    assert currencies["USD"] > currencies["EUR"] > currencies["GBP"] > 0
    assert any("affiliation" in o for o in orders)
    assert any(o.get("coupon") for o in orders)
    repeat = Counter(o["customer_id"] for o in orders)
    assert len(repeat) < len(orders)  # some customers order again


def test_refunds_and_cancellations_follow_orders(core):
    placed = {}
    for _, _, e in core:
        d = e["data"]
        if e["type"] == "order_completed":
            placed[d["order_id"]] = d
        elif e["type"] in ("order_refunded", "order_cancelled"):
            assert d["order_id"] in placed
            if e["type"] == "order_refunded":
                assert d["currency"] == placed[d["order_id"]]["currency"]
    types = Counter(e["type"] for _, _, e in core)
    assert types["order_refunded"] >= 1 and types["order_cancelled"] >= 1


def test_chats_link_to_sessions_and_get_replies(core):
    sessions = sessions_of(core)
    started = [e["data"] for _, _, e in core if e["type"] == "chat_started"]
    pre_sales = [d for d in started if d.get("intent") == "pre_sales"
                 and d["initiator"] == "visitor" and "session_id" in d]
    assert pre_sales and all(d["session_id"] in sessions for d in pre_sales)
    converted = {e["data"].get("session_id") for _, _, e in core
                 if e["type"] == "order_completed"}
    assert any(d["session_id"] in converted for d in pre_sales)  # some chats hit
    authors = Counter(e["data"]["author"] for _, _, e in core if e["type"] == "chat_message")
    assert authors["agent"] and authors["bot"] and authors["visitor"]
    assert {d["channel"] for d in started} >= {"web_chat", "whatsapp"}


def test_ticket_lifecycles(core):
    created = {}
    events = Counter()
    for _, _, e in core:
        if e["type"] == "ticket_created":
            created[e["data"]["ticket_id"]] = e
        elif e["type"].startswith("ticket_"):
            assert e["data"]["ticket_id"] in created
            assert e["time"] >= created[e["data"]["ticket_id"]]["time"]
        events[e["type"]] += 1
    for etype in ("ticket_replied", "ticket_escalated", "ticket_resolved", "ticket_reopened"):
        assert events[etype] >= 1, etype
    replies = Counter((e["data"]["author"], e["data"].get("public", True))
                      for _, _, e in core if e["type"] == "ticket_replied")
    assert replies[("agent", True)] and replies[("bot", True)] and replies[("agent", False)]
    surveys = Counter((e["data"]["survey"], e["data"]["touchpoint"])
                      for _, _, e in core if e["type"] == "survey_responded")
    assert surveys[("csat", "support")] and surveys[("nps", "other")]


def test_duplicates_repeat_envelopes_and_orders():
    events = list(generate(5, START_S, 900, 5, duplicate_share=0.02))
    ids = Counter((e["source"], e["id"]) for _, _, e in events)
    assert any(n > 1 for n in ids.values())
    orders = Counter(e["data"]["order_id"] for _, _, e in events
                     if e["type"] == "order_completed")
    assert len(orders) < sum(orders.values())


# ---------------------------------------------------------------- the command-line tools

def simulate_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    simulate.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_out_file_round_trips(tmp_path):
    out = tmp_path / "events.jsonl"
    args = simulate_args("--start", START_ISO, "--duration", "2m", "--rate", "3",
                         "--feeds", "--out", str(out))
    assert simulate.run_simulate(args) == 0
    lines = out.read_bytes().splitlines()
    expected = list(generate(7, START_S, 120, 3, feeds=True))
    assert [orjson.loads(line) for line in lines] == [
        {"topic": t, "key": k, "event": e} for t, k, e in expected]
    parsed = [replay.parse_line(line, None) for line in lines]
    assert [(p.topic, p.key, orjson.loads(p.event)) for p in parsed] == expected
    assert parsed[0].timestamp_ms == int(datetime.fromisoformat(
        expected[0][2]["time"]).timestamp() * 1000)
    assert replay.scan(str(out)) == (len(lines), {t for t, _, _ in expected})


def test_replay_accepts_bare_events_arrays_and_garbage():
    event = {"specversion": "1.0", "id": "1", "source": "web", "type": "order_cancelled",
             "time": "2024-06-01T08:00:00+08:00", "data": {"order_id": "o-1"}}
    bare = replay.parse_line(orjson.dumps(event) + b"\n", "shop.orders")
    assert (bare.topic, bare.key, bare.timestamp_ms) == ("shop.orders", "o-1", START_S * 1000)
    assert bare.event == orjson.dumps(event)
    batch = replay.parse_line(orjson.dumps([event, event]), "shop.orders")
    assert batch.raw and batch.events == 2 and batch.key is None
    garbage = replay.parse_line(b"{not json", "shop.orders")
    assert (garbage.raw, garbage.events, garbage.topic) == (b"{not json", 0, "shop.orders")
    assert replay.parse_line(b"{not json", None).topic is None
    assert replay.parse_line(b"  \n", None) is None


@pytest.mark.parametrize("text, seconds", [
    ("90", 90), ("90s", 90), ("10m", 600), ("2h", 7200), ("1d", 86400), ("1h30m", 5400),
    ("0", 0), ("1.5h", 5400)])
def test_parse_duration(text, seconds):
    assert simulate.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "ten", "5x", "10 m", "m"])
def test_parse_duration_rejects(text):
    with pytest.raises(argparse.ArgumentTypeError):
        simulate.parse_duration(text)


def test_simulate_refuses_an_endless_file(tmp_path):
    args = simulate_args("--out", str(tmp_path / "x.jsonl"))
    assert simulate.run_simulate(args) == 2


def test_all_topics_are_the_contract_defaults():
    assert set(ALL_TOPICS) == set(TOPIC_TYPES)
