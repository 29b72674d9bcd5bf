"""Stream time: the newest event time per input partition, and the watermark over them."""
from __future__ import annotations


class PartitionClock:
    """Tracks max event time per (topic, partition) and derives a monotone watermark.

    The watermark is the minimum over partitions that delivered an event within the
    last `idle_s` of wall time (so a partition that is behind holds windows open and
    its events are never wrongly late); when every partition is idle it is the newest
    event time seen anywhere, so the last windows of a finished stream become final.
    """

    def __init__(self, idle_s: float = 10.0):
        self.idle_s = idle_s
        self.max_time: dict[str, float] = {}
        self.last_seen_wall: dict[str, float] = {}
        self.watermark = float("-inf")

    def observe(self, tp: str, event_time_s: float, now_wall: float) -> None:
        if event_time_s > self.max_time.get(tp, float("-inf")):
            self.max_time[tp] = event_time_s
        self.last_seen_wall[tp] = now_wall

    def advance(self, now_wall: float) -> float:
        if not self.max_time:
            return self.watermark
        active = [t for tp, t in self.max_time.items() if now_wall - self.last_seen_wall[tp] <= self.idle_s]
        candidate = min(active) if active else max(self.max_time.values())
        if candidate > self.watermark:
            self.watermark = candidate
        return self.watermark

    def newest(self) -> float:
        return max(self.max_time.values(), default=float("-inf"))

    def snapshot(self) -> dict:
        return {"max_time": self.max_time, "watermark": self.watermark}

    def restore(self, raw: dict, now_wall: float) -> None:
        self.max_time = dict(raw.get("max_time", {}))
        self.last_seen_wall = {tp: now_wall for tp in self.max_time}
        self.watermark = raw.get("watermark", float("-inf"))
