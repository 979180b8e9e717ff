"""What a caller reads when usage is refused: each problem's field and message, exactly.

The texts are part of the API's contract (docs/api.md): clients show them to people and
match on the field. Checked through record_usage, the service behind the endpoint, so they
hold whatever the parsing inside looks like.
"""

from datetime import UTC, datetime, timedelta

import pytest

from billing.models import UsageEvent
from billing.usage.events import InvalidEvents
from billing.usage.ingestion.record import record_usage
from tests.billing.usage_fixtures import ai_event, funded, gpu_event, seed_prices

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
ISO = "must be an ISO 8601 date and time, e.g. 2026-11-27T10:00:00Z"
KEY = "must be 1 to 200 letters, digits or . _ : -"
CACHE = "cached_input_tokens + cache_write_tokens must not exceed input_tokens"


def without(event, name):
    return {k: v for k, v in event.items() if k != name}


# (event, field, message): each event has exactly one problem.
REFUSALS = [
    ("not an object", "", "each event must be a JSON object"),
    (without(ai_event("k"), "idempotency_key"), "idempotency_key", "is required"),
    (ai_event("a b"), "idempotency_key", KEY),
    (ai_event("x" * 201), "idempotency_key", KEY),
    (ai_event(7), "idempotency_key", KEY),
    (without(ai_event("k"), "type"), "type", "is required"),
    (ai_event("k", type="coffee"), "type", "must be ai_tokens or infrastructure"),
    (ai_event("k", type=["ai_tokens"]), "type", "must be ai_tokens or infrastructure"),
    (ai_event("k", modle="gpt-4o"), "modle", "is not a field of ai_tokens events"),
    (gpu_event("k", model="gpt-4o"), "model", "is not a field of infrastructure events"),
    (ai_event("k", **{"f" * 70: 1}), "f" * 60, "is not a field of ai_tokens events"),
    (ai_event("k", operation=5), "operation", "must be a string"),
    (ai_event("k", operation="a\x00b"), "operation", "must not contain NUL characters"),
    (ai_event("k", operation="o" * 101), "operation", "must be at most 100 characters"),
    (ai_event("k", user="u" * 255), "user", "must be at most 254 characters"),
    (ai_event("k", provider="p" * 51), "provider", "must be at most 50 characters"),
    (without(ai_event("k"), "model"), "model", "is required"),
    (ai_event("k", model="  "), "model", "must not be empty"),
    (ai_event("k", model="m" * 201), "model", "must be at most 200 characters"),
    (ai_event("k", service_tier="turbo"), "service_tier", "must be batch, flex or priority"),
    (ai_event("k", service_tier=1), "service_tier", "must be batch, flex or priority"),
    (without(ai_event("k"), "input_tokens"), "input_tokens", "is required"),
    (without(ai_event("k"), "output_tokens"), "output_tokens", "is required"),
    (ai_event("k", input_tokens=1.5), "input_tokens", "must be a whole number"),
    (ai_event("k", output_tokens=True), "output_tokens", "must be a whole number"),
    (ai_event("k", input_tokens=-1), "input_tokens", "must not be negative"),
    (ai_event("k", input_tokens=10**12 + 1), "input_tokens", "must be at most 1000000000000"),
    (ai_event("k", input_tokens=10, cached_input_tokens=11), "cached_input_tokens", CACHE),
    (ai_event("k", input_tokens=10, cached_input_tokens=5, cache_write_tokens=6),
     "cache_write_tokens", CACHE),
    (ai_event("k", output_tokens=10, reasoning_tokens=11), "reasoning_tokens",
     "must not exceed output_tokens (it is part of them)"),
    (without(gpu_event("k"), "meter"), "meter", "is required"),
    (without(gpu_event("k"), "quantity"), "quantity", "is required"),
    (gpu_event("k", quantity=True), "quantity", "must be a number or a decimal string"),
    (gpu_event("k", quantity=[1]), "quantity", "must be a number or a decimal string"),
    (gpu_event("k", quantity=1.5), "quantity",
     "must be exact: send a decimal string, not a float"),
    (gpu_event("k", quantity="abc"), "quantity", "'abc' is not a decimal number"),
    (gpu_event("k", quantity="9" * 80), "quantity", f"'{'9' * 64}' is not a decimal number"),
    (gpu_event("k", quantity="0" * 64 + "1"), "quantity",  # 65 characters, though only 1
     f"'{'0' * 64}' is not a decimal number"),
    (gpu_event("k", quantity="0"), "quantity", "must be greater than 0"),
    (gpu_event("k", quantity="-1"), "quantity", "must be greater than 0"),
    (gpu_event("k", quantity="1e14"), "quantity", "must be less than 100000000000000"),
    (gpu_event("k", quantity="0.0000001"), "quantity", "at most 6 decimal places"),
    (ai_event("k", occurred_at="yesterday"), "occurred_at", ISO),
    (ai_event("k", occurred_at=1764237600), "occurred_at", ISO),
    (ai_event("k", occurred_at="2026-11-27T10:00:00+00:00" + " " * 20), "occurred_at", ISO),
    (ai_event("k", occurred_at="2026-11-27T10:00:00"), "occurred_at",
     "needs a time zone, e.g. Z or +00:00"),
    (ai_event("k", occurred_at=(NOW - timedelta(days=35, seconds=1)).isoformat()),
     "occurred_at", "is more than 35 days ago"),
    (ai_event("k", occurred_at="0001-01-01T00:00:00+01:00"), "occurred_at",
     "is more than 35 days ago"),
    (ai_event("k", occurred_at=(NOW + timedelta(minutes=5, seconds=1)).isoformat()),
     "occurred_at", "is more than 5 minutes in the future"),
]


def test_each_refusal_names_its_field_and_says_why(org):
    seed_prices()
    funded(org)
    events = [event for event, _, _ in REFUSALS]
    with pytest.raises(InvalidEvents) as caught:
        record_usage(organization=org, events=events, now=NOW)
    assert caught.value.details == [
        {"index": index, "field": field, "message": message}
        for index, (_, field, message) in enumerate(REFUSALS)
    ]
    assert str(caught.value) == f"{len(REFUSALS)} problem(s) in the events; nothing was recorded"
    assert not UsageEvent.objects.exists()


def test_refusals_of_the_batch_itself(org):
    seed_prices()
    funded(org)
    for events, message in (("a", "must be a list of events"),
                            ([], "must hold 1 to 1000 events")):
        with pytest.raises(InvalidEvents) as caught:
            record_usage(organization=org, events=events, now=NOW)
        assert caught.value.details == [{"index": None, "field": "events", "message": message}]
    with pytest.raises(InvalidEvents) as caught:
        record_usage(organization=org, events=[ai_event("a"), gpu_event("b"), gpu_event("a")],
                     now=NOW)
    assert caught.value.details == [{
        "index": 2, "field": "idempotency_key",
        "message": "repeats the key of event 0 in this request"}]
    assert not UsageEvent.objects.exists()


def test_problems_of_the_request_itself_come_first(org):
    seed_prices()
    funded(org)
    unknown = {"index": None, "field": "extra", "message": "is not a field of the request"}
    with pytest.raises(InvalidEvents) as caught:
        record_usage(organization=org, now=NOW, request_problems=[unknown], events=[
            ai_event("a", input_tokens=-1), ai_event("b"), gpu_event("c", quantity="0")])
    assert [(d["index"], d["field"]) for d in caught.value.details] == [
        (None, "extra"), (0, "input_tokens"), (2, "quantity")]


def test_an_event_no_column_can_hold_is_refused_at_its_own_index_and_field(org):
    seed_prices()
    funded(org)
    with pytest.raises(InvalidEvents) as caught:
        record_usage(organization=org, now=NOW,
                     events=[ai_event("a"), gpu_event("b", meter="bandwidth.egress_gb",
                                                         quantity="99999999999999")])
    assert caught.value.details == [{
        "index": 1, "field": "quantity",
        "message": "costs more than 100,000,000,000,000.00 credits, more than one event may cost"}]
    assert not UsageEvent.objects.exists()
