"""Decoded input events and rejections: the shapes every later step works on."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Event:
    """One validated CloudEvents envelope.

    `time_s` is the event time as float seconds since the UTC epoch (parsed once at
    the edge); `data` is the type's payload with defaults filled in.
    """

    id: str
    source: str
    type: str
    time_s: float
    data: dict
    topic: str = ""
    partition: int = -1
    offset: int = -1


@dataclass(slots=True)
class Rejection:
    """One input message (or one element of a batch) that failed validation.

    `reason` is machine-readable: `not_json`, `too_large`, `no_value`, `not_object`,
    `missing_field:<name>`, `bad_value:<name>`, `unknown_type`, `wrong_topic`.
    `value` holds the original bytes of the message (or of the batch element).
    """

    reason: str
    topic: str
    partition: int
    offset: int
    value: bytes | None
    index: int | None = None  # position inside a batch message
    detail: str = field(default="")
