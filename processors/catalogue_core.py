"""Core KPIs: traffic, conversion, orders and customer service (catalogue numbers in `seed`)."""
from __future__ import annotations

from .kpi import (COUNT, CURRENCY, EVENT, MARKETING, RATIO, SALES, SCORE, SECONDS, SERVICE, SESSION, SESSION_DIMS,
                   Kpi, declare_traits)
from .kpi import kpi as _k

_CLICK = ("page_viewed", "product_viewed", "product_added", "checkout_started")
_ORDER = ("order_completed",)

KPIS: tuple[Kpi, ...] = (
    # Marketing: sessions and traffic (session-scoped, attributed to the session start).
    _k("sessions", 17, MARKETING, "sessions", None, COUNT, SESSION, SESSION_DIMS,
       "Sessions started in the window.", "count of sessions", _CLICK),
    _k("page_views", 17, MARKETING, "page_views", None, COUNT, SESSION, SESSION_DIMS,
       "Page views (page_viewed and product_viewed) by event time.", "count of page views", _CLICK[:2]),
    _k("visitors", 17, MARKETING, "visitors", None, COUNT, SESSION, SESSION_DIMS,
       "Distinct anonymous_id among sessions started in the window.", "distinct anonymous_id", _CLICK),
    _k("bounce_rate", 4, MARKETING, "bounced_sessions", "sessions", RATIO, SESSION, SESSION_DIMS,
       "Share of sessions with one page view and no cart, checkout or order.",
       "bounced sessions / sessions", _CLICK + _ORDER),
    _k("pages_per_session", 13, MARKETING, "session_page_views", "sessions", COUNT, SESSION, ("channel", "device"),
       "Mean page views per session.", "page views of the sessions / sessions", _CLICK[:2]),
    _k("avg_session_duration_s", 16, MARKETING, "session_duration_s", "sessions", SECONDS, SESSION,
       ("channel", "device"), "Mean time from a session's first to its last event.",
       "sum(last event - first event) / sessions", _CLICK),
    _k("new_visitor_share", 11, MARKETING, "new_visitor_sessions", "sessions", RATIO, SESSION, ("channel", "device"),
       "Share of sessions whose visitor had no earlier session.", "new-visitor sessions / sessions", _CLICK),
    _k("mobile_session_share", 12, MARKETING, "mobile_sessions", "sessions", RATIO, SESSION, ("channel",),
       "Share of sessions on a mobile device.", "mobile sessions / sessions", _CLICK),
    _k("chats_initiated", 10, MARKETING, "visitor_chats", None, COUNT, EVENT, ("chat_channel",),
       "Chats started by a visitor.", "count of chat_started with initiator visitor", ("chat_started",)),
    # Sales.
    _k("conversion_rate", 27, SALES, "converted_sessions", "sessions", RATIO, SESSION, SESSION_DIMS,
       "Share of sessions with one or more orders.", "sessions with an order / sessions", _CLICK + _ORDER),
    _k("cart_abandonment_rate", 29, SALES, "abandoned_cart_sessions", "cart_sessions", RATIO, SESSION,
       ("channel", "device"), "Share of sessions with a cart addition but no order.",
       "sessions with product_added and no order / sessions with product_added", ("product_added",) + _ORDER),
    _k("revenue_per_visit", 39, SALES, "session_revenue", "sessions", CURRENCY, SESSION, ("channel", "device"),
       "Session-attributed revenue per session.", "revenue of the sessions' orders / sessions", _CLICK + _ORDER),
    _k("orders", 36, SALES, "orders", None, COUNT, EVENT, ("country",),
       "Completed orders (deduplicated by order_id).", "count of order_completed", _ORDER),
    _k("revenue", 40, SALES, "revenue", None, CURRENCY, EVENT, ("country", "currency"),
       "Order revenue in the reporting currency.", "sum of order revenue", _ORDER),
    _k("aov", 24, SALES, "revenue", "orders", CURRENCY, EVENT, ("country", "new_vs_returning"),
       "Average order value.", "revenue / orders", _ORDER),
    _k("cogs", 31, SALES, "cogs", None, CURRENCY, EVENT, ("country",),
       "Cost of goods sold.", "sum over order products of cost x quantity", _ORDER),
    _k("gross_profit", 32, SALES, "gross_profit", None, CURRENCY, EVENT, ("country",),
       "Revenue minus cost of goods sold.", "revenue - COGS", _ORDER),
    _k("gross_margin", 34, SALES, "gross_profit", "revenue", RATIO, EVENT, ("country",),
       "Gross profit as a share of revenue.", "gross profit / revenue", _ORDER),
    _k("new_customer_orders", 35, SALES, "new_customer_orders", None, COUNT, EVENT, (),
       "Orders that are the first order of their customer_id.", "count of first orders per customer", _ORDER),
    # Customer service.
    _k("first_response_time_s", 51, SERVICE, "ticket_first_response_s", "ticket_first_responses", SECONDS, EVENT,
       ("support_channel",), "Mean time from ticket creation to the first public agent reply (at reply time).",
       "mean(first public agent ticket_replied - ticket_created)", ("ticket_created", "ticket_replied")),
    _k("chat_first_response_time_s", 51, SERVICE, "chat_first_response_s", "chat_first_responses", SECONDS, EVENT,
       ("chat_channel",), "Mean time from chat start to the first agent message (at reply time).",
       "mean(first agent chat_message - chat_started)", ("chat_started", "chat_message")),
    _k("avg_resolution_time_s", 48, SERVICE, "ticket_resolution_s", "ticket_resolutions", SECONDS, EVENT,
       ("support_channel",), "Mean time from ticket creation to its first resolution (at resolution time).",
       "mean(first ticket_resolved - ticket_created)", ("ticket_created", "ticket_resolved")),
    _k("service_requests", 50, SERVICE, "tickets_created", None, COUNT, EVENT, ("support_channel",),
       "Support tickets created.", "count of ticket_created", ("ticket_created",)),
    _k("csat", 49, SERVICE, "csat_satisfied", "csat_responses", RATIO, EVENT, ("touchpoint",),
       "Share of CSAT responses scoring 4 or 5.", "csat responses 4-5 / csat responses", ("survey_responded",)),
    _k("nps", 53, SERVICE, "nps_net_promoters", "nps_responses", SCORE, EVENT, ("touchpoint",),
       "Net promoter score, -100..100.", "(responses 9-10 - responses 0-6) / responses x 100",
       ("survey_responded",), scale=100.0),
    _k("escalation_rate", 54, SERVICE, "tickets_escalated", "tickets_created", RATIO, EVENT, ("support_channel",),
       "Tickets escalated for the first time in the window / tickets created in the window.",
       "first escalations / tickets created", ("ticket_created", "ticket_escalated")),
    _k("hit_rate", 52, SERVICE, "presales_chats_converted", "presales_chats", RATIO, SESSION, ("chat_channel",),
       "Share of pre-sales chats started by a visitor whose session converted (at chat start).",
       "pre_sales visitor chats whose session converted / those chats", ("chat_started", "order_completed")),
)


declare_traits("distinct", "visitors")
declare_traits("money", "revenue", "cogs", "gross_profit", "session_revenue")
