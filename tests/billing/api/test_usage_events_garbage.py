"""POST /api/v1/usage-events never answers 5xx: every bad input gets its contract error.

Known cases first (each answered 500 before), then Hypothesis over JSON
values and strings (NUL, lone surrogates, huge and tiny numbers, deep
nesting): the answer is never 5xx, and a refused request records nothing.
"""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import CreditAccount, DailyUsage, LedgerEntry, UsageEvent
from tests.billing.usage_fixtures import ai_event, gpu_event

pytestmark = pytest.mark.django_db
URL = "/api/v1/usage-events"


def post_raw(client, key, data: str):
    return client.post(URL, data=data, content_type="application/json",
                       headers={"Authorization": f"Bearer {key.raw_key}"})


def recorded():
    return (UsageEvent.objects.count(), LedgerEntry.objects.count(), DailyUsage.objects.count(),
            CreditAccount.objects.values_list("balance", flat=True).first())


def assert_refused_with(response, index, field):
    assert response.status_code == 422, response.content
    details = response.json()["error"]["details"]
    assert (index, field) in [(d["index"], d["field"]) for d in details], details


@pytest.mark.parametrize(("event", "field"), [
    (gpu_event("a", meter="bandwidth.egress_gb", quantity="99999999999999"), "quantity"),
    ({**ai_event("a"), "type": ["ai_tokens"]}, "type"),
    ({**ai_event("a"), "type": {"x": 1}}, "type"),
    (ai_event("a", operation="chat\x00completion"), "operation"),
    (ai_event("a", user="ana\x00@acme.test"), "user"),
    (ai_event("a", model="gpt-4o\x00"), "model"),
    (ai_event("a", operation="\ud800"), "operation"),
    (ai_event("a", user="İ" * 254), "user"),  # 508 characters once lower-cased
    (ai_event("a", provider="İ" * 60), "provider"),
    (ai_event("a", occurred_at="0001-01-01T00:00:00+01:00"), "occurred_at"),
    (ai_event("a", service_tier=["batch"]), "service_tier"),
])
def test_known_bad_input_gets_its_422_and_records_nothing(client, key, event, field):
    before = recorded()
    response = post_raw(client, key, json.dumps({"events": [event]}))
    assert_refused_with(response, 0, field)
    assert recorded() == before


def test_one_422_lists_request_shape_and_lookup_problems_together(client, key):
    response = post_raw(client, key, json.dumps({"events": [
        ai_event("a", model="gpt-9"), gpu_event("b", quantity="-1"),
        gpu_event("c", meter="compute.tpu_seconds"), ai_event("d"),
    ], "extra": 1}))
    assert response.status_code == 422
    found = [(d["index"], d["field"]) for d in response.json()["error"]["details"]]
    assert found == [(None, "extra"), (0, "model"), (1, "quantity"), (2, "meter")]
    assert not UsageEvent.objects.exists()


# -- generated garbage ---------------------------------------------------------------------------

any_char = st.characters(codec=None, categories=None)  # NUL and lone surrogates included
texts = st.one_of(
    st.text(alphabet=any_char, max_size=40),
    st.sampled_from(["\x00", "\ud800", "İ" * 130, "ai_tokens", "infrastructure", "gpt-4o",
                     "compute.gpu_seconds", "2026-01-01T00:00:00Z", "1e999999999", "NaN",
                     "-0", "0.0000001", "9" * 80]),
)
numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, -1, 10**12, 10**12 + 1, 2**63, 10**14, 10**300]),
    st.decimals(allow_nan=False, allow_infinity=False, places=None),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(texts, inner, max_size=4)),
    max_leaves=12,
)
FIELD_NAMES = ["idempotency_key", "type", "model", "provider", "service_tier", "operation",
               "user", "occurred_at", "input_tokens", "output_tokens", "cached_input_tokens",
               "cache_write_tokens", "reasoning_tokens", "meter", "quantity"]


@st.composite
def events(draw):
    """An event that is mostly right, with some fields swapped for garbage."""
    base = draw(st.sampled_from([ai_event("k-" + str(draw(st.integers(0, 5)))),
                                 gpu_event("k-" + str(draw(st.integers(0, 5))))]))
    garbage = draw(st.dictionaries(st.sampled_from(FIELD_NAMES) | texts, json_values,
                                   max_size=4))
    return {**base, **garbage}


def _dumps(value) -> str:
    return json.dumps(value, default=str)  # Decimals as strings (still garbage enough)


bodies = st.one_of(
    st.builds(lambda evs: {"events": evs}, st.lists(events(), min_size=0, max_size=4)),
    st.builds(lambda evs, extra: {"events": evs, **extra}, st.lists(events(), max_size=2),
              st.dictionaries(texts, json_values, max_size=2)),
    json_values.map(lambda v: {"events": v}),
    json_values,
).map(_dumps) | st.sampled_from([
    "[" * 50_000, '{"events": ' + "[" * 50_000, '{"events": [1e99999999999999999999]}',
    '{"events": [{"quantity": NaN}]}', "\x00", '{"events": [{"type": "\\ud800"}]}',
]) | st.binary(max_size=60).map(lambda b: b.decode("latin-1"))


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=bodies)
def test_generated_garbage_never_answers_5xx_and_a_refusal_records_nothing(client, key, body):
    before = recorded()
    response = post_raw(client, key, body)
    assert response.status_code < 500, (body[:300], response.content[:500])
    assert set(response.json()) in ({"error"}, {"results", "balance"})
    if response.status_code != 200:
        assert recorded() == before, body[:300]

