"""Ranking KPIs: top lists built from {item: count} measures of one window."""
from __future__ import annotations

TOP_N = 20
PAIR_SEPARATOR = "\x1f"

# name -> builder(sums of one breakdown) -> list of ranking entries, best first.
RANKINGS: dict = {}


def ranking(name: str):
    def register(builder):
        RANKINGS[name] = builder
        return builder

    return register


def top_pairs(counts: dict[str, int], n: int = TOP_N) -> list[tuple[str, str, int]]:
    """The n most frequent "a<sep>b" keys, ties broken by name so the order is stable."""
    best = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]
    return [(*key.split(PAIR_SEPARATOR, 1), count) for key, count in best]


@ranking("relationship")
def product_relationship(sums: dict) -> list[dict]:
    """Product A viewed right before product B in a session, most frequent transitions first."""
    return [{"a": a, "b": b, "count": count} for a, b, count in top_pairs(sums.get("view_transitions") or {})]
