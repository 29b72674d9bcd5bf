"""Engine settings: window sizes, grace, session rules, currency, retention, store time zone."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from zoneinfo import ZoneInfo

DEFAULT_FX_RATES = {
    # Units of the reporting currency (USD) per unit; override with configuration or
    # fx_rate_reported events.
    "USD": 1.0, "EUR": 1.08, "GBP": 1.27, "JPY": 0.0067, "CNY": 0.14,
    "CAD": 0.73, "AUD": 0.66, "BRL": 0.20, "CHF": 1.13, "SEK": 0.095,
}

_HOURS = tuple(f"{h:02d}" for h in range(24))
_zone = lru_cache(maxsize=None)(ZoneInfo)  # asked for every session and order

# Traffic sources become Prometheus label values: only a short configured list is kept.
MAX_TRACKED_SOURCES = 50


@dataclass(frozen=True)
class EngineConfig:
    window_sizes_s: tuple[int, ...] = (60, 300, 3600, 86400)
    grace_s: float = 60.0
    grace_by_size_s: dict[int, float] = field(default_factory=dict)
    session_timeout_s: float = 1800.0
    session_max_s: float = 86400.0
    idle_partition_s: float = 10.0
    reporting_currency: str = "USD"
    fx_rates: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_FX_RATES))
    count_bot_chat_replies: bool = False
    dedup_retention_s: float = 2 * 86400.0
    entity_retention_s: float = 30 * 86400.0
    max_label_values: int = 50  # distinct values per breakdown dimension before folding into "other"
    churn_horizon_s: float = 90 * 86400.0  # a customer churns this long after their last order
    store_timezone: str = "UTC"  # IANA zone of the store; hour-of-day KPIs use its local hour
    # Campaign sources (e.g. affiliate ids) kept as values of the `source` and `affiliate`
    # dims; other unknown sources are folded into "other" (see sessions.source_label).
    tracked_sources: tuple[str, ...] = ()

    def __post_init__(self):
        ZoneInfo(self.store_timezone)  # an unknown zone fails at start, not on the first event
        if len(self.tracked_sources) > MAX_TRACKED_SOURCES:
            raise ValueError(f"at most {MAX_TRACKED_SOURCES} tracked sources (they are label values)")

    def hour_of_day(self, t: float) -> str:
        """The hour ("00".."23") of epoch time `t` on the store's clock."""
        return _HOURS[dt.datetime.fromtimestamp(t, _zone(self.store_timezone)).hour]

    def grace_for(self, size_s: int) -> float:
        return self.grace_by_size_s.get(size_s, self.grace_s)

    @property
    def max_grace_s(self) -> float:
        return max([self.grace_s, *self.grace_by_size_s.values()])
