"""Generated JSON Schemas: up to date, valid, and in agreement with the decoder."""
from __future__ import annotations

import json

import orjson
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from schemas import generate
from schemas.catalog import EVENT_TYPES, TOPIC_TYPES
from schemas.decoder import Decoder, dead_letter_record
from schemas.events import Rejection
from schemas.examples import DATA, example_event

SCHEMAS = {path: json.loads(text) for path, text in generate.on_disk().items() if path.endswith(".json")}
REGISTRY = Registry().with_resources(
    (schema["$id"], Resource.from_contents(schema)) for schema in SCHEMAS.values())
DECODER = Decoder()


def validator(path: str) -> Draft202012Validator:
    return Draft202012Validator(SCHEMAS[path], registry=REGISTRY)


def test_files_on_disk_are_what_the_generator_writes():
    assert generate.on_disk() == generate.render(), "run: python -m schemas.generate"


@pytest.mark.parametrize("path", sorted(SCHEMAS))
def test_each_file_is_a_valid_schema(path):
    Draft202012Validator.check_schema(SCHEMAS[path])


def test_topics_and_types_follow_the_contract():
    assert TOPIC_TYPES == {
        "shop.clickstream": {"page_viewed", "product_viewed", "product_added", "product_removed",
                             "checkout_started"},
        "shop.orders": {"order_completed", "order_refunded", "order_cancelled"},
        "shop.chat": {"chat_started", "chat_message", "chat_ended"},
        "shop.support": {"ticket_created", "ticket_replied", "ticket_escalated", "ticket_resolved",
                         "ticket_reopened", "survey_responded"},
        "shop.marketing": {"ad_performance_reported", "marketing_spend_reported", "email_delivered",
                           "email_opened", "email_clicked", "email_subscribed", "email_unsubscribed",
                           "sms_subscribed", "sms_unsubscribed", "social_stats_reported", "product_reviewed"},
        "shop.catalog": {"inventory_reported", "price_changed", "competitor_price_observed",
                         "market_size_reported", "fx_rate_reported"},
        "shop.operations": {"work_order_completed", "line_status_reported", "labor_reported",
                            "compliance_incident"},
    }
    assert DATA.keys() == EVENT_TYPES.keys()
    assert {p for p in SCHEMAS if p.startswith("events/")} == {f"events/{t}.json" for t in EVENT_TYPES}


@pytest.mark.parametrize("path, pointer, default", [
    ("events/page_viewed.json", ("data", "page", "type"), "other"),
    ("events/product_added.json", ("data", "product", "quantity"), 1),
    ("events/order_completed.json", ("data", "products", "[]", "quantity"), 1),
    ("events/chat_started.json", ("data", "intent"), "other"),
    ("events/ticket_created.json", ("data", "priority"), "normal"),
    ("events/ticket_replied.json", ("data", "public"), True),
])
def test_contract_defaults_are_in_the_schemas(path, pointer, default):
    node = SCHEMAS[path]
    for key in pointer:
        node = node["items"] if key == "[]" else node["properties"][key]
    assert node["default"] == default


@pytest.mark.parametrize("name", list(EVENT_TYPES))
def test_examples_are_valid_for_schema_and_decoder(name):
    doc = example_event(name)
    validator(f"events/{name}.json").validate(doc)
    validator("envelope.json").validate(doc)
    assert DECODER.decode(orjson.dumps(doc), EVENT_TYPES[name].topic)[1] == []


def test_batch_schema_takes_a_list_of_events():
    batch = [example_event(name) for name in EVENT_TYPES]
    validator("batch.json").validate(batch)
    assert not validator("batch.json").is_valid(batch + [{"type": "page_viewed"}])


def _set(doc: dict, path: str, value) -> dict:
    *parents, leaf = path.split(".")
    node = doc
    for key in parents:
        node = node[key]
    if value is DROP:
        del node[leaf]
    else:
        node[leaf] = value
    return doc


DROP = object()

# (event type, dotted path to change, new value or DROP, reason the decoder gives). Every
# case must be rejected by the JSON Schema too (validated as a whole envelope).
INVALID = [
    ("page_viewed", "specversion", "0.3", "bad_value:specversion"),
    ("page_viewed", "specversion", DROP, "missing_field:specversion"),
    ("page_viewed", "id", "", "bad_value:id"),
    ("page_viewed", "id", "x" * 129, "bad_value:id"),
    ("page_viewed", "id", DROP, "missing_field:id"),
    ("page_viewed", "source", "", "bad_value:source"),
    ("page_viewed", "type", "page_view", "unknown_type"),
    ("page_viewed", "type", DROP, "missing_field:type"),
    ("page_viewed", "time", "2019-06-13T10:02:03", "bad_value:time"),
    ("page_viewed", "time", "2019-06-13T10:02:03+0800", "bad_value:time"),
    ("page_viewed", "time", "2019-13-01T10:02:03Z", "bad_value:time"),
    ("page_viewed", "time", 1560420123, "bad_value:time"),
    ("page_viewed", "data", [], "bad_value:data"),
    ("page_viewed", "data", DROP, "missing_field:data"),
    ("page_viewed", "data.session_id", DROP, "missing_field:session_id"),
    ("page_viewed", "data.session_id", "", "bad_value:session_id"),
    ("page_viewed", "data.device", "phone", "bad_value:device"),
    ("page_viewed", "data.country", "de", "bad_value:country"),
    ("page_viewed", "data.country", None, "bad_value:country"),
    ("page_viewed", "data.page.path", DROP, "missing_field:page.path"),
    ("page_viewed", "data.page.type", "landing", "bad_value:page.type"),
    ("page_viewed", "data.campaign.source", 3, "bad_value:campaign.source"),
    ("product_viewed", "data.product", DROP, "missing_field:product"),
    ("product_viewed", "data.product.price", -0.01, "bad_value:product.price"),
    ("product_added", "data.cart_id", DROP, "missing_field:cart_id"),
    ("product_added", "data.product.quantity", 1.5, "bad_value:product.quantity"),
    ("product_added", "data.product.quantity", True, "bad_value:product.quantity"),
    ("order_completed", "data.order_id", DROP, "missing_field:order_id"),
    ("order_completed", "data.revenue", "119.8", "bad_value:revenue"),
    ("order_completed", "data.revenue", -5, "bad_value:revenue"),
    ("order_completed", "data.currency", "EURO", "bad_value:currency"),
    ("order_completed", "data.currency", "eur", "bad_value:currency"),
    ("order_completed", "data.products", [{"sku": "S"}], "missing_field:products.product_id"),
    ("order_completed", "data.products", [{"product_id": "p", "cost": -1}], "bad_value:products.cost"),
    ("order_completed", "data.products", ["p"], "bad_value:products"),
    ("chat_started", "data.initiator", "customer", "bad_value:initiator"),
    ("chat_started", "data.intent", "sales", "bad_value:intent"),
    ("ticket_replied", "data.public", 1, "bad_value:public"),
    ("ticket_escalated", "data.to_tier", -1, "bad_value:to_tier"),
    ("survey_responded", "data.score", 11, "bad_value:score"),
    ("survey_responded", "data.survey", "csat", "bad_value:score"),  # the example's 9 is no csat score
    ("product_reviewed", "data.rating", 6, "bad_value:rating"),
    ("ad_performance_reported", "data.period_start", DROP, "missing_field:period_start"),
    ("ad_performance_reported", "data.clicks", 2.5, "bad_value:clicks"),
    ("social_stats_reported", "data.reach", DROP, "missing_field:reach"),
    ("fx_rate_reported", "data.rate", 0, "bad_value:rate"),
    ("work_order_completed", "data.started_at", "yesterday", "bad_value:started_at"),
    ("labor_reported", "data.units_standard", -1, "bad_value:units_standard"),
    ("compliance_incident", "data.severity", "minor", "bad_value:severity"),
]


@pytest.mark.parametrize("name, path, value, reason", INVALID,
                         ids=[f"{c[0]}:{c[1]}={c[3]}" for c in INVALID])
def test_schema_and_decoder_both_reject(name, path, value, reason):
    doc = _set(example_event(name), path, value)
    assert not validator("envelope.json").is_valid(doc)
    [rejection] = DECODER.decode(orjson.dumps(doc), "shop.any")[1]
    assert rejection.reason == reason


@pytest.mark.parametrize("survey, score", [("csat", 0), ("csat", 6), ("nps", 11)])
def test_survey_score_range_depends_on_the_survey(survey, score):
    doc = example_event("survey_responded")
    doc["data"].update(survey=survey, score=score)
    assert not validator("envelope.json").is_valid(doc)
    assert [r.reason for r in DECODER.decode(orjson.dumps(doc), "shop.support")[1]] == ["bad_value:score"]


# --- output records ---------------------------------------------------------------------------

@pytest.mark.parametrize("rejection", [
    Rejection("not_json", "shop.orders", 3, 42, b"{oops"),
    Rejection("not_json", "shop.orders", 3, 42, b"\xff\xfe", detail="not UTF-8"),
    Rejection("no_value", "shop.orders", 3, 42, None),
    Rejection("missing_field:page.path", "shop.clickstream", 0, 7, b'{"id":"a"}', 4, "page.path is required"),
], ids=["utf-8", "base64", "no value", "batch element"])
def test_dead_letter_records_match_their_schema(rejection):
    validator("deadletter.json").validate(orjson.loads(dead_letter_record(rejection)))


@pytest.mark.parametrize("changes", [
    {"reason": "Not JSON"}, {"value": None}, {"value_encoding": "latin-1"}, {"extra": 1}])
def test_dead_letter_schema_rejects(changes):
    record = orjson.loads(dead_letter_record(Rejection("not_json", "t", 0, 0, b"x")))
    assert validator("deadletter.json").is_valid(record)
    assert not validator("deadletter.json").is_valid({**record, **changes})


LATE = {  # the record streams/records.py writes for shop.kpi.late
    "reason": "late", "missed_windows": ["1m", "5m"],
    "topic": "shop.clickstream", "partition": 2, "offset": 17,
    "watermark": "2019-06-13T10:09:00Z", "received_at": "2019-06-13T10:09:01.250Z",
    "event": example_event("product_added"),
}


@pytest.mark.parametrize("changes, valid", [
    ({}, True),
    ({"missed_windows": []}, False),
    ({"watermark": 1560420540}, False),
    ({"event": {**example_event("product_added"), "data": {"cart_id": "c"}}}, False),
])
def test_late_event_schema(changes, valid):
    assert validator("late_event.json").is_valid({**LATE, **changes}) is valid


SNAPSHOT = {  # the example of outputs.md section 1
    "kpi": "conversion_rate", "window": "1h",
    "window_start": "2019-06-13T10:00:00Z", "window_end": "2019-06-13T11:00:00Z",
    "dims": {"channel": "paid_search"},
    "value": 0.0345, "numerator": 12, "denominator": 348, "unit": "ratio",
    "final": True, "emitted_at": "2019-06-13T11:31:02.118Z",
}


@pytest.mark.parametrize("changes, valid", [
    ({}, True),
    ({"value": None, "denominator": 0}, True),
    ({"kpi": "revenue", "unit": "currency", "value": 10.5, "numerator": 10.5, "denominator": None,
      "currency": "USD"}, True),
    ({"kpi": "product_affinity", "unit": "count", "value": None, "numerator": None, "denominator": None,
      "ranking": [{"a": "p1", "b": "p2", "count": 4, "support": 0.1, "confidence": 0.5, "lift": 2.0}]}, True),
    ({"unit": "currency"}, False),  # currency unit without the currency
    ({"unit": "percent"}, False),
    ({"window": "hour"}, False),
    ({"dims": {"hour": 7}}, False),
    ({"emitted_at": "2019-06-13 11:31:02"}, False),
])
def test_snapshot_schema(changes, valid):
    assert validator("snapshot.json").is_valid({**SNAPSHOT, **changes}) is valid


ALERT = {  # the example of outputs.md section 2
    "alert": "conversion_rate_low", "state": "firing", "severity": "critical",
    "kpi": "conversion_rate", "window": "5m", "window_start": "2019-06-13T10:00:00Z", "dims": {},
    "value": 0.004, "threshold": 0.01, "op": "<", "summary": "Conversion below 1%",
    "at": "2019-06-13T10:06:01.000Z",
}


@pytest.mark.parametrize("changes, valid", [
    ({}, True),
    ({"state": "resolved", "value": None}, True),
    ({"state": "pending"}, False),
    ({"op": "=="}, False),
])
def test_alert_schema(changes, valid):
    assert validator("alert.json").is_valid({**ALERT, **changes}) is valid
