"""Customer service KPIs: response and resolution times, escalations, CSAT, NPS, chats, hit rate."""
from __future__ import annotations

import pytest

from eventkit import (ACTIVE, Snapshots, compute, engine, make_chat_message, make_chat_started,
                      make_order, make_page_view, make_survey, make_ticket_created, make_ticket_event,
                      make_ticket_replied)

# Tickets (seconds after T0):
#   t-1 email  created @0;  bot reply @5, private agent note @8 (both ignored), public agent reply @20
#              (first response 20), agent reply @30 (not first); escalated @50 and again @60 (once);
#              resolved @100 (resolution 100), reopened @110, resolved again @200 (not counted)
#   t-2 chat   created @10; customer reply @15 (ignored), agent reply @70 (60); resolved @130 (120)
#   t-3 email  created @40; never answered
#   t-9        agent reply @50 to a ticket never created: excluded
TICKETS = [
    make_ticket_created(0, "t-1", "email"),
    make_ticket_replied(5, "t-1", author="bot"),
    make_ticket_replied(8, "t-1", author="agent", public=False),
    make_ticket_replied(20, "t-1"),
    make_ticket_replied(30, "t-1"),
    make_ticket_event("ticket_escalated", 50, "t-1"),
    make_ticket_event("ticket_escalated", 60, "t-1"),
    make_ticket_event("ticket_resolved", 100, "t-1"),
    make_ticket_event("ticket_reopened", 110, "t-1"),
    make_ticket_event("ticket_resolved", 200, "t-1"),
    make_ticket_created(10, "t-2", "chat"),
    make_ticket_replied(15, "t-2", author="customer"),
    make_ticket_replied(70, "t-2"),
    make_ticket_event("ticket_resolved", 130, "t-2"),
    make_ticket_created(40, "t-3", "email"),
    make_ticket_replied(50, "t-9"),
]


@pytest.fixture(scope="module")
def tickets() -> Snapshots:
    return compute(TICKETS)


TICKET_CASES = [
    ("service_requests", "5m", 0, {}, 3, "t-1, t-2, t-3"),
    ("service_requests", "5m", 0, {"support_channel": "email"}, 2, "t-1, t-3"),
    ("service_requests", "5m", 0, {"support_channel": "chat"}, 1, "t-2"),
    ("first_response_time_s", "5m", 0, {}, 40, "(20 + 60) / 2; t-9 excluded"),
    ("first_response_time_s", "5m", 0, {"support_channel": "email"}, 20, "t-1: 20 - 0"),
    ("first_response_time_s", "5m", 0, {"support_channel": "chat"}, 60, "t-2: 70 - 10"),
    ("first_response_time_s", "1m", 0, {}, 20, "at reply time: t-1's reply @20"),
    ("first_response_time_s", "1m", 60, {}, 60, "t-2's reply @70"),
    ("avg_resolution_time_s", "5m", 0, {}, 110, "(100 + 120) / 2"),
    ("avg_resolution_time_s", "1m", 60, {}, 100, "t-1 resolved @100: 100 - 0"),
    ("avg_resolution_time_s", "1m", 120, {}, 120, "t-2 resolved @130: 130 - 10"),
    ("escalation_rate", "5m", 0, {}, pytest.approx(1 / 3), "t-1 once / 3 created"),
    ("escalation_rate", "5m", 0, {"support_channel": "email"}, 0.5, "1 / (t-1, t-3)"),
    ("escalation_rate", "5m", 0, {"support_channel": "chat"}, 0.0, "0 / t-2"),
    ("escalation_rate", "1m", 0, {}, pytest.approx(1 / 3), "escalated @50; created @0, @10, @40"),
]


@pytest.mark.parametrize(("kpi", "window", "start", "dims", "expected", "why"), TICKET_CASES)
def test_ticket_kpis(tickets, kpi, window, start, dims, expected, why):
    assert tickets(kpi, window, start, **dims) == expected, why


def test_second_resolution_after_reopen_is_not_counted(tickets):
    assert tickets.get("avg_resolution_time_s", "1m", 180) is None  # t-1 resolved again @200
    record = tickets.get("avg_resolution_time_s", "5m", 0)
    assert (record["numerator"], record["denominator"]) == (220, 2)  # 100 + 120 over 2 resolutions


def test_reply_to_unknown_ticket_is_excluded_and_counted():
    eng = engine()
    eng.ingest(TICKETS, ACTIVE)
    assert eng.counters["replied_without_created"] == 1  # t-9


# Chats: ch-1 web_chat visitor @0: bot @3, agent @12, agent @20        -> 12 (bot: 3)
#        ch-2 whatsapp started by an agent @30: not initiated by a visitor
#        ch-3 whatsapp visitor @50: visitor @55 (ignored), agent @80     -> 30 (bot or not)
CHATS = [
    make_chat_started(0, "ch-1", channel="web_chat", intent="support"),
    make_chat_message(3, "ch-1", "bot"),
    make_chat_message(12, "ch-1", "agent"),
    make_chat_message(20, "ch-1", "agent"),
    make_chat_started(30, "ch-2", initiator="agent", channel="whatsapp"),
    make_chat_started(50, "ch-3", channel="whatsapp"),
    make_chat_message(55, "ch-3", "visitor"),
    make_chat_message(80, "ch-3", "agent"),
]


@pytest.mark.parametrize(("bots", "dims", "expected", "why"), [
    (False, {}, 21, "(12 + 30) / 2, bot excluded by default"),
    (False, {"chat_channel": "web_chat"}, 12, "ch-1: 12 - 0"),
    (False, {"chat_channel": "whatsapp"}, 30, "ch-3: 80 - 50"),
    (True, {}, 16.5, "(3 + 30) / 2 with bot replies counted"),
    (True, {"chat_channel": "web_chat"}, 3, "ch-1: bot @3"),
])
def test_chat_first_response_time(bots, dims, expected, why):
    snaps = compute(CHATS, count_bot_chat_replies=bots)
    assert snaps("chat_first_response_time_s", "5m", 0, **dims) == expected, why


def test_chats_initiated_counts_visitor_chats_only():
    snaps = compute(CHATS)
    assert snaps("chats_initiated", "5m", 0) == 2  # ch-1, ch-3 (ch-2 started by an agent)
    assert snaps("chats_initiated", "5m", 0, chat_channel="whatsapp") == 1  # ch-3
    assert snaps("chats_initiated", "1m", 0, chat_channel="web_chat") == 1  # ch-1


SURVEYS = [
    # CSAT: support 5, 4, 3; purchase 1, 5
    make_survey(1, "csat", 5), make_survey(2, "csat", 4), make_survey(3, "csat", 3),
    make_survey(4, "csat", 1, "purchase"), make_survey(5, "csat", 5, "purchase"),
    # NPS: support 10, 9, 8, 6, 0; purchase 10, 10, 7, 3
    make_survey(6, "nps", 10), make_survey(7, "nps", 9), make_survey(8, "nps", 8),
    make_survey(9, "nps", 6), make_survey(10, "nps", 0),
    make_survey(11, "nps", 10, "purchase"), make_survey(12, "nps", 10, "purchase"),
    make_survey(13, "nps", 7, "purchase"), make_survey(14, "nps", 3, "purchase"),
]


@pytest.mark.parametrize(("kpi", "dims", "expected", "why"), [
    ("csat", {}, 0.6, "(5, 4, 5) / 5 responses"),
    ("csat", {"touchpoint": "support"}, pytest.approx(2 / 3), "(5, 4) / 3"),
    ("csat", {"touchpoint": "purchase"}, 0.5, "5 / (1, 5)"),
    ("nps", {"touchpoint": "support"}, 0.0, "(2 promoters - 2 detractors) / 5 x 100"),
    ("nps", {"touchpoint": "purchase"}, 25.0, "(2 - 1) / 4 x 100"),
    ("nps", {}, pytest.approx(100 / 9), "(4 - 3) / 9 x 100"),
])
def test_surveys(kpi, dims, expected, why):
    assert compute(SURVEYS)(kpi, "1m", 0, **dims) == expected, why


def test_nps_extremes():
    assert compute([make_survey(1, "nps", 0), make_survey(2, "nps", 6)])("nps", "1m", 0) == -100.0  # (0 - 2) / 2
    assert compute([make_survey(1, "nps", 9)])("nps", "1m", 0) == 100.0  # (1 - 0) / 1


# Hit rate: pre-sales chats started by a visitor (at chat start); converted when their session
# has an order.
#   p-1 web_chat  @20 session A (A has an order @60)         -> converted
#   p-2 web_chat  @30 session B (page view, no order)        -> not converted
#   p-3 whatsapp  @40 no session id                          -> not converted
#   p-4 whatsapp  @45 session "ghost" never seen             -> not converted
#   p-5 web_chat  @50 session A, started by an agent         -> not a visitor chat: excluded
#   p-6 web_chat  @55 session A, intent support              -> not pre-sales: excluded
HIT_RATE = [
    make_page_view(10, "A", "a"),
    make_page_view(15, "B", "b"),
    make_chat_started(20, "p-1", intent="pre_sales", session="A"),
    make_chat_started(30, "p-2", intent="pre_sales", session="B"),
    make_chat_started(40, "p-3", intent="pre_sales", channel="whatsapp"),
    make_chat_started(45, "p-4", intent="pre_sales", channel="whatsapp", session="ghost"),
    make_chat_started(50, "p-5", initiator="agent", intent="pre_sales", session="A"),
    make_chat_started(55, "p-6", intent="support", session="A"),
    make_order(60, "o-a", "c-a", 20.0, session="A"),
]


@pytest.mark.parametrize(("dims", "expected", "why"), [
    ({}, 0.25, "p-1 / (p-1, p-2, p-3, p-4)"),
    ({"chat_channel": "web_chat"}, 0.5, "p-1 / (p-1, p-2)"),
    ({"chat_channel": "whatsapp"}, 0.0, "0 / (p-3, p-4)"),
])
def test_hit_rate(dims, expected, why):
    assert compute(HIT_RATE)("hit_rate", "1m", 0, **dims) == expected, why


def test_hit_rate_is_attributed_to_the_chat_start():
    # chat @70 (minute 60) in session A, which started @10 (minute 0) and converts @80
    snaps = compute([make_page_view(10, "A", "a"), make_chat_started(70, "p", intent="pre_sales", session="A"),
                     make_order(80, "o", "c", 5.0, session="A")])
    assert snaps.get("hit_rate", "1m", 0) is None
    assert snaps("hit_rate", "1m", 60) == 1.0  # 1 / 1
    assert snaps("conversion_rate", "1m", 0) == 1.0


# Known gap: the first reply is the first to *arrive*, and a reply that arrives before its chat or
# ticket start is dropped, so disorder within grace on the chat and support topics changes these
# KPIs (kpis.md counts events within grace). Strict: a test fails once the engine handles its case,
# so that its mark gets removed.
def _known_gap(reason: str):
    return pytest.mark.xfail(strict=True, reason=reason)


@_known_gap("an agent message before chat_started is dropped; the next one counts as first")
def test_agent_message_arriving_before_its_chat_start_counts():
    snaps = compute([make_chat_message(12, "c", "agent"), make_chat_started(0, "c"),
                     make_chat_message(40, "c", "agent")])
    assert snaps("chat_first_response_time_s", "5m", 0) == 12  # 12 - 0, not 40 - 0


@_known_gap("a reply before ticket_created is dropped and marks the ticket replied")
def test_ticket_reply_arriving_before_its_creation_counts():
    snaps = compute([make_ticket_replied(12, "t"), make_ticket_created(0, "t")])
    assert snaps("first_response_time_s", "5m", 0) == 12  # 12 - 0


@_known_gap("the first reply to arrive counts, not the earliest")
def test_earliest_of_two_replies_arriving_in_reverse_order_counts():
    snaps = compute([make_ticket_created(0, "t"), make_ticket_replied(40, "t"), make_ticket_replied(12, "t")])
    assert snaps("first_response_time_s", "5m", 0) == 12  # 12 - 0, not 40 - 0
