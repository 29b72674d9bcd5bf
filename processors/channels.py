"""Marketing channel of a session, from its first event (kpis.md, first matching rule wins)."""
from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

SOCIAL_SITES = ("facebook", "instagram", "tiktok", "twitter", "x", "linkedin", "pinterest", "youtube", "reddit")
SEARCH_ENGINES = ("google", "bing", "yahoo", "baidu", "duckduckgo", "yandex")

PAID_MEDIA = {"cpc", "ppc", "paidsearch"}
DISPLAY_MEDIA = {"display", "cpm", "banner"}
AFFILIATE_MEDIA = {"affiliate", "affiliates"}
EMAIL_NAMES = {"email", "e-mail"}
SOCIAL_MEDIA = {"social", "social-network", "social-media", "sm"}

CHANNELS = (
    "paid_search", "paid_social", "display", "affiliate", "email", "sms",
    "organic_social", "organic_search", "referral", "direct", "other",
)


def _is_social_site(name: str) -> bool:
    """True when a UTM source or host names a social site (`x` only as a whole label)."""
    if not name:
        return False
    labels = name.replace("www.", "").split(".")
    for site in SOCIAL_SITES:
        if site == "x":
            if "x" in labels:
                return True
        elif site in name:
            return True
    return False


# Sessions repeat the same few referrers and UTM values: parse and classify each once.
CACHED_VALUES = 4096


@lru_cache(maxsize=CACHED_VALUES)
def referrer_host(referrer: str | None) -> str:
    if not referrer:
        return ""
    try:
        return (urlsplit(referrer).hostname or "").lower()
    except ValueError:
        return ""


def classify_channel(campaign: dict | None, referrer: str | None) -> str:
    """Apply the ten channel rules of kpis.md to UTM values and a referrer URL."""
    campaign = campaign or {}
    medium = str(campaign.get("medium") or "").lower()
    source = str(campaign.get("source") or "").lower()
    tagged = any(campaign.get(k) for k in ("source", "medium", "name", "term", "content"))
    return _channel(medium, source, referrer_host(referrer), tagged)


@lru_cache(maxsize=CACHED_VALUES)
def _channel(medium: str, source: str, host: str, tagged: bool) -> str:
    """The rules of `classify_channel`; `tagged` says whether any UTM value is set."""
    if medium in PAID_MEDIA:
        return "paid_social" if _is_social_site(source) else "paid_search"
    if medium in DISPLAY_MEDIA:
        return "display"
    if medium in AFFILIATE_MEDIA:
        return "affiliate"
    if medium in EMAIL_NAMES or source in EMAIL_NAMES:
        return "email"
    if medium == "sms":
        return "sms"
    if medium in SOCIAL_MEDIA or _is_social_site(source) or _is_social_site(host):
        return "organic_social"
    if medium == "organic" or any(engine in host for engine in SEARCH_ENGINES):
        return "organic_search"
    if medium == "referral" or host:
        return "referral"
    if not tagged and not host:
        return "direct"
    return "other"
