"""Reads every partition of the input topics for the worker that owns the engine.

The engine needs all input partitions in one state (sessions, orders and chats meet
there, and the watermark is the minimum over every partition), so the worker holding the
engine lease reads them all itself, from the offsets its loaded state names. Offsets live
in the engine state, not in Kafka's group offsets: a delta and the offsets it includes
are one record, so a restart never double counts or skips (see state_table.py).

Reading with `getmany` hands whole fetched batches to the pipeline; Faust's per-message
stream path (an Event, a future and an ack per message) costs more than the KPIs do.
"""
from __future__ import annotations

import logging

from aiokafka import AIOKafkaConsumer, TopicPartition

log = logging.getLogger(__name__)


class InputReader:
    """All partitions of `topics`, positioned at `offsets` ("topic:partition" -> next offset)."""

    def __init__(self, bootstrap: str, topics: list[str], *, client_id: str, security: dict | None = None):
        self.topics = topics
        # getmany drains one partition's fetched records before the next: 1 MiB per partition
        # keeps the partitions' event times close, so the watermark (their minimum) follows.
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, client_id=client_id, group_id=None, enable_auto_commit=False,
            auto_offset_reset="earliest", fetch_max_bytes=32 * 1024 * 1024,
            max_partition_fetch_bytes=1024 * 1024, **(security or {}))
        self.partitions: list[TopicPartition] = []
        self._highwater: dict[TopicPartition, int] = {}

    async def start(self, offsets: dict[str, int]) -> None:
        await self.consumer.start()
        partitions = []
        for topic in self.topics:
            found = self.consumer.partitions_for_topic(topic)
            if not found:
                await self.consumer._client.force_metadata_update()  # a topic created just now
                found = self.consumer.partitions_for_topic(topic) or set()
            partitions += [TopicPartition(topic, p) for p in sorted(found)]
        self.partitions = partitions
        self.consumer.assign(partitions)
        fresh = []
        for tp in partitions:
            offset = offsets.get(f"{tp.topic}:{tp.partition}")
            if offset is None:
                fresh.append(tp)
            else:
                self.consumer.seek(tp, offset)
        if fresh:
            await self.consumer.seek_to_beginning(*fresh)
        self._highwater = dict(await self.consumer.end_offsets(partitions))
        log.info("reading %d input partitions (%d from the beginning)", len(partitions), len(fresh))

    async def stop(self) -> None:
        await self.consumer.stop()

    async def fetch(self, timeout_s: float, max_records: int) -> list:
        """The next fetched records of every partition (ConsumerRecords), maybe none."""
        batches = await self.consumer.getmany(timeout_ms=int(timeout_s * 1000), max_records=max_records)
        return [record for records in batches.values() for record in records]

    def highwaters(self) -> dict[TopicPartition, int]:
        """The end offset of each partition, as of the newest fetch response."""
        for tp in self.partitions:
            high = self.consumer.highwater(tp)
            if high is not None:
                self._highwater[tp] = high
        return self._highwater
