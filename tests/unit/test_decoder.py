"""Decoder: every rejection reason, batches, defaults, time parsing, dead letters."""
from __future__ import annotations

import base64

import orjson
import pytest

from schemas.catalog import EVENT_TYPES, topic_types
from schemas.decoder import Decoder, Limits, dead_letter_key, dead_letter_record, format_time, parse_time
from schemas.events import Rejection
from schemas.examples import example_event

DECODER = Decoder()


def event(event_type: str, *, drop: tuple[str, ...] = (), **changes) -> dict:
    """An example event with paths set (`data__page__type="blog"`) or removed (`drop=("data.page.type",)`)."""
    doc = example_event(event_type)
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        _walk(doc, parents)[leaf] = value
    for path in drop:
        *parents, leaf = path.split(".")
        del _walk(doc, parents)[leaf]
    return doc


def _walk(doc: dict, parents: list[str]) -> dict:
    for key in parents:
        doc = doc[key]
    return doc


def reasons(value: bytes | None, topic: str, decoder: Decoder = DECODER) -> list[str]:
    events, rejections = decoder.decode(value, topic, 0, 7)
    assert not events
    return [r.reason for r in rejections]


CLICK = "shop.clickstream"
ORDERS = "shop.orders"
SUPPORT = "shop.support"
LONG_ID = "x" * 129

# (case, message value, topic, expected reason)
REJECTED = [
    ("None value", None, CLICK, "no_value"),
    ("empty value", b"", CLICK, "no_value"),
    ("not JSON", b"{specversion: 1.0", CLICK, "not_json"),
    ("invalid UTF-8", b'{"id": "\xff"}', CLICK, "not_json"),
    ("JSON string", b'"page_viewed"', CLICK, "not_object"),
    ("JSON number", b"42", CLICK, "not_object"),
    ("JSON null", b"null", CLICK, "not_object"),
    # envelope
    ("no specversion", event("page_viewed", drop=("specversion",)), CLICK, "missing_field:specversion"),
    ("specversion 0.3", event("page_viewed", specversion="0.3"), CLICK, "bad_value:specversion"),
    ("specversion a number", event("page_viewed", specversion=1.0), CLICK, "bad_value:specversion"),
    ("no id", event("page_viewed", drop=("id",)), CLICK, "missing_field:id"),
    ("empty id", event("page_viewed", id=""), CLICK, "bad_value:id"),
    ("id of 129 chars", event("page_viewed", id=LONG_ID), CLICK, "bad_value:id"),
    ("id a number", event("page_viewed", id=17), CLICK, "bad_value:id"),
    ("no source", event("page_viewed", drop=("source",)), CLICK, "missing_field:source"),
    ("empty source", event("page_viewed", source=""), CLICK, "bad_value:source"),
    ("no type", event("page_viewed", drop=("type",)), CLICK, "missing_field:type"),
    ("type a number", event("page_viewed", type=3), CLICK, "bad_value:type"),
    ("unknown type", event("page_viewed", type="page_view"), CLICK, "unknown_type"),
    ("order on clickstream", event("order_completed"), CLICK, "wrong_topic"),
    ("page view on orders", event("page_viewed"), ORDERS, "wrong_topic"),
    ("no time", event("page_viewed", drop=("time",)), CLICK, "missing_field:time"),
    ("naive time", event("page_viewed", time="2019-06-13T10:02:03"), CLICK, "bad_value:time"),
    ("date only", event("page_viewed", time="2019-06-13"), CLICK, "bad_value:time"),
    ("offset without colon", event("page_viewed", time="2019-06-13T10:02:03+0800"), CLICK, "bad_value:time"),
    ("February 30", event("page_viewed", time="2019-02-30T10:02:03Z"), CLICK, "bad_value:time"),
    ("epoch number", event("page_viewed", time=1560420123), CLICK, "bad_value:time"),
    ("no data", event("page_viewed", drop=("data",)), CLICK, "missing_field:data"),
    ("data a list", event("page_viewed", data=[]), CLICK, "bad_value:data"),
    ("data null", event("page_viewed", data=None), CLICK, "bad_value:data"),
    # data: missing fields, top level and nested
    ("no order_id", event("order_completed", drop=("data.order_id",)), ORDERS, "missing_field:order_id"),
    ("no anonymous_id", event("page_viewed", drop=("data.anonymous_id",)), CLICK, "missing_field:anonymous_id"),
    ("no page", event("page_viewed", drop=("data.page",)), CLICK, "missing_field:page"),
    ("no page.path", event("page_viewed", drop=("data.page.path",)), CLICK, "missing_field:page.path"),
    ("no product.product_id", event("product_viewed", drop=("data.product.product_id",)), CLICK,
     "missing_field:product.product_id"),
    ("order line without product_id", event("order_completed", data__products=[{"sku": "S"}]), ORDERS,
     "missing_field:products.product_id"),
    ("no survey score", event("survey_responded", drop=("data.score",)), SUPPORT, "missing_field:score"),
    ("report without period_start", event("ad_performance_reported", drop=("data.period_start",)),
     "shop.marketing", "missing_field:period_start"),
    # data: bad values
    ("device phone", event("page_viewed", data__device="phone"), CLICK, "bad_value:device"),
    ("page type landing", event("page_viewed", data__page__type="landing"), CLICK, "bad_value:page.type"),
    ("page a string", event("page_viewed", data__page="/home"), CLICK, "bad_value:page"),
    ("campaign a string", event("page_viewed", data__campaign="summer"), CLICK, "bad_value:campaign"),
    ("campaign medium a number", event("page_viewed", data__campaign__medium=5), CLICK,
     "bad_value:campaign.medium"),
    ("empty customer_id", event("page_viewed", data__customer_id=""), CLICK, "bad_value:customer_id"),
    ("null customer_id", event("page_viewed", data__customer_id=None), CLICK, "bad_value:customer_id"),
    ("country of 3 letters", event("page_viewed", data__country="DEU"), CLICK, "bad_value:country"),
    ("negative revenue", event("order_completed", data__revenue=-1), ORDERS, "bad_value:revenue"),
    ("revenue a string", event("order_completed", data__revenue="119.80"), ORDERS, "bad_value:revenue"),
    ("revenue true", event("order_completed", data__revenue=True), ORDERS, "bad_value:revenue"),
    ("lower-case currency", event("order_completed", data__currency="eur"), ORDERS, "bad_value:currency"),
    ("2-letter currency", event("order_refunded", data__currency="EU"), ORDERS, "bad_value:currency"),
    ("products an object", event("order_completed", data__products={"product_id": "p"}), ORDERS,
     "bad_value:products"),
    ("order line a string", event("order_completed", data__products=["p-1"]), ORDERS, "bad_value:products"),
    ("negative line quantity", event("order_completed", data__products=[{"product_id": "p", "quantity": -1}]),
     ORDERS, "bad_value:products.quantity"),
    ("fractional quantity", event("product_added", data__product__quantity=1.5), CLICK,
     "bad_value:product.quantity"),
    ("quantity true (bool is no int)", event("product_added", data__product__quantity=True), CLICK,
     "bad_value:product.quantity"),
    ("csat score 0", event("survey_responded", data__survey="csat", data__score=0), SUPPORT, "bad_value:score"),
    ("csat score 6", event("survey_responded", data__survey="csat", data__score=6), SUPPORT, "bad_value:score"),
    ("nps score 11", event("survey_responded", data__survey="nps", data__score=11), SUPPORT, "bad_value:score"),
    ("fractional score", event("survey_responded", data__score=8.5), SUPPORT, "bad_value:score"),
    ("survey ces", event("survey_responded", data__survey="ces"), SUPPORT, "bad_value:survey"),
    ("priority p1", event("ticket_created", data__priority="p1"), SUPPORT, "bad_value:priority"),
    ("public yes", event("ticket_replied", data__public="yes"), SUPPORT, "bad_value:public"),
    ("to_tier true", event("ticket_escalated", data__to_tier=True), SUPPORT, "bad_value:to_tier"),
    ("rating 0", event("product_reviewed", data__rating=0), "shop.marketing", "bad_value:rating"),
    ("negative impressions", event("ad_performance_reported", data__impressions=-1), "shop.marketing",
     "bad_value:impressions"),
    ("naive period_end", event("line_status_reported", data__period_end="2019-06-13T11:00:00"),
     "shop.operations", "bad_value:period_end"),
    ("fx rate 0", event("fx_rate_reported", data__rate=0), "shop.catalog", "bad_value:rate"),
    ("severity minor", event("compliance_incident", data__severity="minor"), "shop.operations",
     "bad_value:severity"),
]


@pytest.mark.parametrize("value, topic, expected", [c[1:] for c in REJECTED], ids=[c[0] for c in REJECTED])
def test_rejects_with_reason(value, topic, expected):
    raw = orjson.dumps(value) if isinstance(value, dict) else value
    events, rejections = DECODER.decode(raw, topic, 3, 42)
    assert events == []
    assert [(r.reason, r.topic, r.partition, r.offset, r.value, r.index) for r in rejections] == [
        (expected, topic, 3, 42, raw, None)]
    assert rejections[0].detail


def test_every_example_event_decodes_on_its_topic():
    for name, event_type in EVENT_TYPES.items():
        events, rejections = DECODER.decode(orjson.dumps(example_event(name)), event_type.topic, 1, 9)
        assert rejections == [], name
        assert [(e.type, e.id, e.source, e.time_s, e.topic, e.partition, e.offset) for e in events] == [
            (name, f"{name}-1", "example", 1560420123.25, event_type.topic, 1, 9)]


ACCEPTED = [
    ("integral float quantity", event("product_added", data__product__quantity=2.0), CLICK),
    ("nps score 0", event("survey_responded", data__survey="nps", data__score=0), SUPPORT),
    ("csat score 5", event("survey_responded", data__survey="csat", data__score=5), SUPPORT),
    ("unknown extra fields", event("page_viewed", data__page__title="Home", traceparent="00-ab"), CLICK),
    ("id of 128 chars", event("page_viewed", id="x" * 128), CLICK),
    ("zero revenue", event("order_completed", data__revenue=0), ORDERS),
    ("empty products", event("order_completed", data__products=[]), ORDERS),
    ("lower-case t and z", event("page_viewed", time="2019-06-13t10:02:03.250z"), CLICK),
    ("any known type on an unknown topic", event("order_completed"), "shop.collector"),
]


@pytest.mark.parametrize("doc, topic", [c[1:] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED])
def test_accepts(doc, topic):
    events, rejections = DECODER.decode(orjson.dumps(doc), topic)
    assert rejections == []
    assert [e.id for e in events] == [doc["id"]]


def test_unknown_extra_fields_are_kept():
    doc = event("page_viewed", data__page__title="Home", data__experiment="b")
    [e], _ = DECODER.decode(orjson.dumps(doc), CLICK)
    assert e.data["page"]["title"] == "Home" and e.data["experiment"] == "b"


# --- defaults ---------------------------------------------------------------------------------

DEFAULTS = [
    ("page type", event("page_viewed", drop=("data.page.type",)), ("page", "type"), "other"),
    ("cart quantity", event("product_added", drop=("data.product.quantity",)), ("product", "quantity"), 1),
    ("order line quantity", event("order_completed", data__products=[{"product_id": "p"}]),
     ("products", 0, "quantity"), 1),
    ("chat intent", event("chat_started", drop=("data.intent",)), ("intent",), "other"),
    ("ticket priority", event("ticket_created", drop=("data.priority",)), ("priority",), "normal"),
    ("reply public", event("ticket_replied", drop=("data.public",)), ("public",), True),
    # a value that is present is kept
    ("page type given", event("page_viewed", data__page__type="blog"), ("page", "type"), "blog"),
    ("priority given", event("ticket_created", data__priority="urgent"), ("priority",), "urgent"),
    ("public false given", event("ticket_replied", data__public=False), ("public",), False),
]


@pytest.mark.parametrize("doc, path, expected", [c[1:] for c in DEFAULTS], ids=[c[0] for c in DEFAULTS])
def test_fills_defaults(doc, path, expected):
    [e], rejections = DECODER.decode(orjson.dumps(doc), "shop.any")
    assert rejections == []
    value = e.data
    for key in path:
        value = value[key]
    assert value == expected and type(value) is type(expected)


def test_optional_fields_without_default_stay_absent():
    [e], _ = DECODER.decode(orjson.dumps(event("ticket_escalated", drop=("data.to_tier",))), SUPPORT)
    assert e.data == {"ticket_id": "t-77"}


# --- batches ----------------------------------------------------------------------------------

def test_batch_judges_each_element_and_keeps_order():
    bad = event("product_viewed", id="b", drop=("data.product", "data.page.type"))
    batch = [event("page_viewed", id="a"), bad, 7, event("product_added", id="c"),
             event("order_completed", id="d")]
    events, rejections = DECODER.decode(orjson.dumps(batch), CLICK, 2, 11)
    assert [(e.id, e.partition, e.offset) for e in events] == [("a", 2, 11), ("c", 2, 11)]
    assert [(r.reason, r.index, r.partition, r.offset) for r in rejections] == [
        ("missing_field:product", 1, 2, 11),
        ("not_object", 2, 2, 11),
        ("wrong_topic", 4, 2, 11),
    ]
    # each element's own bytes, as sent: no defaults (page.type) filled into the dead letter
    assert orjson.loads(rejections[0].value) == bad
    assert rejections[1].value == b"7"


def test_empty_batch_is_nothing():
    assert DECODER.decode(b"[]", CLICK) == ([], [])


def test_too_large_single_event():
    raw = orjson.dumps(event("page_viewed"))
    decoder = Decoder(Limits(max_event_bytes=len(raw) - 1))
    assert reasons(raw, CLICK, decoder) == ["too_large"]
    assert Decoder(Limits(max_event_bytes=len(raw))).decode(raw, CLICK)[1] == []


def test_too_large_batch_message():
    raw = orjson.dumps([event("page_viewed", id=str(i)) for i in range(5)])
    decoder = Decoder(Limits(max_event_bytes=1000, max_batch_bytes=len(raw) - 1))
    events, rejections = decoder.decode(raw, CLICK, 0, 5)
    assert events == []
    assert [(r.reason, r.index, r.value) for r in rejections] == [("too_large", None, raw)]


def test_too_large_batch_element():
    small, large = event("chat_message"), event("page_viewed", data__page__url="https://x/" + "a" * 400)
    limit = len(orjson.dumps(large)) - 1
    assert len(orjson.dumps(small)) < limit
    decoder = Decoder(Limits(max_event_bytes=limit))
    events, rejections = decoder.decode(orjson.dumps([small, large, small]), "shop.any")
    assert [e.type for e in events] == ["chat_message", "chat_message"]
    assert [(r.reason, r.index, r.value) for r in rejections] == [("too_large", 1, orjson.dumps(large))]


def test_renamed_topics_keep_their_types():
    decoder = Decoder(topic_types=topic_types({"shop.orders": "prod.orders"}))
    assert reasons(orjson.dumps(event("page_viewed")), "prod.orders", decoder) == ["wrong_topic"]
    assert len(decoder.decode(orjson.dumps(event("order_completed")), "prod.orders")[0]) == 1
    # the old default name is now an unknown topic: any known type passes
    assert len(decoder.decode(orjson.dumps(event("page_viewed")), "shop.orders")[0]) == 1


def test_topic_types_must_name_known_types():
    with pytest.raises(ValueError, match="page_view"):
        Decoder(topic_types={"t": {"page_view"}})


# --- time -------------------------------------------------------------------------------------

# Expected epochs computed by hand: 2019-06-13T00:00:00Z = 18060 days * 86400 = 1560384000.
TIMES = [
    ("2019-06-13T10:02:03.250Z", 1560420123.25),
    ("2019-06-13T18:02:03.250+08:00", 1560420123.25),
    ("2019-06-13T05:32:03-04:30", 1560420123.0),
    ("2019-06-13T00:30:00+01:00", 1560382200.0),  # the previous UTC day, 23:30
    ("2019-06-13T10:02:03Z", 1560420123.0),
    ("2019-06-13T10:02:03.5-00:00", 1560420123.5),
    ("2019-06-13t10:02:03z", 1560420123.0),
    ("2020-02-29T00:00:00Z", 1582934400.0),  # (50*365 + 12 leap days + 59) * 86400
    ("1970-01-01T00:00:00Z", 0.0),
    ("1969-12-31T23:59:59.750Z", -0.25),
]


@pytest.mark.parametrize("text, expected", TIMES)
def test_parse_time(text, expected):
    assert parse_time(text) == expected


def test_parse_time_keeps_microseconds_of_long_fractions():
    assert parse_time("2019-06-13T10:02:03.123456789Z") == pytest.approx(1560420123.123456, abs=1e-6)


@pytest.mark.parametrize("text", [
    "2019-06-13T10:02:03",  # naive
    "2019-06-13 10:02:03Z",  # space separator
    "2019-06-13T10:02Z",  # no seconds
    "2019-06-13T10:02:03+0800",
    "2019-06-13T10:02:03+08",
    "2019-06-13T24:00:00Z",
    "2019-02-29T00:00:00Z",  # 2019 is no leap year
    "2019-06-13T10:02:03.Z",
    "20190613T100203Z",  # ISO 8601 basic format
    "\u0662\u0660\u0661\u0669-06-13T10:02:03Z",  # non-ASCII digits
    "2019-06-13T10:02:03Z\n",
    "",
])
def test_parse_time_rejects(text):
    with pytest.raises(ValueError):
        parse_time(text)


@pytest.mark.parametrize("ts, expected", [
    (1560420123.25, "2019-06-13T10:02:03.250Z"),
    (1560420123.2496, "2019-06-13T10:02:03.250Z"),
    (1560420123, "2019-06-13T10:02:03.000Z"),
    (0, "1970-01-01T00:00:00.000Z"),
    (-0.25, "1969-12-31T23:59:59.750Z"),
    (1582934400.999, "2020-02-29T00:00:00.999Z"),
    (1582934400.9996, "2020-02-29T00:00:01.000Z"),
])
def test_format_time(ts, expected):
    assert format_time(ts) == expected
    assert parse_time(expected) == pytest.approx(ts, abs=0.0005)


# --- dead letters -----------------------------------------------------------------------------

def test_dead_letter_of_non_utf8_bytes_is_base64():
    raw = b'{"id": "\xff\xfe"}'
    [rej] = DECODER.decode(raw, CLICK, 4, 99)[1]
    record = orjson.loads(dead_letter_record(rej))
    assert record["value_encoding"] == "base64"
    assert base64.b64decode(record["value"]) == raw
    assert {k: record[k] for k in ("reason", "topic", "partition", "offset", "index")} == {
        "reason": "not_json", "topic": CLICK, "partition": 4, "offset": 99, "index": None}
    parse_time(record["rejected_at"])


def test_dead_letter_of_utf8_bytes_is_text():
    raw = orjson.dumps(event("page_viewed", data__device="phone", data__page__path="/straße"))
    [rej] = DECODER.decode(raw, CLICK, 0, 1)[1]
    record = orjson.loads(dead_letter_record(rej))
    assert (record["value_encoding"], record["value"].encode()) == ("utf-8", raw)
    assert (record["reason"], record["detail"]) == ("bad_value:device", "device must be one of desktop, mobile, tablet")


def test_dead_letter_without_value():
    record = orjson.loads(dead_letter_record(Rejection("no_value", CLICK, 0, 5, None)))
    assert (record["value"], record["value_encoding"], record["index"]) == (None, None, None)


def test_dead_letter_key():
    assert dead_letter_key(Rejection("not_json", "shop.orders", 3, 42, b"x")) == b"shop.orders|3|42|"
    assert dead_letter_key(Rejection("not_object", "shop.orders", 3, 42, b"7", 2)) == b"shop.orders|3|42|2"


def test_an_oversized_value_is_dead_lettered_truncated_with_size_and_digest():
    import hashlib

    import jsonschema

    from schemas.decoder import DEAD_LETTER_VALUE_BYTES, dead_letter_record
    from schemas.output_schemas import dead_letter_schema

    original = b"x" * (2 * 1024 * 1024)
    _, rejections = Decoder().decode(original, "shop.orders", 0, 7)
    record = orjson.loads(dead_letter_record(rejections[0]))
    assert rejections[0].reason == "too_large"
    assert len(record["value"]) == DEAD_LETTER_VALUE_BYTES == 256 * 1024
    assert record["value_truncated"] is True and record["value_bytes"] == 2 * 1024 * 1024
    assert record["value_sha256"] == hashlib.sha256(original).hexdigest()
    jsonschema.validate(record, dead_letter_schema())
