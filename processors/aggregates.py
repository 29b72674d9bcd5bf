"""Sums per time bucket and breakdown, and their totals over a window."""
from __future__ import annotations

from .registry import DISTINCT_MEASURES, MEASURE_PLANS, MeasurePlan
from .state import TrackedStore

# Numbers are kept as integer millionths so that sums do not depend on the order in
# which events arrive (float addition is not associative): stream and batch agree exactly.
MICROS = 1_000_000
UNKNOWN = "unknown"

# Bucket value shape: {breakdown: {measure: int micros | set of ids}}, breakdown "" is
# the overall value and "dim=value" a one-dimension breakdown.
Bucket = dict[str, dict[str, object]]


def to_micros(x: float) -> int:
    return round(x * MICROS)


def _encode_bucket(bucket: Bucket) -> dict:
    return {bk: {m: sorted(v) if isinstance(v, set) else v for m, v in ms.items()} for bk, ms in bucket.items()}


def _decode_bucket(raw: dict) -> Bucket:
    return {bk: {m: set(v) if isinstance(v, list) else v for m, v in ms.items()} for bk, ms in raw.items()}


def bucket_key(scope: str, start: int) -> str:
    return f"{scope}|{start}"


class BucketAggregates:
    """Measures summed into `bucket_s`-second buckets per scope, breakdown and measure."""

    def __init__(self, bucket_s: int, plans: dict[str, MeasurePlan] = MEASURE_PLANS):
        self.bucket_s = bucket_s
        self.plans = plans
        self.store = TrackedStore("buckets", _encode_bucket, _decode_bucket)

    def breakdowns(self, measure: str, dims: dict[str, str]) -> list[str]:
        plan = self.plans[measure]
        return [""] + [f"{d}={dims.get(d) or UNKNOWN}" for d in plan.dims]

    def add(self, scope: str, bucket_start: int, dims: dict[str, str], amounts: dict[str, float | str]) -> None:
        """Add amounts (measure -> number, or id for distinct measures) into one bucket."""
        key = bucket_key(scope, bucket_start)
        bucket = self.store.get(key)
        if bucket is None:
            bucket = self.store[key] = {}
        else:
            self.store.touch(key)
        for measure, amount in amounts.items():
            distinct = measure in DISTINCT_MEASURES
            if not distinct:
                # A zero still marks the breakdown as seen (a ratio with 0 numerator).
                amount = to_micros(amount)
            for bk in self.breakdowns(measure, dims):
                sums = bucket.get(bk)
                if sums is None:
                    sums = bucket[bk] = {}
                if distinct:
                    ids = sums.get(measure)
                    if ids is None:
                        ids = sums[measure] = set()
                    ids.add(amount)
                else:
                    sums[measure] = sums.get(measure, 0) + amount

    def window_totals(self, scope: str, start: int, size_s: int) -> dict[str, dict[str, object]]:
        """Merge the buckets of [start, start + size_s) into one {breakdown: {measure: total}}."""
        totals: dict[str, dict[str, object]] = {}
        for b in range(start, start + size_s, self.bucket_s):
            bucket = self.store.get(bucket_key(scope, b))
            if not bucket:
                continue
            for bk, sums in bucket.items():
                into = totals.setdefault(bk, {})
                for measure, value in sums.items():
                    if isinstance(value, set):
                        into[measure] = into.get(measure, set()) | value
                    else:
                        into[measure] = into.get(measure, 0) + value
        return totals

    def bucket_starts(self, scope: str) -> list[int]:
        prefix = scope + "|"
        return sorted(int(k[len(prefix):]) for k in self.store if k.startswith(prefix))

    def drop(self, scope: str, bucket_start: int) -> None:
        self.store.pop(bucket_key(scope, bucket_start))
