"""One batch of Kafka messages through decoding and the engine, to output messages."""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from processors.engine import KpiEngine
from schemas.decoder import Decoder, Limits, dead_letter_key, dead_letter_record

from .records import late_message, snapshot_message


@dataclass
class RawMessage:
    value: bytes | None
    topic: str
    partition: int
    offset: int


@dataclass
class BatchOutput:
    """What one batch produced, ready to send (record shapes: outputs.md)."""

    dead_letters: list[tuple[bytes, bytes]] = field(default_factory=list)
    late: list[tuple[bytes, bytes]] = field(default_factory=list)
    snapshots: list[dict] = field(default_factory=list)
    consumed: Counter = field(default_factory=Counter)  # topic -> events accepted
    rejected: Counter = field(default_factory=Counter)  # (topic, reason) -> count
    duplicates: Counter = field(default_factory=Counter)  # topic -> duplicates
    late_by_topic: Counter = field(default_factory=Counter)

    def snapshot_messages(self) -> list[tuple[bytes, bytes]]:
        return [snapshot_message(s) for s in self.snapshots]


class Pipeline:
    """Decoder + engine: the whole per-batch computation, with no Kafka or Redis in it."""

    def __init__(self, engine: KpiEngine, limits: Limits = Limits(), topic_types=None, clock=time.time):
        self.engine = engine
        self.decoder = Decoder(limits, topic_types)
        self.clock = clock
        self.processed_offsets: dict[tuple[str, int], int] = {}
        # Offsets below these are already in the loaded state (a checkpoint): skipped
        # when Kafka delivers them again after a restart.
        self.resume_offsets: dict[tuple[str, int], int] = {}
        self.skipped_replays = 0

    def process(self, messages: list[RawMessage]) -> BatchOutput:
        out = BatchOutput()
        now = self.clock()
        events = []
        processed, resume = self.processed_offsets, self.resume_offsets
        for message in messages:
            tp = (message.topic, message.partition)
            if message.offset < resume.get(tp, -1):
                self.skipped_replays += 1
                continue
            if message.offset > processed.get(tp, -1):
                processed[tp] = message.offset
            decoded, rejections = self.decoder.decode(message.value, message.topic, message.partition, message.offset)
            events += decoded
            self._reject(out, rejections, now)
        report = self.engine.ingest(events, now)
        self._reject(out, report.rejected, now)
        for late in report.late:
            out.late.append(late_message(late, self.engine.watermark, now))
            out.late_by_topic[late.event.topic] += 1
        out.consumed.update(Counter(e.topic for e in events))
        out.duplicates.update(report.duplicates)
        out.snapshots = self.engine.advance(now)
        return out

    def checkpoint_offsets(self) -> dict[str, int]:
        """Next offset to read per input partition ("topic:partition"), for a checkpoint."""
        offsets = {f"{t}:{p}": o for (t, p), o in self.resume_offsets.items()}
        offsets.update({f"{t}:{p}": o + 1 for (t, p), o in self.processed_offsets.items()})
        return offsets

    def resume_from(self, offsets: dict[str, int]) -> None:
        for name, offset in offsets.items():
            topic, _, partition = name.rpartition(":")
            tp = (topic, int(partition))
            self.resume_offsets[tp] = offset
            self.processed_offsets[tp] = max(self.processed_offsets.get(tp, -1), offset - 1)

    def tick(self) -> BatchOutput:
        """Advance on wall time alone (idle partitions) and collect what became final."""
        out = BatchOutput()
        out.snapshots = self.engine.advance(self.clock())
        return out

    @staticmethod
    def _reject(out: BatchOutput, rejections, now: float) -> None:
        for rejection in rejections:
            out.dead_letters.append((dead_letter_key(rejection), dead_letter_record(rejection)))
            out.rejected[(rejection.topic, rejection.reason.split(":")[0])] += 1
