"""JSON Schemas (draft 2020-12) of the input events, built from the catalogue."""
from __future__ import annotations

from schemas.catalog import ENVELOPE, EVENT_TYPES, EventType, Field, Kind
from schemas.examples import example_event
from schemas.timestamps import RFC3339_PATTERN

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_PREFIX = "urn:shoppulse:schema:"


def schema_id(name: str) -> str:
    """`$id` of a generated schema; `name` is its path under schemas/json without `.json`."""
    return ID_PREFIX + name.replace("/", ":")


def timestamp_schema(description: str = "") -> dict:
    schema = {"type": "string", "format": "date-time", "pattern": RFC3339_PATTERN}
    return {"description": description, **schema} if description else schema


def event_schema(event_type: EventType) -> dict:
    """The whole envelope of one event type, with its `data` rules."""
    return {
        "$schema": DIALECT,
        "$id": schema_id(f"events/{event_type.name}"),
        "title": event_type.name,
        "description": event_type.description,
        "x-shoppulse-topic": event_type.topic,
        **_envelope({"const": event_type.name}, _data_schema(event_type)),
        "examples": [example_event(event_type.name)],
    }


def envelope_schema() -> dict:
    """Any input event: the envelope, dispatching `data` rules to the schema of its `type`."""
    names = list(EVENT_TYPES)
    return {
        "$schema": DIALECT,
        "$id": schema_id("envelope"),
        "title": "ShopPulse input event",
        "description": ("CloudEvents 1.0 structured-mode JSON envelope; the `data` rules of each "
                        "type are in events/<type>.json."),
        **_envelope({"enum": names}, {"type": "object"}),
        "allOf": [
            {"if": {"properties": {"type": {"const": name}}, "required": ["type"]},
             "then": {"$ref": schema_id(f"events/{name}")}}
            for name in names
        ],
    }


def batch_schema() -> dict:
    return {
        "$schema": DIALECT,
        "$id": schema_id("batch"),
        "title": "ShopPulse input batch",
        "description": ("CloudEvents JSON batch (application/cloudevents-batch+json): one message, "
                        "many events, each judged on its own."),
        "type": "array",
        "items": {"$ref": schema_id("envelope")},
    }


def field_schema(f: Field) -> dict:
    kind = f.kind
    if kind is Kind.STRING:
        schema: dict = {"type": "string"}
    elif kind is Kind.TEXT:
        schema = {"type": "string", "minLength": 1}
        if f.max_length is not None:
            schema["maxLength"] = f.max_length
    elif kind is Kind.ENUM:
        schema = {"const": f.values[0]} if len(f.values) == 1 else {"type": "string", "enum": list(f.values)}
    elif kind is Kind.BOOLEAN:
        schema = {"type": "boolean"}
    elif kind in (Kind.INTEGER, Kind.NUMBER):
        schema = {"type": kind.value}
        if f.minimum is not None:
            schema["exclusiveMinimum" if f.exclusive_minimum else "minimum"] = f.minimum
        if f.maximum is not None:
            schema["maximum"] = f.maximum
    elif kind is Kind.CURRENCY:  # the lengths also rule out a trailing newline, which `$` allows
        schema = {"type": "string", "minLength": 3, "maxLength": 3, "pattern": "^[A-Z]{3}$"}
    elif kind is Kind.COUNTRY:
        schema = {"type": "string", "minLength": 2, "maxLength": 2, "pattern": "^[A-Z]{2}$"}
    elif kind is Kind.TIMESTAMP:
        schema = timestamp_schema()
    elif kind is Kind.OBJECT:
        schema = _object_schema(f.fields)
    elif kind is Kind.OBJECT_LIST:
        schema = {"type": "array", "items": _object_schema(f.fields)}
    else:
        raise ValueError(f"{f.name}: no schema for kind {kind}")
    if f.default is not None:
        schema["default"] = f.default
    return {"description": f.description, **schema} if f.description else schema


def _envelope(type_schema: dict, data_schema: dict) -> dict:
    properties = {f.name: field_schema(f) for f in ENVELOPE}
    properties["type"] = {**type_schema, "description": properties["type"]["description"]}
    properties["data"] = data_schema
    return {"type": "object", "required": [f.name for f in ENVELOPE], "properties": properties}


def _data_schema(event_type: EventType) -> dict:
    schema = _object_schema(event_type.fields)
    if event_type.ranges:
        schema["allOf"] = [
            {"if": {"properties": {r.when_field: {"const": r.when_value}}, "required": [r.when_field]},
             "then": {"properties": {r.field: {"minimum": r.minimum, "maximum": r.maximum}}}}
            for r in event_type.ranges
        ]
    return schema


def _object_schema(fields: tuple[Field, ...]) -> dict:
    schema: dict = {"type": "object"}
    required = [f.name for f in fields if f.required and f.default is None]
    if required:
        schema["required"] = required
    schema["properties"] = {f.name: field_schema(f) for f in fields}
    return schema  # extra properties stay allowed: producers may add fields (forward compatible)
