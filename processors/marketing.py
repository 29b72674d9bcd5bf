"""Marketing feeds: ad, spend and social reports, email and SMS lists and engagement, product reviews."""
from __future__ import annotations

from typing import TYPE_CHECKING

from schemas.events import Event
from schemas.timestamps import parse_time

from .aggregates import UNKNOWN
from .registry import EVENT
from .state import TrackedStore

if TYPE_CHECKING:
    from .engine import KpiEngine

POSITIVE_RATING = 4  # reviews rated 4 or 5 are positive

# Store shapes:
#   email_first_opens:      "campaign \x1f contact" -> time of the earliest open seen
#   list_status_by_contact: "email|contact" or "sms|contact" -> [time, event id, subscribed]
#   followers_by_account:   "platform \x1f account" -> [period_start, event time, event id, followers]


class MarketingTracker:
    """Turns marketing feed events into measure amounts.

    Reports (ads, spend, social) count in the window containing `period_start`; every other
    event at its event time. State: first opens per (campaign, contact), the latest list
    status per contact and the latest follower count per social account. Campaign, platform
    and category are free text: the engine-wide label cap (processors/labels.py,
    `max_label_values`) keeps them bounded as breakdown values.
    """

    def __init__(self, engine: KpiEngine):
        self.engine = engine
        self.first_opens = TrackedStore("email_first_opens")
        self.subscriptions = TrackedStore("list_status_by_contact")
        self.followers = TrackedStore("followers_by_account")

    def stores(self) -> list[TrackedStore]:
        return [self.first_opens, self.subscriptions, self.followers]

    def handlers(self):
        return {
            "ad_performance_reported": self.on_ad_performance_reported,
            "marketing_spend_reported": self.on_marketing_spend_reported,
            "social_stats_reported": self.on_social_stats_reported,
            "email_delivered": self.on_email_delivered,
            "email_opened": self.on_email_opened,
            "email_clicked": self.on_email_clicked,
            "email_subscribed": lambda e: self.on_list_event(e, "email", True),
            "email_unsubscribed": lambda e: self.on_list_event(e, "email", False),
            "sms_subscribed": lambda e: self.on_list_event(e, "sms", True),
            "sms_unsubscribed": lambda e: self.on_list_event(e, "sms", False),
            "product_reviewed": self.on_product_reviewed,
        }

    # --------------------------------------------------------------- reports
    def _money_known(self, event: Event) -> bool:
        currency = event.data["currency"]
        if self.engine.fx.known(currency):
            return True
        self.engine.reject(event, "bad_value:currency", f"no exchange rate for {currency}")
        return False

    def on_ad_performance_reported(self, event: Event) -> None:
        data = event.data
        if not self._money_known(event):
            return
        t, impressions = parse_time(data["period_start"]), data["impressions"]
        amounts = {"ad_impressions": impressions, "ad_clicks": data["clicks"],
                   "ad_cost": data["cost"], "acquisition_spend": data["cost"]}
        # Position and top share are averaged over the impressions of the reports that
        # carry them: a platform without positions says nothing, rather than "0".
        if data.get("avg_position") is not None:
            amounts["ad_position_impressions"] = data["avg_position"] * impressions
            amounts["ad_positioned_impressions"] = impressions
        if data.get("top_impressions") is not None:
            amounts["ad_top_impressions"] = data["top_impressions"]
            amounts["ad_top_reported_impressions"] = impressions
        self.engine.contribute(EVENT, t, {"platform": data["platform"]}, amounts, currency=data["currency"])

    def on_marketing_spend_reported(self, event: Event) -> None:
        data = event.data
        if not self._money_known(event):
            return
        amount = data["amount"]
        self.engine.contribute(EVENT, parse_time(data["period_start"]), {},
                               {"marketing_spend": amount, "acquisition_spend": amount}, currency=data["currency"])

    def on_social_stats_reported(self, event: Event) -> None:
        data = event.data
        t, likes = parse_time(data["period_start"]), data["likes"]
        amounts = {"social_likes": likes, "social_reach": data["reach"],
                   "social_engagements": likes + data["comments"] + data["shares"] + (data.get("saves") or 0)}
        # Followers are a running gauge: each newer report adds its change over the
        # account's previous latest report; an older report than that changes nothing.
        key = f"{data['platform']}\x1f{data['account']}"
        stamp = [t, event.time_s, event.id]
        latest = self.followers.get(key)
        newer = latest is None or stamp > latest[:3]
        if newer:
            amounts["social_followers"] = data["followers"] - (latest[3] if latest else 0)
        else:
            self.engine.counters["stale_follower_reports"] += 1
        dims = {"platform": data["platform"]}
        # A change no window can take any more is not remembered either, so that the
        # gauge stays the sum of the accounts' remembered counts.
        if self.engine.contribute(EVENT, t, dims, amounts) and newer:
            self.followers[key] = stamp + [data["followers"]]

    # ----------------------------------------------------------------- email
    def _campaign(self, event: Event) -> dict[str, str]:
        return {"campaign": event.data.get("campaign_id") or UNKNOWN}

    def on_email_delivered(self, event: Event) -> None:
        self.engine.contribute(EVENT, event.time_s, self._campaign(event), {"email_delivered": 1})

    def on_email_clicked(self, event: Event) -> None:
        self.engine.contribute(EVENT, event.time_s, self._campaign(event), {"email_clicks": 1})

    def on_email_opened(self, event: Event) -> None:
        data, t = event.data, event.time_s
        key = f"{data['campaign_id']}\x1f{data['contact_id']}"
        first = self.first_opens.get(key)
        if first is not None and first <= t:
            return  # a reopen
        dims = self._campaign(event)
        if first is not None:
            # An earlier open arrived after a later one: the first open moves to its time.
            self.engine.contribute(EVENT, first, dims, {"email_first_opens": -1})
        self.first_opens[key] = t
        self.engine.contribute(EVENT, t, dims, {"email_first_opens": 1})

    # --------------------------------------------------------- email and SMS lists
    def on_list_event(self, event: Event, channel: str, subscribed: bool) -> None:
        """A contact's (un)subscription: counted, and the list gauge follows its latest status."""
        t = event.time_s
        dims, amounts = {}, {}
        if subscribed:
            amounts[f"{channel}_subscribes"] = 1
        elif channel == "email":
            dims = self._campaign(event)
            amounts["email_unsubscribes"] = 1
        key = f"{channel}|{event.data['contact_id']}"
        stamp = [t, event.id]
        record = self.subscriptions.get(key)
        newer = record is None or stamp > record[:2]
        if newer:
            # Unknown contacts count as not subscribed: an unsubscribe changes nothing.
            was = bool(record and record[2])
            amounts[f"{channel}_subscribers"] = int(subscribed) - int(was)
        else:
            self.engine.counters["stale_subscription_events"] += 1
        if not amounts:
            return
        # As for followers: a change no window takes is not remembered.
        if self.engine.contribute(EVENT, t, dims, amounts) and newer:
            self.subscriptions[key] = stamp + [subscribed]

    # --------------------------------------------------------------- reviews
    def on_product_reviewed(self, event: Event) -> None:
        data, rating = event.data, event.data["rating"]
        self.engine.contribute(EVENT, event.time_s, {"category": data.get("category") or UNKNOWN}, {
            "reviews": 1, "review_rating_sum": rating, "positive_reviews": int(rating >= POSITIVE_RATING)})

    # ------------------------------------------------------------- clean-up
    def expire(self, horizon: float) -> None:
        """Forget what is older than `horizon` (event time) and no longer needed.

        First opens: a reopen after the horizon would count again (opens come within days).
        Unsubscribed contacts: forgetting them changes nothing (unknown = not subscribed).
        Subscribed contacts and social accounts are kept: they are the gauges' state,
        bounded by the size of the lists and the number of accounts.
        """
        for key in [k for k, t in self.first_opens.items() if t < horizon]:
            self.first_opens.pop(key)
        for key in [k for k, (t, _, on) in self.subscriptions.items() if not on and t < horizon]:
            self.subscriptions.pop(key)
