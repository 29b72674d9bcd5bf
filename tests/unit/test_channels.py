"""Channel rules of kpis.md: a table of (UTM campaign, referrer) -> channel, first matching rule wins."""
from __future__ import annotations

import pytest

from processors.channels import classify_channel, referrer_host

CASES = [
    # rule 1: paid media -> paid_social when the source is a social site, else paid_search
    ({"medium": "cpc", "source": "google"}, None, "paid_search"),
    ({"medium": "cpc", "source": "facebook"}, None, "paid_social"),
    ({"medium": "PPC", "source": "Instagram"}, None, "paid_social"),  # case-insensitive
    ({"medium": "paidsearch", "source": "bing"}, None, "paid_search"),
    ({"medium": "cpc", "source": "x"}, None, "paid_social"),  # `x` as a whole name
    ({"medium": "cpc", "source": "xbox"}, None, "paid_search"),  # `x` inside a word is not X
    ({"medium": "cpc"}, "https://www.facebook.com/", "paid_search"),  # UTM source decides, not the referrer
    # rule 2: display media, before the social rule
    ({"medium": "display"}, None, "display"),
    ({"medium": "cpm", "source": "facebook"}, None, "display"),
    ({"medium": "Banner"}, "https://www.google.com/", "display"),
    # rule 3: affiliates
    ({"medium": "affiliate", "source": "awin"}, None, "affiliate"),
    ({"medium": "affiliates"}, None, "affiliate"),
    # rule 4: email as medium or as source, spelled email or e-mail
    ({"medium": "email", "source": "newsletter"}, None, "email"),
    ({"source": "email"}, None, "email"),
    ({"medium": "e-mail"}, None, "email"),
    ({"source": "E-Mail", "medium": "social"}, None, "email"),  # rule 4 before rule 6
    ({"medium": "Email"}, "https://www.facebook.com/", "email"),
    # rule 5: sms
    ({"medium": "sms", "source": "twilio"}, None, "sms"),
    # rule 6: social media, social UTM source or social referrer host
    ({"medium": "social"}, None, "organic_social"),
    ({"medium": "social-network"}, None, "organic_social"),
    ({"medium": "social-media"}, None, "organic_social"),
    ({"medium": "SM"}, None, "organic_social"),
    ({"source": "tiktok"}, None, "organic_social"),
    ({"source": "x.com"}, None, "organic_social"),
    ({"medium": "organic", "source": "facebook"}, None, "organic_social"),  # rule 6 before rule 7
    (None, "https://m.facebook.com/story.php?id=1", "organic_social"),
    (None, "https://x.com/shop/status/1", "organic_social"),
    (None, "https://www.x.com/", "organic_social"),
    (None, "https://www.youtube.com/watch?v=1", "organic_social"),
    (None, "https://www.xbox.com/games", "referral"),  # not x.com
    # rule 7: organic medium or a search engine referrer (host contains the name)
    ({"medium": "organic"}, None, "organic_search"),
    (None, "https://www.google.com/search?q=shoes", "organic_search"),
    (None, "https://www.google.co.uk/", "organic_search"),
    (None, "https://www.bing.com/", "organic_search"),
    (None, "https://duckduckgo.com/?q=shoes", "organic_search"),
    (None, "HTTPS://WWW.GOOGLE.DE/", "organic_search"),  # case-insensitive host
    # rule 8: referral medium or any other referrer
    ({"medium": "referral", "source": "blog"}, None, "referral"),
    (None, "https://blog.example.com/post", "referral"),
    ({"medium": "print"}, "https://news.example.org/", "referral"),  # rule 8 before rule 10
    # rule 9: nothing at all
    (None, None, "direct"),
    ({}, "", "direct"),
    ({"source": "", "medium": ""}, None, "direct"),
    # rule 10: a campaign no rule knows, and no referrer
    ({"medium": "print"}, None, "other"),
    ({"source": "google"}, None, "other"),  # a search source without medium or referrer
    ({"name": "spring-sale"}, None, "other"),
]


@pytest.mark.parametrize(("campaign", "referrer", "channel"), CASES)
def test_classify_channel(campaign, referrer, channel):
    assert classify_channel(campaign, referrer) == channel


@pytest.mark.parametrize(("referrer", "host"), [
    ("https://WWW.Google.com/search?q=1", "www.google.com"),
    ("https://x.com:443/a", "x.com"),
    (None, ""),
    ("", ""),
    ("not a url", ""),
    ("https://[::1", ""),  # invalid IPv6 URL: no host instead of an exception
])
def test_referrer_host(referrer, host):
    assert referrer_host(referrer) == host
