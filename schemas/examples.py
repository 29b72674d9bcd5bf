"""One valid example event per type: shown in the JSON Schemas, used by tests and benchmarks."""
from __future__ import annotations

import copy

_CLICK = {
    "anonymous_id": "a-7f3e",
    "session_id": "s-19c2",
    "device": "mobile",
    "country": "DE",
    "page": {"path": "/", "type": "home", "url": "https://shop.example/",
             "referrer": "https://www.google.com/"},
}
_PERIOD = {"period_start": "2019-06-13T10:00:00Z", "period_end": "2019-06-13T11:00:00Z"}
_PRODUCT = {"product_id": "p-123", "sku": "SKU-123", "category": "shoes", "price": 59.9,
            "currency": "EUR"}

DATA: dict[str, dict] = {
    "page_viewed": {**_CLICK, "customer_id": "c-42",
                    "campaign": {"source": "google", "medium": "cpc", "name": "summer"}},
    "product_viewed": {**_CLICK, "page": {"path": "/p/123", "type": "product"}, "product": _PRODUCT},
    "product_added": {**_CLICK, "page": {"path": "/p/123", "type": "product"}, "cart_id": "cart-9",
                      "product": {**_PRODUCT, "quantity": 2}},
    "product_removed": {**_CLICK, "page": {"path": "/cart", "type": "cart"}, "cart_id": "cart-9",
                        "product": {"product_id": "p-123"}},
    "checkout_started": {**_CLICK, "page": {"path": "/checkout", "type": "checkout"},
                         "cart_id": "cart-9", "checkout_id": "co-5", "value": 119.8, "currency": "EUR"},
    "order_completed": {
        "order_id": "o-1001", "customer_id": "c-42", "currency": "EUR", "revenue": 119.8,
        "shipping": 4.9, "tax": 19.0, "discount": 0, "coupon": "", "checkout_id": "co-5",
        "anonymous_id": "a-7f3e", "session_id": "s-19c2", "affiliation": "aff-7", "country": "DE",
        "products": [{"product_id": "p-123", "sku": "SKU-123", "category": "shoes", "price": 59.9,
                      "quantity": 2, "cost": 21.5}],
    },
    "order_refunded": {"order_id": "o-1001", "amount": 59.9, "currency": "EUR"},
    "order_cancelled": {"order_id": "o-1002"},
    "chat_started": {"conversation_id": "conv-3", "initiator": "visitor", "channel": "web_chat",
                     "intent": "pre_sales", "anonymous_id": "a-7f3e", "session_id": "s-19c2"},
    "chat_message": {"conversation_id": "conv-3", "author": "agent"},
    "chat_ended": {"conversation_id": "conv-3"},
    "ticket_created": {"ticket_id": "t-77", "channel": "email", "priority": "high", "customer_id": "c-42"},
    "ticket_replied": {"ticket_id": "t-77", "author": "agent", "public": True},
    "ticket_escalated": {"ticket_id": "t-77", "to_tier": 2},
    "ticket_resolved": {"ticket_id": "t-77"},
    "ticket_reopened": {"ticket_id": "t-77"},
    "survey_responded": {"survey": "nps", "score": 9, "customer_id": "c-42", "touchpoint": "purchase"},
    "ad_performance_reported": {"platform": "google_ads", "campaign_id": "cmp-1", "impressions": 12000,
                                "clicks": 340, "cost": 210.5, "currency": "USD", "avg_position": 1.8,
                                "top_impressions": 7000, **_PERIOD},
    "marketing_spend_reported": {"channel": "influencer", "amount": 500, "currency": "USD", **_PERIOD},
    "email_delivered": {"campaign_id": "em-4", "contact_id": "ct-8"},
    "email_opened": {"campaign_id": "em-4", "contact_id": "ct-8"},
    "email_clicked": {"campaign_id": "em-4", "contact_id": "ct-8"},
    "email_subscribed": {"contact_id": "ct-8"},
    "email_unsubscribed": {"contact_id": "ct-8", "campaign_id": "em-4"},
    "sms_subscribed": {"contact_id": "ct-8"},
    "sms_unsubscribed": {"contact_id": "ct-8"},
    "social_stats_reported": {"platform": "instagram", "account": "@shop", "followers": 15200,
                              "likes": 830, "comments": 41, "shares": 12, "saves": 60, "reach": 21000,
                              **_PERIOD},
    "product_reviewed": {"product_id": "p-123", "review_id": "r-55", "rating": 4, "category": "shoes"},
    "inventory_reported": {"sku": "SKU-123", "location": "berlin-1", "available": 37, "category": "shoes"},
    "price_changed": {"sku": "SKU-123", "price": 54.9, "currency": "EUR", "category": "shoes"},
    "competitor_price_observed": {"sku": "SKU-123", "competitor": "rival.example", "price": 57.0,
                                  "currency": "EUR"},
    "market_size_reported": {"segment": "shoes-de", "value": 2500000, "currency": "EUR",
                             "period_start": "2019-06-01T00:00:00Z", "period_end": "2019-07-01T00:00:00Z"},
    "fx_rate_reported": {"base": "EUR", "quote": "USD", "rate": 1.1284},
    "work_order_completed": {"work_order_id": "wo-88", "line": "line-a",
                             "started_at": "2019-06-13T08:30:00+02:00", "units_started": 500,
                             "units_good_first_pass": 470, "units_good": 490},
    "line_status_reported": {"line": "line-a", "planned_s": 3600, "run_s": 3300, "ideal_cycle_s": 6.0,
                             "units_total": 520, "units_good": 505, **_PERIOD},
    "labor_reported": {"crew": "crew-2", "scheduled_s": 28800, "productive_s": 25200,
                       "units_actual": 900, "units_standard": 950.0, "units_good": 880, **_PERIOD},
    "compliance_incident": {"incident_id": "inc-3", "category": "labeling", "severity": "medium"},
}


def example_event(event_type: str, **envelope) -> dict:
    """A valid envelope of `event_type` with its example data (a fresh copy); `envelope` overrides."""
    return {
        "specversion": "1.0",
        "id": f"{event_type}-1",
        "source": "example",
        "type": event_type,
        "time": "2019-06-13T10:02:03.250Z",
        "data": copy.deepcopy(DATA[event_type]),
        **envelope,
    }
