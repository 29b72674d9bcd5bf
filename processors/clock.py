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
        self._unseen_with_backlog: set[str] = set()
        # Set by a shell until it knows every input partition's backlog (at start-up).
        self.hold = False

    def note_backlog(self, tp: str, has_backlog: bool, now_wall: float) -> None:
        """A partition with messages still to read is never idle, however long it waits.

        A partition that has a backlog but never delivered an event holds the watermark
        back entirely: its first events may be older than everything seen so far.
        """
        if not has_backlog:
            self._unseen_with_backlog.discard(tp)
        elif tp in self.max_time:
            self.last_seen_wall[tp] = now_wall
            self._unseen_with_backlog.discard(tp)
        else:
            self._unseen_with_backlog.add(tp)

    def observe(self, tp: str, event_time_s: float, now_wall: float) -> None:
        if event_time_s > self.max_time.get(tp, float("-inf")):
            self.max_time[tp] = event_time_s
        self.last_seen_wall[tp] = now_wall

    @property
    def unseen_with_backlog(self) -> set[str]:
        """Partitions with unread messages that never delivered an event (they hold stream time)."""
        return self._unseen_with_backlog

    def advance(self, now_wall: float) -> float:
        if not self.max_time or self._unseen_with_backlog or self.hold:
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
