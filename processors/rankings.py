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


@ranking("affinity")
def product_affinity(sums: dict) -> list[dict]:
    """Product pairs bought in one order, most frequent first, with support, confidence and lift.

    Reads `affinity_pairs` {"a<sep>b": orders with both}, `affinity_items` {product: orders
    with it} and the window's `orders` (micros). Confidence is of a -> b (a sorts first);
    a figure whose base is missing (an item dropped by the bucket cap) is null.
    """
    from .aggregates import MICROS

    orders = (sums.get("orders") or 0) / MICROS
    items = sums.get("affinity_items") or {}
    entries = []
    for a, b, count in top_pairs(sums.get("affinity_pairs") or {}):
        with_a, with_b = items.get(a, 0), items.get(b, 0)
        entries.append({
            "a": a, "b": b, "count": count,
            "support": count / orders if orders > 0 else None,
            "confidence": count / with_a if with_a > 0 else None,
            "lift": count * orders / (with_a * with_b) if orders > 0 and with_a > 0 and with_b > 0 else None,
        })
    return entries
