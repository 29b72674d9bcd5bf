"""Marketing feed KPIs: ads, email, SMS, social and reviews from `shop.marketing` (catalogue 2-23, 28)."""
from __future__ import annotations

from .kpi import REPORT_WINDOWS, COUNT, CURRENCY, EVENT, MARKETING, RATIO, SALES, SCORE, Kpi, declare_traits
from .kpi import kpi as _k

_AD = ("ad_performance_reported",)
_SPEND = ("marketing_spend_reported",)
_SOCIAL = ("social_stats_reported",)
_DELIVERED = ("email_delivered",)
_EMAIL_LIST = ("email_subscribed", "email_unsubscribed")
_SMS_LIST = ("sms_subscribed", "sms_unsubscribed")
_REVIEW = ("product_reviewed",)

# Periodic reports (ads, spend, social) count in the window containing their
# `period_start` (see processors/marketing.py). The feeds report hourly, so a report
# reaches a worker after the 1m and 5m windows of its period_start are final: KPIs read
# only from reports are published for the 1h and 1d windows, where stream and batch agree.

KPIS: tuple[Kpi, ...] = (
    # Ads (2, 5, 6), attributed to period_start.
    _k("ad_avg_position", 2, MARKETING, "ad_position_impressions", "ad_positioned_impressions", SCORE, EVENT,
       ("platform",), "Impression-weighted mean ad position (1 = top), over reports that carry one.",
       "sum(avg_position x impressions) / sum(impressions), reports with avg_position", _AD,
       windows=REPORT_WINDOWS),
    _k("ad_top_impression_share", 2, MARKETING, "ad_top_impressions", "ad_top_reported_impressions", RATIO, EVENT,
       ("platform",), "Share of impressions shown at the top of the page, over reports that carry it.",
       "sum(top_impressions) / sum(impressions), reports with top_impressions", _AD, windows=REPORT_WINDOWS),
    _k("ad_clicks", 5, MARKETING, "ad_clicks", None, COUNT, EVENT, ("platform",),
       "Ad clicks reported by the ad platforms.", "sum(clicks) of ad reports", _AD, windows=REPORT_WINDOWS),
    _k("ad_ctr", 6, MARKETING, "ad_clicks", "ad_impressions", RATIO, EVENT, ("platform",),
       "Ad click-through rate.", "sum(clicks) / sum(impressions) of ad reports", _AD, windows=REPORT_WINDOWS),
    # Email engagement (5, 8, 23) by event time; campaign values are bounded (processors/labels.py).
    _k("email_clicks", 5, MARKETING, "email_clicks", None, COUNT, EVENT, ("campaign",),
       "Clicks on links in campaign emails.", "count of email_clicked", ("email_clicked",)),
    _k("email_open_rate", 8, MARKETING, "email_first_opens", "email_delivered", RATIO, EVENT, ("campaign",),
       "First opens of a campaign email per email delivered.",
       "first email_opened per (campaign, contact) / email_delivered", _DELIVERED + ("email_opened",)),
    _k("email_unsubscribes", 23, MARKETING, "email_unsubscribes", None, COUNT, EVENT, ("campaign",),
       "Email unsubscriptions (campaign `unknown` when the event names none).", "count of email_unsubscribed",
       ("email_unsubscribed",)),
    _k("unsubscribe_rate", 23, MARKETING, "email_unsubscribes", "email_delivered", RATIO, EVENT, ("campaign",),
       "Email unsubscriptions per email delivered.", "email_unsubscribed / email_delivered",
       _DELIVERED + ("email_unsubscribed",)),
    # Subscriber lists (9, 20): running gauges of contacts whose latest status is subscribed.
    _k("email_subscribers", 9, MARKETING, "email_subscribers", None, COUNT, EVENT, (),
       "Email contacts whose latest status (by event time) is subscribed, as of the window end.",
       "contacts whose latest email_subscribed/unsubscribed is a subscribe (running)", _EMAIL_LIST),
    _k("email_subscribes", 9, MARKETING, "email_subscribes", None, COUNT, EVENT, (),
       "Email subscribe events.", "count of email_subscribed", ("email_subscribed",)),
    _k("sms_subscribers", 20, MARKETING, "sms_subscribers", None, COUNT, EVENT, (),
       "SMS contacts whose latest status (by event time) is subscribed, as of the window end.",
       "contacts whose latest sms_subscribed/unsubscribed is a subscribe (running)", _SMS_LIST),
    _k("sms_subscribes", 20, MARKETING, "sms_subscribes", None, COUNT, EVENT, (),
       "SMS subscribe events.", "count of sms_subscribed", ("sms_subscribed",)),
    # Reviews (15) by event time.
    _k("reviews", 15, MARKETING, "reviews", None, COUNT, EVENT, ("category",),
       "Product reviews published.", "count of product_reviewed", _REVIEW),
    _k("review_avg_rating", 15, MARKETING, "review_rating_sum", "reviews", SCORE, EVENT, ("category",),
       "Mean rating (1-5) of the reviews published.", "sum(rating) / reviews", _REVIEW),
    _k("review_positive_share", 15, MARKETING, "positive_reviews", "reviews", RATIO, EVENT, ("category",),
       "Share of reviews rated 4 or 5.", "reviews rated 4-5 / reviews", _REVIEW),
    # Social (18, 19), attributed to period_start.
    _k("social_followers", 18, MARKETING, "social_followers", None, COUNT, EVENT, ("platform",),
       "Followers of the shop's accounts: latest report per (platform, account), as of the window end.",
       "sum over accounts of the latest reported followers (running)", _SOCIAL, windows=REPORT_WINDOWS),
    _k("social_likes", 18, MARKETING, "social_likes", None, COUNT, EVENT, ("platform",),
       "Likes reported by the social platforms.", "sum(likes)", _SOCIAL, windows=REPORT_WINDOWS),
    _k("social_engagement_rate", 19, MARKETING, "social_engagements", "social_reach", RATIO, EVENT, ("platform",),
       "Engagements (likes, comments, shares, saves) per account reached.",
       "sum(likes + comments + shares + saves) / sum(reach)", _SOCIAL, windows=REPORT_WINDOWS),
    # Acquisition spend, the numerator of CAC (28), attributed to period_start.
    _k("ad_cost", 28, SALES, "ad_cost", None, CURRENCY, EVENT, (),
       "Cost of the ad campaigns reported by the ad platforms.", "sum(cost) of ad reports", _AD,
       windows=REPORT_WINDOWS),
    _k("marketing_spend", 28, SALES, "marketing_spend", None, CURRENCY, EVENT, (),
       "Marketing spend outside the ad platforms (affiliates, email, influencers, ...).",
       "sum(amount) of marketing_spend_reported", _SPEND, windows=REPORT_WINDOWS),
    _k("acquisition_spend", 28, SALES, "acquisition_spend", None, CURRENCY, EVENT, (),
       "Ad cost plus other marketing spend: the numerator of CAC.",
       "sum(ad report cost) + sum(marketing_spend_reported amount)", _AD + _SPEND, windows=REPORT_WINDOWS),
)


declare_traits("money", "ad_cost", "marketing_spend", "acquisition_spend")
declare_traits("cumulative", "email_subscribers", "sms_subscribers", "social_followers")
