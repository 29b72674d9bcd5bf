"""Customer service: chats, tickets and surveys (response, resolution, CSAT, NPS)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from schemas.events import Event

from .aggregates import UNKNOWN
from .registry import EVENT
from .state import TrackedStore

if TYPE_CHECKING:
    from .engine import KpiEngine

# Chat record:   {"t": started, "channel": chat channel, "replied": bool}
# Ticket record: {"t": created or None (never seen), "channel": support channel,
#                 "replied": bool, "resolved": bool, "escalated": bool}


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
        conversation = data["conversation_id"]
        if conversation in self.chats:
            self.engine.counters["repeated_chat_start"] += 1
            return
        channel = data.get("channel") or UNKNOWN
        self.chats[conversation] = {"t": t, "channel": channel, "replied": False}
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
        chat = self.chats.get(data["conversation_id"])
        if chat is None:
            self.engine.counters["reply_to_unknown_chat"] += 1
            return
        if chat["replied"]:
            return
        chat["replied"] = True
        self.chats.touch(data["conversation_id"])
        self.engine.contribute(EVENT, event.time_s, {"chat_channel": chat["channel"]}, {
            "chat_first_response_s": round(event.time_s - chat["t"], 3), "chat_first_responses": 1})

    # --------------------------------------------------------------- tickets
    def on_ticket_created(self, event: Event) -> None:
        data, t = event.data, event.time_s
        ticket_id = data["ticket_id"]
        ticket = self.tickets.get(ticket_id)
        if ticket is not None and ticket["t"] is not None:
            self.engine.counters["repeated_ticket_created"] += 1
            return
        channel = data.get("channel") or UNKNOWN
        if ticket is None:
            ticket = {"replied": False, "resolved": False, "escalated": False}
        ticket.update({"t": t, "channel": channel})
        self.tickets[ticket_id] = ticket
        self.engine.contribute(EVENT, t, {"support_channel": channel}, {"tickets_created": 1})

    def _ticket(self, ticket_id: str) -> dict:
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            ticket = self.tickets[ticket_id] = {
                "t": None, "channel": UNKNOWN, "replied": False, "resolved": False, "escalated": False}
        return ticket

    def _first(self, event: Event, flag: str, amounts_of) -> None:
        """Count the first `flag` event of a ticket; durations need the creation time."""
        ticket_id = event.data["ticket_id"]
        ticket = self._ticket(ticket_id)
        if ticket[flag]:
            return
        ticket[flag] = True
        self.tickets.touch(ticket_id)
        amounts = amounts_of(ticket)
        if amounts is None:
            self.engine.counters[f"{flag}_without_created"] += 1
            return
        self.engine.contribute(EVENT, event.time_s, {"support_channel": ticket["channel"]}, amounts)

    def on_ticket_replied(self, event: Event) -> None:
        data = event.data
        if data.get("author") != "agent" or data.get("public", True) is False:
            return
        t = event.time_s
        self._first(event, "replied", lambda tk: None if tk["t"] is None else {
            "ticket_first_response_s": round(t - tk["t"], 3), "ticket_first_responses": 1})

    def on_ticket_resolved(self, event: Event) -> None:
        t = event.time_s
        self._first(event, "resolved", lambda tk: None if tk["t"] is None else {
            "ticket_resolution_s": round(t - tk["t"], 3), "ticket_resolutions": 1})

    def on_ticket_escalated(self, event: Event) -> None:
        self._first(event, "escalated", lambda tk: {"tickets_escalated": 1})

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
        for store in (self.chats, self.tickets):
            for key in [k for k, v in store.items() if v["t"] is not None and v["t"] < horizon]:
                store.pop(key)
