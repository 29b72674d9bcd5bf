"""Customer service: chats, tickets and surveys (response, resolution, CSAT, NPS)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from schemas.events import Event

from .aggregates import UNKNOWN
from .registry import EVENT
from .state import TrackedStore

if TYPE_CHECKING:
    from .engine import KpiEngine

# Events of a chat or ticket may arrive in any order (producers need not key them by
# conversation or ticket), so each record keeps the start and the *earliest* time of each
# "first" event seen so far; None while not seen yet:
#   Chat:   {"t": chat_started, "channel": chat channel, "first_reply": agent message}
#   Ticket: {"t": ticket_created, "channel": support channel, "first_reply": public agent reply,
#            "first_resolution": ticket_resolved, "first_escalation": ticket_escalated}
# A record made by an event that came before its start also holds "seen" (the time of
# that event) until the start arrives, so that it expires like the others.
#
# The contributions of a record are a function of it (`_chat_contributions`,
# `_ticket_contributions`); when an event changes the record (an earlier reply, the start,
# the channel), the contributions that changed are retracted and added anew, so the
# totals are those of the earliest events whatever the arrival order.
CHAT_FIRSTS = ("first_reply",)
TICKET_FIRSTS = ("first_reply", "first_resolution", "first_escalation")

# Ticket firsts measured from the creation: field -> (duration measure, count measure).
TICKET_DURATIONS = {
    "first_reply": ("ticket_first_response_s", "ticket_first_responses"),
    "first_resolution": ("ticket_resolution_s", "ticket_resolutions"),
}

# kind -> (time, dims, amounts)
Contributions = dict[str, tuple[float, dict, dict]]


def _duration_s(at: float, start: float) -> float:
    """Seconds from start to a first event; 0 for an event stamped before its start.

    Such an event (clock skew between producers) is taken as an immediate answer. Ignoring
    it instead would need every later event kept until the start arrives, or else make the
    result depend on arrival order.
    """
    return max(0.0, round(at - start, 3))


def _chat_contributions(chat: dict) -> Contributions:
    at = chat["first_reply"]
    if chat["t"] is None or at is None:
        return {}
    amounts = {"chat_first_response_s": _duration_s(at, chat["t"]), "chat_first_responses": 1}
    return {"first_reply": (at, {"chat_channel": chat["channel"]}, amounts)}


def _ticket_contributions(ticket: dict) -> Contributions:
    """Escalations count without a creation (channel unknown); durations need it."""
    dims = {"support_channel": ticket["channel"]}
    result = {}
    if ticket["first_escalation"] is not None:
        result["first_escalation"] = (ticket["first_escalation"], dims, {"tickets_escalated": 1})
    if ticket["t"] is not None:
        for field, (duration, count) in TICKET_DURATIONS.items():
            at = ticket[field]
            if at is not None:
                result[field] = (at, dims, {duration: _duration_s(at, ticket["t"]), count: 1})
    return result


class ServiceTracker:
    def __init__(self, engine: KpiEngine):
        self.engine = engine
        self.chats = TrackedStore("chats")
        self.tickets = TrackedStore("tickets")
        self.reply_authors = {"agent", "bot"} if engine.config.count_bot_chat_replies else {"agent"}

    def stores(self) -> list[TrackedStore]:
        return [self.chats, self.tickets]

    def handlers(self):
        return {
            "chat_started": self.on_chat_started,
            "chat_message": self.on_chat_message,
            "ticket_created": self.on_ticket_created,
            "ticket_replied": self.on_ticket_replied,
            "ticket_escalated": self.on_ticket_escalated,
            "ticket_resolved": self.on_ticket_resolved,
            "survey_responded": self.on_survey_responded,
        }

    # ------------------------------------------------------------------ chat
    def on_chat_started(self, event: Event) -> None:
        data, t = event.data, event.time_s
        channel = data.get("channel") or UNKNOWN
        if not self._start(self.chats, data["conversation_id"], t, channel, CHAT_FIRSTS, _chat_contributions):
            self.engine.counters["repeated_chat_start"] += 1
            return
        if data.get("initiator") != "visitor":
            return
        self.engine.contribute(EVENT, t, {"chat_channel": channel}, {"visitor_chats": 1})
        if data.get("intent") == "pre_sales":
            session_id = data.get("session_id")
            if session_id:
                self.engine.sessions.add_pending(session_id, "c", [t, channel])
            else:
                self.engine.sessions.resolve_chat(t, channel, False)

    def on_chat_message(self, event: Event) -> None:
        data = event.data
        if data.get("author") not in self.reply_authors:
            return
        self._first(self.chats, data["conversation_id"], "first_reply", event.time_s, CHAT_FIRSTS,
                    _chat_contributions, "reply_to_unknown_chat")

    # --------------------------------------------------------------- tickets
    def on_ticket_created(self, event: Event) -> None:
        data, t = event.data, event.time_s
        channel = data.get("channel") or UNKNOWN
        if not self._start(self.tickets, data["ticket_id"], t, channel, TICKET_FIRSTS, _ticket_contributions):
            self.engine.counters["repeated_ticket_created"] += 1
            return
        self.engine.contribute(EVENT, t, {"support_channel": channel}, {"tickets_created": 1})

    def on_ticket_replied(self, event: Event) -> None:
        data = event.data
        if data.get("author") != "agent" or data.get("public", True) is False:
            return
        self._first(self.tickets, data["ticket_id"], "first_reply", event.time_s, TICKET_FIRSTS,
                    _ticket_contributions, "replied_without_created")

    def on_ticket_resolved(self, event: Event) -> None:
        self._first(self.tickets, event.data["ticket_id"], "first_resolution", event.time_s, TICKET_FIRSTS,
                    _ticket_contributions, "resolved_without_created")

    def on_ticket_escalated(self, event: Event) -> None:
        self._first(self.tickets, event.data["ticket_id"], "first_escalation", event.time_s, TICKET_FIRSTS,
                    _ticket_contributions, None)

    # ---------------------------------------------------- order independence
    def _start(self, store: TrackedStore, key: str, t: float, channel: str, firsts: tuple[str, ...],
               contributions: Callable[[dict], Contributions]) -> bool:
        """Record the start of a chat or ticket; False when it was already known."""
        record = store.get(key)
        if record is None:
            store[key] = {"t": t, "channel": channel, **dict.fromkeys(firsts)}
            return True
        if record["t"] is not None:
            return False
        before = contributions(record)
        record.pop("seen", None)
        record.update(t=t, channel=channel)
        store.touch(key)
        self._revise(before, contributions(record))
        return True

    def _first(self, store: TrackedStore, key: str, field: str, t: float, firsts: tuple[str, ...],
               contributions: Callable[[dict], Contributions], unknown_start_counter: str | None) -> None:
        """Keep the earliest `field` event of a chat or ticket, whose start may come later."""
        record = store.get(key)
        if record is None:
            record = store[key] = {"t": None, "channel": UNKNOWN, "seen": t, **dict.fromkeys(firsts)}
        elif record[field] is not None and record[field] <= t:
            return
        if unknown_start_counter and record["t"] is None and record[field] is None:
            self.engine.counters[unknown_start_counter] += 1  # waits for its start, maybe forever
        before = contributions(record)
        record[field] = t
        store.touch(key)
        self._revise(before, contributions(record))

    def _revise(self, before: Contributions, after: Contributions) -> None:
        """Retract the contributions that changed (at their old time) and add their new version."""
        for kind in sorted(before.keys() | after.keys()):
            old, new = before.get(kind), after.get(kind)
            if old == new:
                continue
            if old is not None:
                self.engine.retract(EVENT, *old)
            if new is not None:
                self.engine.contribute(EVENT, *new)

    # --------------------------------------------------------------- surveys
    def on_survey_responded(self, event: Event) -> None:
        data = event.data
        score, survey = data["score"], data["survey"]
        dims = {"touchpoint": data.get("touchpoint") or UNKNOWN}
        if survey == "csat":
            amounts = {"csat_responses": 1, "csat_satisfied": int(score >= 4)}
        elif survey == "nps":
            amounts = {"nps_responses": 1, "nps_net_promoters": 1 if score >= 9 else (-1 if score <= 6 else 0)}
        else:
            return
        self.engine.contribute(EVENT, event.time_s, dims, amounts)

    def expire(self, horizon: float) -> None:
        """Forget chats and tickets started (or, start unknown, first seen) before `horizon`."""
        for store in (self.chats, self.tickets):
            for key in [k for k, v in store.items() if _known_since(v) < horizon]:
                store.pop(key)


def _known_since(record: dict) -> float:
    """The start time, else the time of the first event seen."""
    return record["t"] if record["t"] is not None else record["seen"]
