"""Customer churn: activity streaks per customer and their contributions to the daily churn rate.

Definitions (H = `EngineConfig.churn_horizon_s`, default 90 days; D = one day):

- A customer is *active* at time s when they have an order in [s - H, s), i.e. s in
  (t, t + H] for one of their order times t.
- Orders t < u of a customer are in one *streak* when u <= t + H (chained); a streak
  with first order a and last order b keeps the customer active on (a, b + H], and the
  customer *churns* at b + H. A later order more than H after b starts a new streak.
- `churn_rate` of the day window [ws, ws + D) = customers churning in it (ws <= b + H
  < ws + D) / customers active at ws (a < ws <= b + H). Reported for 1d windows only.

Measures (EVENT scope, no dims), contributed per streak [a, b]:

- `churned_customers` (sum): +1 at day(b + H), the start of the day containing b + H.
- `active_customers` (cumulative): +1 at day(a) + D and -1 at day(b + H) + D. A window
  reports the sum of changes before its end ws + D, i.e. [day(a) < ws] - [day(b + H) < ws]
  = [a < ws <= b + H]: the customers active at the window's *start*.

Both land in future day buckets (up to H + D ahead); that is fine, since a bucket is kept
until every window containing it is final, and it keeps every contribution at the start
of a day, so a customer adds at most one future bucket per day.

Per customer the tracker keeps the streaks as [a, b] pairs (`customer_streaks`). An
order inside a streak changes nothing; otherwise it merges with the streaks it chains to
(at most two) into one. The contributions of the streaks that go are taken out and those
of the new streak put in (equal ones cancel), so the sums depend only on the set of
order times, not on their arrival order: a late earlier order that bridges two streaks
removes the first churn and moves the activity accordingly. Streaks that ended before
the entity retention horizon are forgotten (their contributions stay), and a customer
keeps at most `MAX_STREAKS` of them.
"""
from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from .registry import EVENT
from .state import TrackedStore
from .windows import floor_to

if TYPE_CHECKING:
    from .engine import KpiEngine

DAY_S = 86400
MAX_STREAKS = 16


def merge_order(streaks: list[list[float]], t: float, horizon_s: float) -> list[list[float]]:
    """The streaks after adding an order at `t` (sorted, each [first, last])."""
    first = last = t
    kept = []
    for a, b in streaks:
        if a - horizon_s <= t <= b + horizon_s:
            first, last = min(first, a), max(last, b)
        else:
            kept.append([a, b])
    return sorted(kept + [[first, last]])


def streak_changes(streak: list[float], horizon_s: float) -> Counter:
    """{(measure, time): amount} that one streak contributes."""
    a, b = streak
    churn_day = floor_to(b + horizon_s, DAY_S)
    changes = Counter()
    changes[("active_customers", floor_to(a, DAY_S) + DAY_S)] += 1
    changes[("active_customers", churn_day + DAY_S)] -= 1
    changes[("churned_customers", churn_day)] += 1
    return changes


class ChurnTracker:
    """Keeps each customer's streaks and contributes the changes of an order (see module doc)."""

    def __init__(self, engine: KpiEngine):
        self.engine = engine
        self.streaks = TrackedStore("customer_streaks")  # customer_id -> [[first, last], ...]

    def stores(self) -> list[TrackedStore]:
        return [self.streaks]

    def on_order(self, customer_id: str, t: float) -> None:
        horizon = self.engine.config.churn_horizon_s
        old = self.streaks.get(customer_id) or []
        new = merge_order(old, t, horizon)
        if new == old:
            return
        changes = Counter()
        for streak in new:
            changes.update(streak_changes(streak, horizon))
        for streak in old:
            changes.subtract(streak_changes(streak, horizon))
        for (measure, at), amount in sorted(changes.items()):
            if amount:
                self.engine.contribute(EVENT, at, {}, {measure: amount})
        self.streaks[customer_id] = new[-MAX_STREAKS:]

    def expire(self, horizon: float) -> None:
        """Forget streaks whose churn day ended before `horizon`."""
        churn_horizon = self.engine.config.churn_horizon_s
        for customer_id, streaks in list(self.streaks.items()):
            kept = [s for s in streaks if floor_to(s[1] + churn_horizon, DAY_S) + DAY_S >= horizon]
            if not kept:
                self.streaks.pop(customer_id)
            elif len(kept) < len(streaks):
                self.streaks[customer_id] = kept
