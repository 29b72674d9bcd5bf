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

MAX_CACHED_NAMES = 10_000  # label combinations per add plan whose breakdown keys are kept

# How a measure adds up (see BucketAggregates.add).
_SUM, _DISTINCT, _RANKING = "sum", "distinct", "ranking"


def to_micros(x: float) -> int:
    return round(x * MICROS)


def base_measure(key: str) -> str:
    return key.split(CURRENCY_SEPARATOR, 1)[0]


_CUMULATIVE_KEYS: dict[str, bool] = {}  # stored key ("lifetime_net_revenue|EUR") -> running measure?


def is_cumulative(key: str) -> bool:
    found = _CUMULATIVE_KEYS.get(key)
    if found is None:
        found = _CUMULATIVE_KEYS[key] = base_measure(key) in CUMULATIVE_MEASURES
    return found


def _encode_bucket(bucket: Bucket) -> dict:
    # Id sets as plain lists: a set's order means nothing and sorting every changed bucket
    # on every batch cost more than the rest of its encoding.
    return {bk: {m: list(v) if isinstance(v, set) else v for m, v in ms.items()} for bk, ms in bucket.items()}


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


class _AddPlan:
    """How the measures of one `add` call (in their order) fan out into breakdowns.

    `dims` are the dims any of them is broken down by, `uses` how many measures use each,
    `positions[measure]` the indexes of its breakdowns in `names(labels)`.
    """

    __slots__ = ("dims", "uses", "kinds", "positions", "_names")

    def __init__(self, measures: tuple[str, ...], traits):
        dims: list[str] = []
        for measure in measures:
            dims += [d for d in traits(measure)[1] if d not in dims]
        self.dims = tuple(dims)
        self.uses = tuple(sum(d in traits(m)[1] for m in measures) for d in dims)
        self.kinds = tuple((m, traits(m)[0]) for m in measures)
        self.positions = {m: (0, *(1 + dims.index(d) for d in traits(m)[1])) for m in measures}
        self._names: dict[tuple[str, ...], tuple[str, ...]] = {}

    def names(self, labels: tuple[str, ...]) -> tuple[str, ...]:
        """The breakdown keys ("", "dim=label", ...) of these labels; the same few recur."""
        names = self._names.get(labels)
        if names is None:
            if len(self._names) >= MAX_CACHED_NAMES:
                self._names.clear()
            names = self._names[labels] = ("", *(f"{d}={label}" for d, label in zip(self.dims, labels)))
        return names

    def breakdowns(self, measure: str, labels: tuple[str, ...]) -> list[str]:
        names = self.names(labels)
        return [names[i] for i in self.positions[measure]]


class BucketAggregates:
    """Measures summed into `bucket_s`-second buckets per scope, breakdown and measure."""

    def __init__(self, bucket_s: int, plans: dict[str, MeasurePlan] = MEASURE_PLANS,
                 ranking_cap: int = 10_000, max_label_values: int = 50):
        self.bucket_s = bucket_s
        self.labels = LabelLimiter(max_label_values)
        self.plans = plans
        self.ranking_cap = ranking_cap
        self._store = TrackedStore("buckets", _encode_bucket, _decode_bucket)
        # Running totals of cumulative measures from buckets already dropped:
        # {scope: {breakdown: {measure key: micros}}}
        self.base = TrackedStore("cumulative_base")
        self.dropped_ranking_items = 0
        self._measure_traits: dict[str, tuple[str, tuple[str, ...], bool]] = {}
        self._add_plans: dict[tuple[str, ...], _AddPlan] = {}
        # scope -> dims of the breakdowns that hold running measures ("" is the overall one)
        self._cumulative_dims: dict[str, set[str]] = {}
        for measure in CUMULATIVE_MEASURES & plans.keys():
            plan = plans[measure]
            self._cumulative_dims.setdefault(plan.scope, {""}).update(plan.dims)
        # (scope, bucket start, currency, plan, labels) -> {measure: micros | set of ids}
        self._staged: dict[tuple, dict[str, object]] = {}
        self._cumulative_parts: dict[tuple[str, int], Bucket] = {}  # (scope, start) -> running sums

    def after_load(self) -> None:
        self.labels.after_load()
        self._cumulative_parts.clear()

    def forget_zeros(self, scope: str, bucket_start: int, measures, dims: dict[str, str]) -> None:
        """Drop the sums of `measures` that are zero in the breakdowns of `dims` (see KpiEngine.retract)."""
        bucket = self.store.get(bucket_key(scope, bucket_start))
        self._cumulative_parts.pop((scope, bucket_start), None)
        for measure in measures:
            for breakdown in self.breakdowns(measure, dims):
                sums = bucket.get(breakdown)
                if sums is None:
                    continue
                for key in [k for k, v in sums.items() if v == 0 and base_measure(k) == measure]:
                    del sums[key]  # money sums are kept per currency ("revenue|EUR")
                if not sums:
                    del bucket[breakdown]

    def breakdowns(self, measure: str, dims: dict[str, str]) -> list[str]:
        return self.breakdowns_of(self.plans[measure].dims, dims)

    def breakdowns_of(self, plan_dims: tuple[str, ...], dims: dict[str, str]) -> list[str]:
        admit = self.labels.admit
        return [""] + [f"{d}={admit(d, str(dims.get(d) or UNKNOWN))}" for d in plan_dims]

    @property
    def store(self) -> TrackedStore:
        """The buckets, with every staged amount added."""
        if self._staged:
            self.commit()
        return self._store

    def add(self, scope: str, bucket_start: int, dims: dict[str, str], amounts: dict,
            currency: str | None = None) -> None:
        """Add amounts into one bucket: measure -> number, id (distinct) or {item: count} (ranking).

        Sums and ids are staged per (bucket, breakdown labels) and reach the bucket at the
        next `commit` (reading `store` commits): the fan-out into breakdowns then runs once
        per such key instead of once per call. Labels are admitted here, in call order.
        """
        measures = tuple(amounts)
        plan = self._add_plans.get(measures)
        if plan is None:
            plan = self._add_plans[measures] = _AddPlan(measures, self._traits)
        key = (scope, bucket_start, currency, plan, self._labels_of(plan, dims))
        staged = self._staged.get(key)
        if staged is None:
            staged = self._staged[key] = {}
        for (measure, kind), amount in zip(plan.kinds, amounts.values()):
            if kind is _SUM:
                # A zero still marks the breakdown as seen (a ratio with 0 numerator).
                staged[measure] = staged.get(measure, 0) + round(amount * MICROS)  # to_micros, inlined
            elif kind is _DISTINCT:
                ids = staged.get(measure)
                if ids is None:
                    ids = staged[measure] = set()
                ids.add(amount)
            else:  # a ranking's item cap depends on arrival order: never staged
                bucket = self._bucket(scope, bucket_start)
                stored = self._stored(measure, currency)
                for name in plan.breakdowns(measure, key[4]):
                    self._add_ranking(self._sums(bucket, name), stored, amount)

    def commit(self) -> None:
        """Add the staged sums and ids into their buckets."""
        staged, self._staged = self._staged, {}
        for (scope, start, currency, plan, labels), amounts in staged.items():
            bucket = self._bucket(scope, start)
            names = plan.names(labels)
            targets: list[dict | None] = [None] * len(names)
            for measure, value in amounts.items():
                stored = self._stored(measure, currency)
                for i in plan.positions[measure]:
                    sums = targets[i]
                    if sums is None:
                        sums = targets[i] = self._sums(bucket, names[i])
                    if type(value) is int:
                        sums[stored] = sums.get(stored, 0) + value
                    else:
                        ids = sums.get(stored)
                        if ids is None:
                            sums[stored] = set(value)
                        else:
                            ids |= value

    def _labels_of(self, plan: _AddPlan, dims: dict[str, str]) -> tuple[str, ...]:
        """The admitted label of each dim of the plan (folded ones count once per measure, as looked up)."""
        labels = self.labels
        admitted = labels.admitted
        values = []
        for d, uses in zip(plan.dims, plan.uses):
            value = dims.get(d) or UNKNOWN
            if type(value) is not str:
                value = str(value)
            known = admitted.get(d)
            if known is None or value not in known:  # not admitted yet: admit or fold
                folded = labels.folded
                value = labels.admit(d, value)
                if uses > 1 and labels.folded != folded:
                    labels.folded += uses - 1
            values.append(value)
        return tuple(values)

    def _bucket(self, scope: str, start: int) -> Bucket:
        """A bucket about to change (created when missing)."""
        self._cumulative_parts.pop((scope, start), None)
        key = bucket_key(scope, start)
        bucket = self._store.get(key)
        if bucket is None:
            bucket = self._store[key] = {}
        else:
            self._store.touch(key)
        return bucket

    @staticmethod
    def _sums(bucket: Bucket, breakdown: str) -> dict:
        sums = bucket.get(breakdown)
        if sums is None:
            sums = bucket[breakdown] = {}
        return sums

    def _stored(self, measure: str, currency: str | None) -> str:
        """The key of a measure in a breakdown's sums: money is kept per currency."""
        return f"{measure}{CURRENCY_SEPARATOR}{currency}" if self._traits(measure)[2] else measure

    def _traits(self, measure: str) -> tuple[str, tuple[str, ...], bool]:
        """(kind, breakdown dims, kept per currency) of a measure, derived once."""
        traits = self._measure_traits.get(measure)
        if traits is None:
            kind = _DISTINCT if measure in DISTINCT_MEASURES else _RANKING if measure in RANKING_MEASURES else _SUM
            traits = self._measure_traits[measure] = (kind, self.plans[measure].dims, measure in MONEY_MEASURES)
        return traits

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
        store, running = self.store, _CUMULATIVE_KEYS
        for b in range(start, end, self.bucket_s):
            bucket = store.get(bucket_key(scope, b))
            if not bucket:
                continue
            for bk, sums in bucket.items():
                into = totals.setdefault(bk, {})
                for measure, value in sums.items():
                    is_running = running.get(measure)
                    if is_running is None:
                        is_running = is_cumulative(measure)
                    if is_running:
                        continue  # added by `_add_cumulative`
                    if type(value) is int:  # merge_into, inlined for plain sums
                        into[measure] = into.get(measure, 0) + value
                    else:
                        merge_into(into, measure, value)
        if CUMULATIVE_MEASURES:
            self._add_cumulative(totals, scope, end, bucket_starts)
        return totals

    def _add_cumulative(self, totals: dict, scope: str, end: int, bucket_starts) -> None:
        for bk, sums in (self.base.get(scope) or {}).items():
            into = totals.setdefault(bk, {})
            for measure, value in sums.items():
                merge_into(into, measure, value)
        if not self._cumulative_dims.get(scope):
            return
        store = self.store
        for b in bucket_starts:
            if b >= end:
                break
            for bk, sums in self._cumulative_part(store, scope, b).items():
                into = totals.setdefault(bk, {})
                for measure, value in sums.items():
                    merge_into(into, measure, value)

    def _cumulative_part(self, store: TrackedStore, scope: str, start: int) -> Bucket:
        """The running measures of one bucket: every window after it reads them, so they are
        picked out once (until the bucket changes, see `_bucket`)."""
        part = self._cumulative_parts.get((scope, start))
        if part is None:
            holders = self._cumulative_dims[scope]
            part = {}
            for bk, sums in (store.get(bucket_key(scope, start)) or {}).items():
                if bk.partition("=")[0] in holders:  # only these breakdowns keep running measures
                    running = {m: v for m, v in sums.items() if is_cumulative(m)}
                    if running:
                        part[bk] = running
            self._cumulative_parts[(scope, start)] = part
        return part

    def drop(self, scope: str, bucket_start: int) -> None:
        """Forget a bucket every window of which is final, keeping its running changes."""
        bucket = self.store.pop(bucket_key(scope, bucket_start))
        self._cumulative_parts.pop((scope, bucket_start), None)
        if not bucket or not CUMULATIVE_MEASURES:
            return
        base = self.base.get(scope) or {}
        for bk, sums in bucket.items():
            for measure, value in sums.items():
                if is_cumulative(measure):
                    merge_into(base.setdefault(bk, {}), measure, value)
        self.base[scope] = base
