"""The drop-in shapes never answer 5xx: Hypothesis over CloudEvents bodies and Stripe
forms (JSON values, odd strings, nesting, numbers); a refused request records nothing."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import EventMapping, LedgerEntry, Meter, UsageEvent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("prices")]
CHECKS = settings(max_examples=60, deadline=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture])
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
names = st.sampled_from(["compute.gpu_seconds", "gpu_time", "nope", "", "İ" * 60])


@pytest.fixture
def mapped(prices):
    EventMapping.objects.create(event_name="gpu_time",
                                meter=Meter.objects.get(code="compute.gpu_seconds"),
                                value_path="$.a.b", user_path="$.user")


def charged():
    return UsageEvent.objects.count(), LedgerEntry.objects.filter(kind="usage").count()


@CHECKS
@given(event=st.fixed_dictionaries(
    {"specversion": st.just("1.0") | values, "id": st.text(max_size=12) | values,
     "source": st.just("s") | values, "type": names | values,
     "subject": st.just("acme") | values, "data": values,
     "time": st.none() | st.text(max_size=30)}), batch=st.booleans())
def test_cloudevents_never_5xx(client, key, mapped, event, batch):
    before = charged()
    body = json.dumps([event] if batch else event)
    response = client.post("/api/v1/events", data=body, headers={
        "Authorization": f"Bearer {key.raw_key}"},
        content_type="application/cloudevents-batch+json" if batch
        else "application/cloudevents+json")
    assert response.status_code < 500, response.content
    if response.status_code != 204:
        assert response.json()["error"]["code"]
        if response.status_code == 400:
            assert charged() == before


@CHECKS
@given(form=st.dictionaries(
    st.sampled_from(["event_name", "identifier", "timestamp", "payload[value]",
                     "payload[a][b]", "payload[a]", "payload[user]", "payload[]",
                     "payload[stripe_customer_id]", "payload"]),
    st.text(max_size=20) | st.sampled_from(["1", "0.5", "acme", "gpu_time",
                                            "compute.gpu_seconds"])))
def test_stripe_meter_events_never_5xx(client, key, mapped, form):
    before = charged()
    response = client.post("/v1/billing/meter_events", data=form,
                           headers={"Authorization": f"Bearer {key.raw_key}"})
    assert response.status_code < 500, response.content
    if response.status_code != 200:
        assert response.json()["error"]["type"] in ("invalid_request_error", "idempotency_error")
        assert charged() == before
