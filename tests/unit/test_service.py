"""Customer service KPIs: response and resolution times, escalations, CSAT, NPS, chats, hit rate."""
from __future__ import annotations

import itertools

import pytest

from eventkit import (ACTIVE, IDLE, T0, Snapshots, compute, engine, iso, make_chat_message, make_chat_started,
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


# Arrival order. Producers need not key chat and support events by conversation or ticket,
# so a reply may arrive before its start, or before an earlier reply: the stream and the batch
# computation over the file must still agree. Each scenario below is listed in time order and
# also fed reversed (every event before its start) and with the starts first and the rest
# reversed (each earlier event after a later one: the later one's contribution is taken back).
STARTS = {"chat_started", "ticket_created"}
ARRIVALS = ["in time order", "reversed", "starts first, rest reversed"]


def arrive(events: list, arrival: str) -> list:
    if arrival == "in time order":
        return list(events)
    if arrival == "reversed":
        return events[::-1]
    starts = [e for e in events if e.type in STARTS]
    return starts + [e for e in events if e.type not in STARTS][::-1]


def window_records(snaps: Snapshots, window: str, start: float) -> list[dict]:
    return [r for r in snaps.records if r["window"] == window and r["window_start"] == iso(start)]


# u-1 email created @0: public agent reply @20 (first response 20), @150; escalated @50, @130;
#                       resolved @100 (resolution 100), @200
# u-2 chat  created @10: agent reply @70 (60); resolved @250 (240)
# Minutes 120 and 180 hold only events that are not first: no records there, whatever the order.
ORDERLESS_TICKETS = [
    make_ticket_created(0, "u-1", "email"),
    make_ticket_created(10, "u-2", "chat"),
    make_ticket_replied(20, "u-1"),
    make_ticket_event("ticket_escalated", 50, "u-1"),
    make_ticket_replied(70, "u-2"),
    make_ticket_event("ticket_resolved", 100, "u-1"),
    make_ticket_event("ticket_escalated", 130, "u-1"),
    make_ticket_replied(150, "u-1"),
    make_ticket_event("ticket_resolved", 200, "u-1"),
    make_ticket_event("ticket_resolved", 250, "u-2"),
]

ORDERLESS_TICKET_CASES = [
    ("service_requests", "5m", 0, {}, 2, "u-1, u-2"),
    ("service_requests", "5m", 0, {"support_channel": "email"}, 1, "u-1"),
    ("first_response_time_s", "5m", 0, {}, 40, "(20 - 0 + 70 - 10) / 2"),
    ("first_response_time_s", "5m", 0, {"support_channel": "email"}, 20, "u-1: 20 - 0, not 150 - 0"),
    ("first_response_time_s", "1m", 0, {}, 20, "u-1's first reply @20"),
    ("first_response_time_s", "1m", 60, {}, 60, "u-2's reply @70: 70 - 10"),
    ("avg_resolution_time_s", "5m", 0, {}, 170, "(100 - 0 + 250 - 10) / 2"),
    ("avg_resolution_time_s", "1m", 60, {}, 100, "u-1 resolved @100, not @200"),
    ("avg_resolution_time_s", "1m", 240, {}, 240, "u-2 resolved @250: 250 - 10"),
    ("escalation_rate", "5m", 0, {}, 0.5, "u-1 once / 2 created"),
    ("escalation_rate", "5m", 0, {"support_channel": "email"}, 1.0, "u-1 / u-1"),
    ("escalation_rate", "5m", 0, {"support_channel": "chat"}, 0.0, "0 / u-2"),
    ("escalation_rate", "1m", 0, {}, 0.5, "escalated @50; created @0, @10"),
]


@pytest.fixture(scope="module", params=ARRIVALS)
def orderless_tickets(request) -> Snapshots:
    return compute(arrive(ORDERLESS_TICKETS, request.param))


@pytest.mark.parametrize(("kpi", "window", "start", "dims", "expected", "why"), ORDERLESS_TICKET_CASES)
def test_ticket_kpis_in_any_arrival_order(orderless_tickets, kpi, window, start, dims, expected, why):
    assert orderless_tickets(kpi, window, start, **dims) == expected, why


def test_ticket_events_that_are_not_first_leave_no_trace_in_any_arrival_order(orderless_tickets):
    assert window_records(orderless_tickets, "1m", 120) == []  # escalation @130, reply @150
    assert window_records(orderless_tickets, "1m", 180) == []  # resolution @200
    # Escalations seen before their ticket count with channel unknown until it arrives.
    assert orderless_tickets.get("escalation_rate", "5m", 0, support_channel="unknown") is None


def test_ticket_snapshots_are_identical_in_every_arrival_order():
    by_arrival = [compute(arrive(ORDERLESS_TICKETS, arrival)).by_key for arrival in ARRIVALS]
    assert by_arrival[1] == by_arrival[0]
    assert by_arrival[2] == by_arrival[0]


# c-1 web_chat visitor @0: bot @5 (excluded), agent @12 (first response 12), agent @40, @130
# c-2 whatsapp visitor @30: visitor @35 (ignored), agent @90 (60)
ORDERLESS_CHATS = [
    make_chat_started(0, "c-1", channel="web_chat"),
    make_chat_message(5, "c-1", "bot"),
    make_chat_message(12, "c-1", "agent"),
    make_chat_started(30, "c-2", channel="whatsapp"),
    make_chat_message(35, "c-2", "visitor"),
    make_chat_message(40, "c-1", "agent"),
    make_chat_message(90, "c-2", "agent"),
    make_chat_message(130, "c-1", "agent"),
]


@pytest.mark.parametrize("arrival", ARRIVALS)
def test_chat_kpis_in_any_arrival_order(arrival):
    snaps = compute(arrive(ORDERLESS_CHATS, arrival))
    assert snaps("chat_first_response_time_s", "5m", 0) == 36  # (12 - 0 + 90 - 30) / 2
    assert snaps("chat_first_response_time_s", "5m", 0, chat_channel="web_chat") == 12  # not 40, not 130
    assert snaps("chat_first_response_time_s", "1m", 0) == 12  # c-1's reply @12
    assert snaps("chat_first_response_time_s", "1m", 60) == 60  # c-2's reply @90: 90 - 30
    assert snaps("chats_initiated", "5m", 0) == 2  # c-1, c-2
    assert snaps("chats_initiated", "1m", 0, chat_channel="whatsapp") == 1  # c-2
    assert window_records(snaps, "1m", 120) == []  # c-1's agent message @130 is not first


def test_chat_snapshots_are_identical_in_every_arrival_order():
    by_arrival = [compute(arrive(ORDERLESS_CHATS, arrival)).by_key for arrival in ARRIVALS]
    assert by_arrival[1] == by_arrival[0]
    assert by_arrival[2] == by_arrival[0]


def test_agent_message_arriving_before_its_chat_start_counts():
    snaps = compute([make_chat_message(12, "c", "agent"), make_chat_started(0, "c"),
                     make_chat_message(40, "c", "agent")])
    assert snaps("chat_first_response_time_s", "5m", 0) == 12  # 12 - 0, not 40 - 0


def test_early_reply_waits_for_its_chat_start_and_is_counted_at_its_own_time():
    eng = engine()
    eng.ingest([make_chat_message(70, "c", "agent")], ACTIVE)
    assert eng.counters["reply_to_unknown_chat"] == 1  # no start yet: nothing counted
    eng.ingest([make_chat_started(0, "c", channel="whatsapp")], ACTIVE)
    snaps = Snapshots(eng.advance(IDLE, T0) + eng.flush(T0))
    assert snaps("chat_first_response_time_s", "1m", 60, chat_channel="whatsapp") == 70  # 70 - 0, at 70
    assert snaps.get("chat_first_response_time_s", "1m", 0) is None  # minute 0 has the start only
    assert snaps("chats_initiated", "1m", 0) == 1


def test_ticket_reply_arriving_before_its_creation_counts():
    snaps = compute([make_ticket_replied(12, "t"), make_ticket_created(0, "t")])
    assert snaps("first_response_time_s", "5m", 0) == 12  # 12 - 0


def test_earliest_of_two_replies_arriving_in_reverse_order_counts():
    snaps = compute([make_ticket_created(0, "t"), make_ticket_replied(40, "t"), make_ticket_replied(12, "t")])
    assert snaps("first_response_time_s", "5m", 0) == 12  # 12 - 0, not 40 - 0


@pytest.mark.parametrize("arrival", ["escalation first", "creation first"])
def test_escalation_before_its_ticket_moves_to_the_ticket_channel(arrival):
    events = [make_ticket_event("ticket_escalated", 50, "t"), make_ticket_created(0, "t", "chat")]
    snaps = compute(events if arrival == "escalation first" else events[::-1])
    assert snaps("escalation_rate", "1m", 0, support_channel="chat") == 1.0  # 1 escalated / 1 created
    assert snaps("escalation_rate", "1m", 0) == 1.0
    assert snaps.get("escalation_rate", "1m", 0, support_channel="unknown") is None


def test_escalation_of_a_ticket_never_created_counts_with_channel_unknown():
    record = compute([make_ticket_event("ticket_escalated", 50, "t")]).get(
        "escalation_rate", "1m", 0, support_channel="unknown")
    assert (record["numerator"], record["denominator"], record["value"]) == (1, 0, None)  # no ticket created


# A first event stamped before its start (clock skew between producers) counts as an immediate
# answer, at its own time: every arrival order of these three events gives 0.
@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
@pytest.mark.parametrize(("events", "kpi"), [
    ([make_chat_message(4, "k", "agent"), make_chat_started(10, "k"), make_chat_message(25, "k", "agent")],
     "chat_first_response_time_s"),
    ([make_ticket_replied(4, "s"), make_ticket_created(10, "s"), make_ticket_replied(25, "s")],
     "first_response_time_s"),
    ([make_ticket_event("ticket_resolved", 4, "s"), make_ticket_created(10, "s"),
      make_ticket_event("ticket_resolved", 25, "s")], "avg_resolution_time_s"),
], ids=["chat", "ticket reply", "resolution"])
def test_first_event_stamped_before_its_start_counts_as_immediate(events, kpi, order):
    record = compute([events[i] for i in order]).get(kpi, "1m", 0)
    assert (record["numerator"], record["denominator"]) == (0, 1)  # max(0, 4 - 10); not 25 - 10


def test_stream_with_disorder_within_grace_matches_the_batch_in_time_order():
    # Arrival order; each event is at most 35 s behind the newest one (grace 60 s).
    arrivals = [
        make_ticket_replied(20, "s-1"),  # before its ticket
        make_ticket_event("ticket_escalated", 25, "s-1"),  # before its ticket: channel unknown
        make_ticket_created(5, "s-1", "chat"),
        make_ticket_event("ticket_resolved", 80, "s-1"),
        make_ticket_event("ticket_resolved", 70, "s-1"),  # earlier than @80: replaces it
        make_chat_message(95, "c", "agent"),
        make_chat_started(60, "c"),
        make_chat_message(90, "c", "agent"),  # earlier than @95: replaces it
    ]
    eng = engine()
    snapshots = []
    for one in arrivals:
        report = eng.ingest([one], ACTIVE)
        assert report.late == []
        snapshots += eng.advance(IDLE, T0)
    stream = Snapshots(snapshots + eng.flush(T0))
    batch = compute(sorted(arrivals, key=lambda e: e.time_s))
    assert stream.by_key == batch.by_key
    assert stream("first_response_time_s", "1m", 0, support_channel="chat") == 15  # 20 - 5
    assert stream("escalation_rate", "1m", 0, support_channel="chat") == 1.0  # 1 escalated / 1 created
    assert stream.get("escalation_rate", "1m", 0, support_channel="unknown") is None
    assert stream("avg_resolution_time_s", "1m", 60) == 65  # 70 - 5, not 80 - 5
    assert stream("chat_first_response_time_s", "1m", 60) == 30  # 90 - 60, not 95 - 60


def test_chats_and_tickets_seen_before_their_start_expire_like_the_others():
    eng = engine(entity_retention_s=3600.0)
    eng.ingest([make_ticket_replied(10, "t-early"), make_chat_message(10, "c-early", "agent"),
                make_ticket_created(20, "t-known")], ACTIVE)
    eng.advance(IDLE, T0)  # stream time 20: nothing older than 20 - 3600
    assert {"t-early", "t-known"} <= set(eng.service.tickets) and "c-early" in eng.service.chats
    eng.ingest([make_ticket_replied(7300, "t-late")], ACTIVE)
    eng.advance(IDLE, T0)  # stream time 7300, a later hour: horizon 7300 - 3600 = 3700 > 10, 20
    assert set(eng.service.tickets) == {"t-late"}  # first seen @7300: kept
    assert "c-early" not in eng.service.chats
