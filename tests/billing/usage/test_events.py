"""billing.usage.events: validation and normalisation of usage events (no database)."""

import hashlib
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing import money
from billing.usage.events import InvalidEvents, fingerprint, loads, parse_events, parse_quantity
from tests.billing.usage_fixtures import ai_event, gpu_event

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def problems(events):
    with pytest.raises(InvalidEvents) as caught:
        parse_events(events, now=NOW)
    return [(d["index"], d["field"]) for d in caught.value.details]


@pytest.mark.parametrize("value, expected", [
    ("120.5", Decimal("120.5")), ("120.50", Decimal("120.5")), (7, Decimal(7)),
    (Decimal("0.000001"), Decimal("0.000001")), (" 3 ", Decimal(3)), ("1.5e2", Decimal(150)),
    ("2.5000000000", Decimal("2.5")), (loads("120.5"), Decimal("120.5")),
])
def test_good_quantities(value, expected):
    assert parse_quantity(value) == expected


@pytest.mark.parametrize("value", [
    "1e309", "NaN", "nan", "Infinity", "-Infinity", "abc", "-5", "0", 0, "0.0000001", "",
    None, True, 1.5, "1e-7", "1" * 80, [], {}, "1,5", loads("NaN"), loads("Infinity"),
    loads("1e309"), 10**20,
])
def test_bad_quantities(value):
    assert problems([gpu_event("k", quantity=value)]) == [(0, "quantity")]


def test_json_numbers_never_become_floats():
    body = loads('{"q": 120.5, "n": 3, "big": 1e309}')
    assert isinstance(body["q"], Decimal) and isinstance(body["n"], int)
    assert body["big"] == Decimal("1e309")


@pytest.mark.parametrize("field, value", [
    ("input_tokens", -1), ("output_tokens", -5), ("input_tokens", 1.5),
    ("input_tokens", "100"), ("output_tokens", True), ("input_tokens", None),
    ("reasoning_tokens", -1), ("input_tokens", 10**13),
])
def test_bad_token_counts(field, value):
    event = ai_event("k", **{field: value})
    if value is None:
        del event[field]
    assert problems([event]) == [(0, field)]


def test_parts_cannot_exceed_their_totals():
    assert problems([ai_event("k", input_tokens=100, cached_input_tokens=101)]) == [
        (0, "cached_input_tokens")
    ]
    assert problems([ai_event("k", input_tokens=100, cached_input_tokens=60,
                              cache_write_tokens=50)]) == [(0, "cache_write_tokens")]
    assert problems([ai_event("k", output_tokens=10, reasoning_tokens=11)]) == [
        (0, "reasoning_tokens")
    ]


@pytest.mark.parametrize("key", ["", "a b", "x" * 201, "ü", "semi;colon", 12, None])
def test_bad_idempotency_keys(key):
    event = ai_event(key)
    if key is None:
        del event["idempotency_key"]
    assert problems([event]) == [(0, "idempotency_key")]


def test_good_idempotency_key_characters():
    assert parse_events([ai_event("Req_7f3a.b:c-" + "x" * 187)], now=NOW)


@pytest.mark.parametrize("value, message", [
    ((NOW - timedelta(days=35, seconds=1)).isoformat(), "35 days"),
    ((NOW + timedelta(minutes=5, seconds=1)).isoformat(), "5 minutes"),
    ("2026-11-27T10:00:00", "time zone"),
    ("yesterday", "ISO 8601"),
    (1764237600, "ISO 8601"),
])
def test_bad_occurred_at(value, message):
    with pytest.raises(InvalidEvents) as caught:
        parse_events([ai_event("k", occurred_at=value)], now=NOW)
    (detail,) = caught.value.details
    assert detail["field"] == "occurred_at" and message in detail["message"]


def test_occurred_at_window_edges_and_default():
    edge_old = (NOW - timedelta(days=35)).isoformat()
    edge_new = (NOW + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    old, new, default = parse_events([
        ai_event("a", occurred_at=edge_old), ai_event("b", occurred_at=edge_new), ai_event("c")
    ], now=NOW)
    assert old.occurred_at_sent and new.occurred_at == NOW + timedelta(minutes=5)
    assert default.occurred_at == NOW and not default.occurred_at_sent


def test_batch_shape():
    assert problems([]) == [(None, "events")]
    assert problems("not a list") == [(None, "events")]
    assert problems([ai_event("a"), "text", ai_event("b")]) == [(1, "")]


def test_a_repeated_key_in_one_request_is_invalid():
    assert problems([ai_event("a"), gpu_event("b"), gpu_event("a")]) == [(2, "idempotency_key")]


def test_type_and_fields():
    assert problems([{"idempotency_key": "a", "type": "coffee"}]) == [(0, "type")]
    assert problems([{"idempotency_key": "a"}]) == [(0, "type")]
    assert problems([ai_event("a", quantity="1")]) == [(0, "quantity")]
    assert problems([gpu_event("a", input_tokens=5)]) == [(0, "input_tokens")]
    assert problems([ai_event("a", modle="gpt-4o")]) == [(0, "modle")]
    assert problems([ai_event("a", model="")]) == [(0, "model")]
    assert problems([gpu_event("a", meter=None)]) == [(0, "meter")]
    assert problems([ai_event("a", service_tier="turbo")]) == [(0, "service_tier")]
    assert problems([ai_event("a", operation="x" * 101)]) == [(0, "operation")]
    assert problems([ai_event("a", user=["ana"])]) == [(0, "user")]


def test_every_problem_of_the_batch_is_reported():
    found = problems([ai_event("a", input_tokens=-1, output_tokens=-1), gpu_event("b"),
                      gpu_event("c", quantity="abc")])
    assert found == [(0, "input_tokens"), (0, "output_tokens"), (2, "quantity")]


def test_normalisation_makes_equal_payloads_equal_fingerprints():
    a, b = parse_events([gpu_event("x", quantity="120.5", operation=" fine-tune "),
                         gpu_event("y", quantity=Decimal("120.50"), operation="fine-tune")],
                        now=NOW)
    for event in (a, b):
        event.resource = "compute.gpu_seconds"
    assert fingerprint(a) == fingerprint(b)
    c, d = parse_events([ai_event("x", user="Ana@Acme.test"), ai_event("y", user="ana@acme.test")],
                        now=NOW)
    c.resource = d.resource = "gpt-4o"
    assert fingerprint(c) == fingerprint(d)
    d.operation = "other"
    assert fingerprint(c) != fingerprint(d)


AI_FIELDS = {  # each field of an ai_tokens payload, with another valid value
    "model": "gpt-4o-mini", "provider": "openai", "service_tier": "batch", "operation": "chat",
    "user": "bo@acme.test", "input_tokens": 1001, "output_tokens": 101,
    "cached_input_tokens": 1, "cache_write_tokens": 1, "reasoning_tokens": 1,
}
GPU_FIELDS = {"meter": "bandwidth.egress_gb", "quantity": "120.500001", "operation": "train",
              "user": "bo@acme.test"}


def fingerprint_of_payload(raw):
    [event] = parse_events([raw], now=NOW)
    event.resource = event.name  # what pricing sets: the resolved model or meter
    return fingerprint(event)


@pytest.mark.parametrize(("field", "value"), AI_FIELDS.items())
def test_every_field_of_an_ai_event_changes_its_fingerprint(field, value):
    assert fingerprint_of_payload(ai_event("k", **{field: value})) != fingerprint_of_payload(
        ai_event("k"))


@pytest.mark.parametrize(("field", "value"), GPU_FIELDS.items())
def test_every_field_of_an_infrastructure_event_changes_its_fingerprint(field, value):
    assert fingerprint_of_payload(gpu_event("k", **{field: value})) != fingerprint_of_payload(
        gpu_event("k"))


def test_the_type_changes_the_fingerprint_and_the_key_and_time_do_not():
    ai = ai_event("k", input_tokens=0, output_tokens=0)
    assert fingerprint_of_payload(ai) != fingerprint_of_payload(
        gpu_event("k", meter="gpt-4o", quantity="1"))
    assert fingerprint_of_payload(ai_event("k")) == fingerprint_of_payload(
        ai_event("other", occurred_at=(NOW - timedelta(hours=1)).isoformat()))


def test_the_fingerprint_is_a_sha256_of_the_normalised_payload():
    [event] = parse_events([gpu_event("k", operation="train", user="Bo@Acme.test")], now=NOW)
    event.resource = "compute.gpu_seconds"
    parts = ["usage-v1", "infrastructure", "compute.gpu_seconds", "", "", "train",
             "bo@acme.test", [0, 0, 0, 0, 0], "120.500000"]
    import hashlib
    import json
    assert fingerprint(event) == hashlib.sha256(
        json.dumps(parts, separators=(",", ":")).encode()).hexdigest()


# --- from the mutation run (docs/testing.md) ---------------------------------------------------


def test_omitted_optional_token_counts_are_zero():
    from billing.usage.events import TOKEN_FIELDS
    raw = ai_event("a", input_tokens=10, output_tokens=5)
    for name in TOKEN_FIELDS:
        if name not in ("input_tokens", "output_tokens"):
            raw.pop(name, None)
    (event,) = parse_events([raw], now=NOW)
    counts = dict(zip(TOKEN_FIELDS, event.tokens, strict=True))
    assert counts == {name: {"input_tokens": 10, "output_tokens": 5}.get(name, 0)
                      for name in TOKEN_FIELDS}


def test_a_quantity_must_be_below_the_column_size():
    from billing.usage.events import MAX_QUANTITY
    below = MAX_QUANTITY - Decimal("0.000001")
    assert parse_quantity(f"{below:f}") == below
    assert problems([gpu_event("k", quantity=f"{MAX_QUANTITY:f}")]) == [(0, "quantity")]


def test_a_bad_provider_is_reported_at_its_event():
    assert problems([ai_event("a"), ai_event("b", provider=5)]) == [(1, "provider")]


def reference_fingerprint(event) -> str:
    """The fingerprint as json.dumps writes its parts (stored fingerprints are these)."""
    parts = ["usage-v1", event.type, event.resource, event.provider, event.service_tier,
             event.operation, event.user_label, list(event.tokens),
             money.canonical(event.quantity) if event.type == "infrastructure" else ""]
    return hashlib.sha256(json.dumps(parts, separators=(",", ":")).encode()).hexdigest()


@pytest.mark.parametrize("text", ["", "chat", "tab\there", "new\nline", "back\\slash",
                                  'quote"s', "ünïcødé ✓", "emoji \U0001F600", "\r\x01"])
def test_fingerprint_text_is_the_json_of_the_parts(text):
    ai, gpu = parse_events([
        ai_event("a", operation=text, user=text or "u", provider="openai",
                 service_tier="flex", cached_input_tokens=10, reasoning_tokens=3),
        gpu_event("b", operation=text, quantity="1E+1"),
    ], now=NOW)
    for event in (ai, gpu):
        event.resource = f"res {text}"
        assert fingerprint(event) == reference_fingerprint(event)
