"""Output-contract messages: Kafka keys and values for snapshots and late events."""
from __future__ import annotations

import orjson

from processors.engine import LateEvent
from processors.snapshots import format_utc, snapshot_key
from schemas.events import Event


def snapshot_message(snapshot: dict) -> tuple[bytes, bytes]:
    key = snapshot_key(snapshot["kpi"], snapshot["window"], snapshot["window_start"], snapshot["dims"])
    return key.encode(), orjson.dumps(snapshot)


def envelope(event: Event) -> dict:
    """The CloudEvents envelope of a decoded event (as validated, with defaults filled)."""
    return {"specversion": "1.0", "id": event.id, "source": event.source, "type": event.type,
            "time": format_utc(event.time_s), "data": event.data}


def late_message(late: LateEvent, watermark: float, now: float) -> tuple[bytes, bytes]:
    event = late.event
    value = {
        "reason": "late", "missed_windows": late.windows,
        "topic": event.topic, "partition": event.partition, "offset": event.offset,
        "watermark": format_utc(watermark), "received_at": format_utc(now),
        "event": envelope(event),
    }
    return f"{event.source}|{event.id}".encode(), orjson.dumps(value)


def serving_field(snapshot: dict) -> str:
    """Redis hash field of the latest snapshot of one (KPI, window, dims)."""
    dims = ",".join(f"{k}={v}" for k, v in sorted(snapshot["dims"].items()))
    return f"{snapshot['kpi']}|{snapshot['window']}|{dims}"
