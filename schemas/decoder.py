"""Decode Kafka message values into validated events and rejections (dead letters).

One message holds one CloudEvents JSON object or a JSON array of them (a batch). Every
failure becomes a `Rejection` with a machine-readable reason; nothing raises. Checks are
hand-written and compiled once from `schemas.catalog` (no JSON Schema at runtime); the JSON
Schema files in `schemas/json` describe the same rules and a unit test holds them equal.
"""
from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Mapping, Set
from dataclasses import dataclass

import orjson

from schemas.catalog import EVENT_TYPES, MAX_ID_LENGTH, SPECVERSION, TOPIC_TYPES
from schemas.checks import ABSENT, Problem, compile_type
from schemas.events import Event, Rejection
from schemas.timestamps import format_time, parse_time, parse_time_or_none

__all__ = [
    "Decoder", "Limits", "dead_letter_key", "dead_letter_record", "format_time", "parse_time",
]

_loads = orjson.loads
_dumps = orjson.dumps
_JSONDecodeError = orjson.JSONDecodeError


# Longest original value a dead letter carries (base64 grows it by a third; the record
# stays far below Kafka's default 1 MiB message limit).
DEAD_LETTER_VALUE_BYTES = 256 * 1024


@dataclass(frozen=True)
class Limits:
    """Size limits in bytes: one event (a message or a batch element), one message."""

    max_event_bytes: int = 64 * 1024
    max_batch_bytes: int = 1024 * 1024


def _envelope_problems(name: str, expected: str) -> tuple[Problem, Problem]:
    return (f"missing_field:{name}", f"{name} is required"), (f"bad_value:{name}", f"{name} must be {expected}")


_SPECVERSION = _envelope_problems("specversion", f'"{SPECVERSION}"')
_ID = _envelope_problems("id", f"a non-empty string of at most {MAX_ID_LENGTH} chars")
_SOURCE = _envelope_problems("source", "a non-empty string")
_TYPE = _envelope_problems("type", "a string")
_TIME = _envelope_problems("time", "an RFC 3339 time with offset (Z or +hh:mm)")
_DATA = _envelope_problems("data", "an object")


class Decoder:
    """Turns message values into events and rejections; safe to share, holds no per-message state.

    `topic_types` maps each known topic name to the event types allowed on it (default
    `catalog.TOPIC_TYPES`). A known type on a known topic that does not allow it is
    `wrong_topic`; messages from topics not in the map may carry any known type.
    """

    def __init__(self, limits: Limits = Limits(),
                 topic_types: Mapping[str, Set[str]] | None = None) -> None:
        topic_types = TOPIC_TYPES if topic_types is None else topic_types
        strangers = set().union(*topic_types.values()) - EVENT_TYPES.keys()
        if strangers:
            raise ValueError(f"topic_types names types the catalogue does not define: {sorted(strangers)}")
        self.limits = limits
        self._allowed = {topic: frozenset(types) for topic, types in topic_types.items()}
        self._validators = {name: compile_type(t) for name, t in EVENT_TYPES.items()}
        self._wrong_topic = {
            name: ("wrong_topic", f"{name} is allowed on " + (
                ", ".join(sorted(t for t, ts in self._allowed.items() if name in ts)) or "no configured topic"))
            for name in EVENT_TYPES
        }

    def decode(self, value: bytes | None, topic: str, partition: int = -1,
               offset: int = -1) -> tuple[list[Event], list[Rejection]]:
        """Events (in message order) and rejections of one Kafka message value."""
        if not value:
            return [], [Rejection("no_value", topic, partition, offset, value, None, "message has no value")]
        size = len(value)
        limits = self.limits
        if size > limits.max_batch_bytes or (size > limits.max_event_bytes and _starts_object(value)):
            limit = limits.max_batch_bytes if size > limits.max_batch_bytes else limits.max_event_bytes
            return [], [Rejection("too_large", topic, partition, offset, value, None,
                                  f"{size} bytes > limit {limit}")]
        try:
            doc = _loads(value)
        except _JSONDecodeError as e:
            return [], [Rejection("not_json", topic, partition, offset, value, None, str(e))]

        allowed = self._allowed.get(topic)
        if type(doc) is dict:
            result = self._judge(doc, topic, partition, offset, allowed)
            if type(result) is tuple:
                return [], [Rejection(result[0], topic, partition, offset, value, None, result[1])]
            return [result], []
        if type(doc) is list:
            return self._judge_batch(doc, value, topic, partition, offset, allowed)
        return [], [Rejection("not_object", topic, partition, offset, value, None,
                              f"expected a JSON object or array, got {type(doc).__name__}")]

    def _judge_batch(self, items: list, value: bytes, topic: str, partition: int, offset: int,
                     allowed: frozenset[str] | None) -> tuple[list[Event], list[Rejection]]:
        # An element as sent is part of the message, so it can only exceed the event limit
        # when the whole message does; only then is each element measured (re-serialized).
        max_event = self.limits.max_event_bytes
        measure = len(value) > max_event
        events: list[Event] = []
        rejections: list[Rejection] = []
        pristine: list | None = None
        for index, item in enumerate(items):
            if type(item) is not dict:
                rejections.append(Rejection("not_object", topic, partition, offset, _dumps(item), index,
                                            f"batch element is {type(item).__name__}, not an object"))
                continue
            if measure:
                raw = _dumps(item)
                if len(raw) > max_event:
                    rejections.append(Rejection("too_large", topic, partition, offset, raw, index,
                                                f"{len(raw)} bytes > limit {max_event}"))
                    continue
            result = self._judge(item, topic, partition, offset, allowed)
            if type(result) is tuple:
                # Checking fills defaults in place, so `item` may no longer be the element as
                # sent: take it from a fresh parse of the message (rejections are rare).
                if pristine is None:
                    pristine = _loads(value)
                rejections.append(Rejection(result[0], topic, partition, offset, _dumps(pristine[index]),
                                            index, result[1]))
            else:
                events.append(result)
        return events, rejections

    def _judge(self, doc: dict, topic: str, partition: int, offset: int,
               allowed: frozenset[str] | None) -> Event | Problem:
        """The event, or the first problem of one envelope (checked in field order)."""
        get = doc.get
        v = get("specversion", ABSENT)
        if v != SPECVERSION:
            return _SPECVERSION[v is not ABSENT]
        event_id = get("id", ABSENT)
        if type(event_id) is not str or not 0 < len(event_id) <= MAX_ID_LENGTH:
            return _ID[event_id is not ABSENT]
        source = get("source", ABSENT)
        if type(source) is not str or not source:
            return _SOURCE[source is not ABSENT]
        event_type = get("type", ABSENT)
        if type(event_type) is not str:
            return _TYPE[event_type is not ABSENT]
        validate = self._validators.get(event_type)
        if validate is None:
            return "unknown_type", f"unknown event type {event_type[:64]!r}"
        if allowed is not None and event_type not in allowed:
            return self._wrong_topic[event_type]
        t = get("time", ABSENT)
        time_s = parse_time_or_none(t) if type(t) is str else None
        if time_s is None:
            return _TIME[t is not ABSENT]
        data = get("data", ABSENT)
        if type(data) is not dict:
            return _DATA[data is not ABSENT]
        problem = validate(data)
        if problem is not None:
            return problem
        return Event(event_id, source, event_type, time_s, data, topic, partition, offset)


def _starts_object(value: bytes) -> bool:
    return value.lstrip()[:1] == b"{"


def dead_letter_record(rej: Rejection) -> bytes:
    """The `shop.deadletter` message of a rejection (schemas/json/deadletter.json).

    The original bytes travel as text when they are UTF-8, else base64; a message without
    a value has `value` and `value_encoding` null.
    """
    original = None if rej.value is None else bytes(rej.value)
    kept = original
    if original is not None and len(original) > DEAD_LETTER_VALUE_BYTES:
        # A dead letter must fit in a Kafka message itself: keep the head of an oversized
        # value, with its size and digest so it can be matched with the source record.
        kept = original[:DEAD_LETTER_VALUE_BYTES]
    if kept is None:
        value, encoding = None, None
    else:
        try:
            value, encoding = kept.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            value, encoding = base64.b64encode(kept).decode("ascii"), "base64"
    extra = {}
    if kept is not original:
        extra = {"value_truncated": True, "value_bytes": len(original),
                 "value_sha256": hashlib.sha256(original).hexdigest()}
    return _dumps({
        "reason": rej.reason,
        "topic": rej.topic,
        "partition": rej.partition,
        "offset": rej.offset,
        "index": rej.index,
        "detail": rej.detail,
        "value": value,
        "value_encoding": encoding,
        "rejected_at": format_time(time.time()),
        **extra,
    })


def dead_letter_key(rej: Rejection) -> bytes:
    """`topic|partition|offset|index` (index empty for a whole message): unique per rejection."""
    index = "" if rej.index is None else rej.index
    return f"{rej.topic}|{rej.partition}|{rej.offset}|{index}".encode()
