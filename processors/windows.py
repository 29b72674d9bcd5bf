"""Named tumbling window sizes and the arithmetic of event-time windows."""
from __future__ import annotations

import math
import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration_s(text: str | int | float) -> float:
    """Seconds in a duration written like `90`, `30s`, `5m`, `1h`, `1d`."""
    if isinstance(text, (int, float)):
        return float(text)
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (examples: 30s, 5m, 1h, 1d)")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def window_name(size_s: int) -> str:
    """The short name of a size: 60 -> `1m`, 86400 -> `1d`."""
    for unit, factor in (("d", 86400), ("h", 3600), ("m", 60)):
        if size_s % factor == 0:
            return f"{size_s // factor}{unit}"
    return f"{size_s}s"


def floor_to(t: float, size_s: int) -> int:
    """Start of the epoch-aligned window of `size_s` seconds that contains `t`."""
    return int(math.floor(t / size_s)) * size_s


def bucket_size_s(sizes_s: list[int]) -> int:
    """The largest bucket every window size is a whole number of."""
    return math.gcd(*sizes_s)
