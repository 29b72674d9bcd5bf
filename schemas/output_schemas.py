"""JSON Schemas (draft 2020-12) of ShopPulse's output topics (contract/outputs.md)."""
from __future__ import annotations

from schemas.event_schemas import DIALECT, schema_id, timestamp_schema

WINDOW = {"type": "string", "pattern": "^[1-9][0-9]*[smhd]$", "description": "window size, e.g. 5m, 1h"}
DIMS = {"type": "object", "additionalProperties": {"type": "string"},
        "description": "breakdown values by dim name; {} for the overall value"}
NULLABLE_NUMBER = {"type": ["number", "null"]}
CURRENCY = {"type": "string", "minLength": 3, "maxLength": 3, "pattern": "^[A-Z]{3}$"}
UNITS = ["ratio", "seconds", "count", "currency", "score"]


def snapshot_schema() -> dict:
    """`shop.kpi.snapshots`: one message per (kpi, window, window_start, dims)."""
    return {
        "$schema": DIALECT,
        "$id": schema_id("snapshot"),
        "title": "KPI snapshot",
        "description": ('Key "{kpi}|{window}|{window_start}|{dims}" (dims as sorted k=v pairs joined '
                        'by ","); the key is the idempotency key of final snapshots.'),
        "type": "object",
        "required": ["kpi", "window", "window_start", "window_end", "dims", "value", "numerator",
                     "denominator", "unit", "final", "emitted_at"],
        "properties": {
            "kpi": {"type": "string", "minLength": 1},
            "window": WINDOW,
            "window_start": timestamp_schema("inclusive"),
            "window_end": timestamp_schema("exclusive"),
            "dims": DIMS,
            "value": {**NULLABLE_NUMBER, "description": "null when the denominator is 0 and for rankings"},
            "numerator": {**NULLABLE_NUMBER, "description": "count and sum KPIs carry their value here too"},
            "denominator": {**NULLABLE_NUMBER, "description": "null for count and sum KPIs"},
            "unit": {"type": "string", "enum": UNITS},
            "currency": {**CURRENCY, "description": "the reporting currency, for unit currency"},
            "ranking": {
                "type": "array",
                "description": "ranking KPIs (product_affinity, product_relationship), best first",
                "items": {
                    "type": "object",
                    "required": ["a", "b", "count"],
                    "properties": {
                        "a": {"type": "string"},
                        "b": {"type": "string"},
                        "count": {"type": "integer", "minimum": 0},
                        "support": {"type": "number"},
                        "confidence": {"type": "number"},
                        "lift": {"type": "number"},
                    },
                },
            },
            "final": {"type": "boolean", "description": "true once per key, when the window is final"},
            "emitted_at": timestamp_schema(),
        },
        "allOf": [{"if": {"properties": {"unit": {"const": "currency"}}, "required": ["unit"]},
                   "then": {"required": ["currency"]}}],
    }


def alert_schema() -> dict:
    """`shop.kpi.alerts`: a threshold rule started firing or resolved."""
    return {
        "$schema": DIALECT,
        "$id": schema_id("alert"),
        "title": "KPI alert",
        "type": "object",
        "required": ["alert", "state", "severity", "kpi", "window", "window_start", "dims", "value",
                     "threshold", "op", "at"],
        "properties": {
            "alert": {"type": "string", "minLength": 1, "description": "rule name"},
            "state": {"type": "string", "enum": ["firing", "resolved"]},
            "severity": {"type": "string", "minLength": 1},
            "kpi": {"type": "string", "minLength": 1},
            "window": WINDOW,
            "window_start": timestamp_schema("start of the final window that changed the state"),
            "dims": DIMS,
            "value": NULLABLE_NUMBER,
            "threshold": {"type": "number"},
            "op": {"type": "string", "enum": ["<", "<=", ">", ">="]},
            "summary": {"type": "string"},
            "at": timestamp_schema(),
        },
    }


def dead_letter_schema() -> dict:
    """`shop.deadletter`: exactly what `schemas.decoder.dead_letter_record` writes."""
    return {
        "$schema": DIALECT,
        "$id": schema_id("deadletter"),
        "title": "Dead letter",
        "description": 'A rejected input message or batch element. Key "{topic}|{partition}|{offset}|{index}".',
        "type": "object",
        "required": ["reason", "topic", "partition", "offset", "index", "detail", "value",
                     "value_encoding", "rejected_at"],
        "additionalProperties": False,
        "properties": {
            "reason": {
                "type": "string",
                "pattern": "^[a-z_]+(:[a-z0-9_.]+)?$",
                "description": ("not_json, too_large, no_value, not_object, unknown_type, wrong_topic, "
                                "missing_field:<name>, bad_value:<name>, ..."),
            },
            "topic": {"type": "string"},
            "partition": {"type": "integer"},
            "offset": {"type": "integer"},
            "index": {"type": ["integer", "null"], "minimum": 0,
                      "description": "position inside a batch message; null for a whole message"},
            "detail": {"type": "string"},
            "value": {"type": ["string", "null"],
                      "description": "the original bytes (re-serialized for a batch element); null if none"},
            "value_encoding": {"enum": ["utf-8", "base64", None]},
            "rejected_at": timestamp_schema(),
            "value_truncated": {"const": True,
                                "description": "present when the original was longer than 256 KiB: `value` "
                                               "holds its first 256 KiB"},
            "value_bytes": {"type": "integer", "minimum": 0, "description": "size of the original value"},
            "value_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$",
                             "description": "SHA-256 of the original value"},
        },
        "allOf": [{"if": {"properties": {"value": {"type": "null"}}},
                   "then": {"properties": {"value_encoding": {"const": None}}},
                   "else": {"properties": {"value_encoding": {"enum": ["utf-8", "base64"]}}}}],
    }


def late_event_schema() -> dict:
    """`shop.kpi.late`: an event that arrived for windows that were already final."""
    return {
        "$schema": DIALECT,
        "$id": schema_id("late_event"),
        "title": "Late event",
        "description": ('Key "{source}|{id}" of the event. The event is not counted in the missed '
                        "windows; it is written back as validated (defaults filled in)."),
        "type": "object",
        "required": ["reason", "missed_windows", "topic", "partition", "offset", "watermark",
                     "received_at", "event"],
        "properties": {
            "reason": {"const": "late"},
            "missed_windows": {"type": "array", "items": WINDOW, "minItems": 1,
                               "description": "window sizes whose window of this event was already final"},
            "topic": {"type": "string"},
            "partition": {"type": "integer"},
            "offset": {"type": "integer"},
            "watermark": timestamp_schema("stream time the event was judged against"),
            "received_at": timestamp_schema(),
            "event": {"$ref": schema_id("envelope")},
        },
    }
