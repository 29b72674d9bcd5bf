"""Sums per time bucket and breakdown, and their totals over a window."""
from __future__ import annotations

from .registry import DISTINCT_MEASURES, MEASURE_PLANS, MONEY_MEASURES, CUMULATIVE_MEASURES, RANKING_MEASURES, \
    MeasurePlan
from .labels import LabelLimiter
from .state import TrackedStore

# Numbers are kept as integer millionths so that sums do not depend on the order in
# which events arrive (float addition is not associative): stream and batch agree exactly.
MICROS = 1_000_000
UNKNOWN = "unknown"
CURRENCY_SEPARATOR = "|"

# Bucket value shape: {breakdown: {measure: int micros | set of ids | {item: count}}},
# breakdown "" is the overall value and "dim=value" a one-dimension breakdown; money
# measures are stored per currency as "measure|CUR".
Bucket = dict[str, dict[str, object]]

# How a measure adds up (see BucketAggregates.add).
_SUM, _DISTINCT, _RANKING = "sum", "distinct", "ranking"


def to_micros(x: float) -> int:
    return round(x * MICROS)


def base_measure(key: str) -> str:
    return key.split(CURRENCY_SEPARATOR, 1)[0]


def _encode_bucket(bucket: Bucket) -> dict:
    return {bk: {m: sorted(v) if isinstance(v, set) else v for m, v in ms.items()} for bk, ms in bucket.items()}


def _decode_bucket(raw: dict) -> Bucket:
    return {bk: {m: set(v) if isinstance(v, list) else v for m, v in ms.items()} for bk, ms in raw.items()}


def bucket_key(scope: str, start: int) -> str:
    return f"{scope}|{start}"


def merge_into(into: dict, measure: str, value) -> None:
    """Add one stored value (sum, id set or ranking map) into a totals dict."""
    if isinstance(value, set):
        old = into.get(measure)
        into[measure] = value.copy() if old is None else old | value
    elif isinstance(value, dict):
        old = into.get(measure)
        merged = dict(old) if old else {}
        for item, count in value.items():
            merged[item] = merged.get(item, 0) + count
        into[measure] = merged
    else:
        into[measure] = into.get(measure, 0) + value


class BucketAggregates:
    """Measures summed into `bucket_s`-second buckets per scope, breakdown and measure."""

    def __init__(self, bucket_s: int, plans: dict[str, MeasurePlan] = MEASURE_PLANS,
                 ranking_cap: int = 10_000, max_label_values: int = 50):
        self.bucket_s = bucket_s
        self.labels = LabelLimiter(max_label_values)
        self.plans = plans
        self.ranking_cap = ranking_cap
        self.store = TrackedStore("buckets", _encode_bucket, _decode_bucket)
        # Running totals of cumulative measures from buckets already dropped:
        # {scope: {breakdown: {measure key: micros}}}
        self.base = TrackedStore("cumulative_base")
        self.dropped_ranking_items = 0
        self._measure_traits: dict[str, tuple[str, tuple[str, ...], bool]] = {}

    def breakdowns(self, measure: str, dims: dict[str, str]) -> list[str]:
        return self.breakdowns_of(self.plans[measure].dims, dims)

    def breakdowns_of(self, plan_dims: tuple[str, ...], dims: dict[str, str]) -> list[str]:
        admit = self.labels.admit
        return [""] + [f"{d}={admit(d, str(dims.get(d) or UNKNOWN))}" for d in plan_dims]

    def add(self, scope: str, bucket_start: int, dims: dict[str, str], amounts: dict,
            currency: str | None = None) -> None:
        """Add amounts into one bucket: measure -> number, id (distinct) or {item: count} (ranking)."""
        key = bucket_key(scope, bucket_start)
        bucket = self.store.get(key)
        if bucket is None:
            bucket = self.store[key] = {}
        else:
            self.store.touch(key)
        # Measures of one call mostly share their breakdowns: look each set up once.
        targets: dict[tuple[str, ...], tuple[list[dict], int]] = {}
        for measure, amount in amounts.items():
            kind, plan_dims, money = self._traits(measure)
            stored = f"{measure}{CURRENCY_SEPARATOR}{currency}" if money else measure
            target = targets.get(plan_dims)
            if target is None:
                target = targets[plan_dims] = self._targets(bucket, plan_dims, dims)
            elif target[1]:
                self.labels.folded += target[1]  # as if looked up again for this measure
            sums_list = target[0]
            if kind is _SUM:
                # A zero still marks the breakdown as seen (a ratio with 0 numerator).
                amount = round(amount * MICROS)  # to_micros, inlined
                for sums in sums_list:
                    sums[stored] = sums.get(stored, 0) + amount
            elif kind is _DISTINCT:
                for sums in sums_list:
                    ids = sums.get(stored)
                    if ids is None:
                        ids = sums[stored] = set()
                    ids.add(amount)
            else:
                for sums in sums_list:
                    self._add_ranking(sums, stored, amount)

    def _traits(self, measure: str) -> tuple[str, tuple[str, ...], bool]:
        """(kind, breakdown dims, kept per currency) of a measure, derived once."""
        traits = self._measure_traits.get(measure)
        if traits is None:
            kind = _DISTINCT if measure in DISTINCT_MEASURES else _RANKING if measure in RANKING_MEASURES else _SUM
            traits = self._measure_traits[measure] = (kind, self.plans[measure].dims, measure in MONEY_MEASURES)
        return traits

    def _targets(self, bucket: Bucket, plan_dims: tuple[str, ...], dims: dict[str, str]) -> tuple[list[dict], int]:
        """The sums dicts of the breakdowns of `plan_dims` in `bucket` (created when missing),
        and the number of label values folded on the way."""
        labels = self.labels
        folded_before = labels.folded
        result = []
        for bk in self.breakdowns_of(plan_dims, dims):
            sums = bucket.get(bk)
            if sums is None:
                sums = bucket[bk] = {}
            result.append(sums)
        return result, labels.folded - folded_before

    def _add_ranking(self, sums: dict, stored: str, amount: dict) -> None:
        counts = sums.get(stored)
        if counts is None:
            counts = sums[stored] = {}
        for item, n in amount.items():
            if item in counts:
                counts[item] += n
            elif len(counts) < self.ranking_cap:
                counts[item] = n
            else:
                self.dropped_ranking_items += 1

    def window_totals(self, scope: str, start: int, size_s: int, bucket_starts=()) -> dict[str, dict[str, object]]:
        """Merge the buckets of [start, start + size_s) into one {breakdown: {measure: total}}.

        Cumulative measures add every bucket before the window's end and the running base.
        """
        totals: dict[str, dict[str, object]] = {}
        end = start + size_s
        for b in range(start, end, self.bucket_s):
            bucket = self.store.get(bucket_key(scope, b))
            if not bucket:
                continue
            for bk, sums in bucket.items():
                into = totals.setdefault(bk, {})
                for measure, value in sums.items():
                    if base_measure(measure) not in CUMULATIVE_MEASURES:
                        merge_into(into, measure, value)
        if CUMULATIVE_MEASURES:
            self._add_cumulative(totals, scope, end, bucket_starts)
        return totals

    def _add_cumulative(self, totals: dict, scope: str, end: int, bucket_starts) -> None:
        for bk, sums in (self.base.get(scope) or {}).items():
            into = totals.setdefault(bk, {})
            for measure, value in sums.items():
                merge_into(into, measure, value)
        for b in bucket_starts:
            if b >= end:
                break
            for bk, sums in (self.store.get(bucket_key(scope, b)) or {}).items():
                for measure, value in sums.items():
                    if base_measure(measure) in CUMULATIVE_MEASURES:
                        merge_into(totals.setdefault(bk, {}), measure, value)

    def drop(self, scope: str, bucket_start: int) -> None:
        """Forget a bucket every window of which is final, keeping its running changes."""
        bucket = self.store.pop(bucket_key(scope, bucket_start))
        if not bucket or not CUMULATIVE_MEASURES:
            return
        base = self.base.get(scope) or {}
        for bk, sums in bucket.items():
            for measure, value in sums.items():
                if base_measure(measure) in CUMULATIVE_MEASURES:
                    merge_into(base.setdefault(bk, {}), measure, value)
        self.base[scope] = base
