"""Marketing KPIs read from sessions: affiliates, blog, hour of day, visitors, PPC, time on page, sources, paths."""
from __future__ import annotations

from .kpi import COUNT, CURRENCY, EVENT, MARKETING, RATIO, SALES, SECONDS, SESSION, Kpi, declare_traits
from .kpi import kpi as _k

_CLICK = ("page_viewed", "product_viewed", "product_added", "checkout_started")
_ORDER = ("order_completed",)

# Dims `affiliate` and `source` are bounded labels (sessions.source_label): a known search
# engine or social site, "(direct)", a source listed in EngineConfig.tracked_sources, else "other".
KPIS: tuple[Kpi, ...] = (
    _k("affiliate_sessions", 1, MARKETING, "affiliate_sessions", None, COUNT, SESSION, ("affiliate",),
       "Sessions from the affiliate channel, by affiliate (the campaign source, else the referrer host).",
       "count of sessions with channel affiliate", _CLICK),
    _k("affiliate_revenue", 1, MARKETING, "affiliate_revenue", None, CURRENCY, SESSION, ("affiliate",),
       "Session-attributed revenue of affiliate sessions.", "revenue of the affiliate sessions' orders",
       _CLICK + _ORDER),
    _k("affiliate_conversion_rate", 1, MARKETING, "affiliate_converted_sessions", "affiliate_sessions", RATIO,
       SESSION, ("affiliate",), "Share of affiliate sessions with one or more orders.",
       "converted affiliate sessions / affiliate sessions", _CLICK + _ORDER),
    _k("blog_page_views", 3, MARKETING, "blog_page_views", None, COUNT, SESSION, ("channel",),
       "Views of blog pages (page_viewed with page type blog), by event time.",
       "count of page_viewed with page type blog", ("page_viewed",)),
    _k("blog_sessions", 3, MARKETING, "blog_sessions", None, COUNT, SESSION, ("channel",),
       "Sessions with one or more blog page views.", "count of sessions with a blog page view",
       ("page_viewed",)),
    # Hour of day on the store's clock (EngineConfig.store_timezone); the 1d window itself
    # stays aligned to UTC midnight.
    _k("sessions_by_hour", 7, MARKETING, "sessions", None, COUNT, SESSION, ("hour",),
       "Sessions by the store-local hour of their start.", "count of sessions by start hour", _CLICK,
       windows=("1d",)),
    _k("revenue_by_hour", 7, MARKETING, "revenue", None, CURRENCY, EVENT, ("hour",),
       "Order revenue by the store-local hour of the order.", "sum of order revenue by order hour", _ORDER,
       windows=("1d",)),
    _k("new_visitor_sessions", 11, MARKETING, "new_visitor_sessions", None, COUNT, SESSION, ("channel", "device"),
       "Sessions whose visitor had no earlier session.", "count of new-visitor sessions", _CLICK),
    _k("returning_visitor_sessions", 11, MARKETING, "returning_visitor_sessions", None, COUNT, SESSION,
       ("channel", "device"), "Sessions whose visitor had an earlier session.",
       "count of returning-visitor sessions", _CLICK),
    _k("ppc_sessions", 14, MARKETING, "ppc_sessions", None, COUNT, SESSION, (),
       "Sessions from paid search or paid social.", "count of sessions with channel paid_search or paid_social",
       _CLICK),
    _k("ppc_session_share", 14, MARKETING, "ppc_sessions", "sessions", RATIO, SESSION, (),
       "Share of sessions from paid search or paid social.", "PPC sessions / sessions", _CLICK),
    _k("avg_time_on_page_s", 21, MARKETING, "time_on_page_s", "timed_page_views", SECONDS, SESSION,
       ("page_type",), "Mean time from a page view to the next event of its session (the session's "
       "first 500 events; a last page view has no time).",
       "sum(next event - page view) / page views followed by an event", _CLICK),
    # The traffic source breakdown of `sessions` as a KPI of its own, so the snapshots and
    # series of `sessions` stay as they are.
    _k("sessions_by_source", 22, MARKETING, "sessions", None, COUNT, SESSION, ("channel", "source"),
       "Sessions by channel and by traffic source (campaign source, else referrer host).",
       "count of sessions", _CLICK),
    _k("product_relationship", 38, SALES, "view_transitions", None, COUNT, SESSION, (),
       "Top 20 transitions A -> B between consecutive product views (different products) of a session, "
       "at the time of B.", "count of consecutive product_viewed pairs A -> B", ("product_viewed",),
       ranking="relationship"),
)

declare_traits("money", "affiliate_revenue")
declare_traits("ranking", "view_transitions")
