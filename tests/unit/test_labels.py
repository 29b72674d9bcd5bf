"""Breakdown values are capped per dimension; the rest fold into `other`."""
from processors.labels import OTHER, LabelLimiter


def test_values_past_the_cap_fold_into_other_and_are_counted():
    limiter = LabelLimiter(cap=2)
    seen = [limiter.admit("country", c) for c in ["US", "DE", "FR", "US", "JP", "DE"]]
    # US and DE take the two places; FR and JP fold (2 folds); repeats keep their value.
    assert seen == ["US", "DE", OTHER, "US", OTHER, "DE"]
    assert limiter.folded == 2
    # Dimensions are capped independently.
    assert limiter.admit("campaign", "spring") == "spring"


def test_the_admitted_values_survive_a_restart():
    limiter = LabelLimiter(cap=2)
    for c in ["US", "DE"]:
        limiter.admit("country", c)
    persisted = dict(limiter.values.drain_changes())
    restored = LabelLimiter(cap=2)
    restored.values.load(persisted.items())
    restored.after_load()
    assert restored.admit("country", "DE") == "DE"
    assert restored.admit("country", "FR") == OTHER
