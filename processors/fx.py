"""Exchange rates: configured defaults, overridden over time by fx_rate_reported events."""
from __future__ import annotations

import bisect

from schemas.events import Event

from .state import TrackedStore

MAX_HISTORY = 2000  # rate reports kept per currency


class FxRates:
    """Units of the reporting currency per unit of a currency, as of an event time.

    A window is converted at the rate in force at its end (the newest report before
    it), so a report that arrives after an order but within grace still applies, and
    the stream and a batch computation agree.
    """

    def __init__(self, reporting: str, configured: dict[str, float]):
        self.reporting = reporting
        self.configured = dict(configured)
        self.configured[reporting] = 1.0
        self.history = TrackedStore("fx_history")  # currency -> [[time, rate], ...] sorted by time

    def handlers(self):
        return {"fx_rate_reported": self.on_fx_rate_reported}

    def stores(self) -> list[TrackedStore]:
        return [self.history]

    def on_fx_rate_reported(self, event: Event) -> None:
        data = event.data
        base, quote, rate = data["base"], data["quote"], float(data["rate"])
        if quote == self.reporting and base != quote:
            self._record(base, event.time_s, rate)
        elif base == self.reporting and quote != base and rate > 0:
            self._record(quote, event.time_s, 1.0 / rate)

    def _record(self, currency: str, t: float, rate: float) -> None:
        rows = self.history.get(currency)
        if rows is None:
            rows = self.history[currency] = []
        else:
            self.history.touch(currency)
        bisect.insort(rows, [t, rate])
        del rows[:-MAX_HISTORY]

    def known(self, currency: str) -> bool:
        return currency in self.configured or currency in self.history

    def rate_at(self, currency: str, t: float) -> float | None:
        rows = self.history.get(currency)
        if rows:
            i = bisect.bisect_left(rows, [t]) - 1
            if i >= 0:
                return rows[i][1]
        return self.configured.get(currency)
