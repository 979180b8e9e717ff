"""POST /v1/billing/meter_events: the official `stripe` library, pointed at our live test
server, sends meter events and gets Stripe's answers and error classes
(docs/integrate.md, "From Stripe meter events")."""

import json
import time
from decimal import Decimal

import pytest
import stripe

from accounts.models import Plan
from billing.models import EventMapping, LedgerEntry, QueuedUsageEvent, StripeCustomer, UsageEvent
from billing.models.pricing import AIModel
from tests.billing.usage_fixtures import GPU_CREDITS, api_key_for, funded, gpu_event, seed_prices
from tests.conftest import make_org

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def stripe_client(live_server, org):
    seed_prices()
    funded(org, 1000)
    key = api_key_for(org)

    def make(raw=None, *, base=live_server.url):
        return stripe.StripeClient(api_key=raw or key.raw_key, base_addresses={"api": base},
                                   max_network_retries=0)
    make.key = key
    return make


def send(client, **params):
    params.setdefault("payload", {})
    params["payload"].setdefault("stripe_customer_id", "acme")
    return client.v1.billing.meter_events.create(params=params)


def test_a_meter_code_is_charged_and_answered_as_a_billing_meter_event(stripe_client, org):
    at = int(time.time()) - 60
    event = send(stripe_client(), event_name="compute.gpu_seconds", identifier="job-1",
                 timestamp=at, payload={"value": "120.5"})
    assert isinstance(event, stripe.billing.MeterEvent)
    assert (event.object, event.event_name, event.identifier, event.timestamp) == (
        "billing.meter_event", "compute.gpu_seconds", "job-1", at)
    assert event.payload.to_dict() == {"value": "120.5", "stripe_customer_id": "acme"}
    row = UsageEvent.objects.get(idempotency_key="job-1")
    assert (row.quantity, row.credits, row.api_key_id) == (
        Decimal("120.5"), GPU_CREDITS, stripe_client.key.api_key.pk)
    assert int(row.occurred_at.timestamp()) == at


def test_a_mapped_event_name_takes_its_tokens_user_and_operation_from_the_payload(
        stripe_client, org):
    EventMapping.objects.create(
        event_name="llm_tokens", ai_model=AIModel.objects.get(name="gpt-4o"),
        input_tokens_path="$.prompt", output_tokens_path="$.completion",
        user_path="$.user", operation_path="$.feature")
    send(stripe_client(), event_name="llm_tokens", identifier="t-1",
         payload={"prompt": "1000", "completion": "100", "user": "Ana@Acme.test",
                  "feature": "search", "stripe_customer_id": "acme"})
    row = UsageEvent.objects.get(idempotency_key="t-1")
    assert (row.resource, row.input_tokens, row.output_tokens, row.user_label, row.operation) == (
        "gpt-4o", 1000, 100, "ana@acme.test", "search")
    assert row.credits == Decimal("0.42")


def test_the_org_may_be_named_by_its_stripe_customer_id(stripe_client, org):
    StripeCustomer.objects.create(organization=org, customer_id="cus_Acme1")
    send(stripe_client(), event_name="compute.gpu_seconds", identifier="c-1",
         payload={"value": "1", "stripe_customer_id": "cus_Acme1"})
    assert UsageEvent.objects.filter(idempotency_key="c-1").exists()


def test_the_same_identifier_is_one_charge_across_our_api_and_stripes_shape(
        stripe_client, org, client):
    response = client.post("/api/v1/usage-events", data=json.dumps({"events": [
        gpu_event("shared-1")]}), content_type="application/json",
        headers={"Authorization": f"Bearer {stripe_client.key.raw_key}"})
    assert response.json()["results"][0]["status"] == "charged"
    event = send(stripe_client(), event_name="compute.gpu_seconds", identifier="shared-1",
                 payload={"value": "120.5"})
    assert event.identifier == "shared-1"
    assert UsageEvent.objects.filter(idempotency_key="shared-1").count() == 1
    assert LedgerEntry.objects.filter(kind="usage").count() == 1
    with pytest.raises(stripe.IdempotencyError) as refused:
        send(stripe_client(), event_name="compute.gpu_seconds", identifier="shared-1",
             payload={"value": "3"})
    assert refused.value.http_status == 400
    assert refused.value.error.code == "idempotency_conflict"


@pytest.mark.parametrize("params,param,code", [
    ({"event_name": "compute.gpu_seconds", "payload": {}}, "payload[value]", "parameter_invalid"),
    ({"event_name": "compute.gpu_seconds", "payload": {"value": "-2"}}, "payload[value]",
     "parameter_invalid"),
    ({"event_name": "compute.gpu_seconds", "payload": {"value": "1.1234567"}}, "payload[value]",
     "parameter_invalid"),
    ({"event_name": "no.such_meter", "payload": {"value": "1"}}, "event_name",
     "parameter_invalid"),
    ({"event_name": "compute.gpu_seconds", "payload": {"value": "1"},
      "identifier": "bad key!"}, "identifier", "parameter_invalid"),
    ({"event_name": "compute.gpu_seconds", "payload": {"value": "1"}, "timestamp": 1},
     "timestamp", "parameter_invalid"),
    ({"event_name": "compute.gpu_seconds", "payload": {"value": "1"}, "timestamp": "soon"},
     "timestamp", "parameter_invalid_integer"),
    ({"event_name": "compute.gpu_seconds", "payload": {"value": "1",
                                                       "stripe_customer_id": "globex"}},
     "payload[stripe_customer_id]", "resource_missing"),
    ({"event_name": "compute.gpu_seconds", "payload": {"value": "1"}, "colour": "red"},
     "colour", "parameter_unknown"),
])
def test_bad_input_raises_stripes_invalid_request_error_naming_the_param(
        stripe_client, params, param, code):
    with pytest.raises(stripe.InvalidRequestError) as refused:
        send(stripe_client(), **params)
    assert (refused.value.http_status, refused.value.param, refused.value.code) == (
        400, param, code)
    assert not UsageEvent.objects.exists()


def test_missing_event_name_and_customer_are_named(stripe_client):
    client = stripe_client()
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.billing.meter_events.create(params={"payload": {"value": "1"}})
    assert (refused.value.param, refused.value.code) == ("event_name", "parameter_missing")
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.billing.meter_events.create(params={"event_name": "compute.gpu_seconds",
                                                      "payload": {"value": "1"}})
    assert refused.value.param == "payload[stripe_customer_id]"


def test_an_event_the_credits_cannot_pay_raises_naming_the_reason(stripe_client, org):
    with pytest.raises(stripe.InvalidRequestError) as refused:
        send(stripe_client(), event_name="compute.gpu_seconds", identifier="big",
             payload={"value": "99999999"})
    assert refused.value.code == "insufficient_credits"
    assert "credits needed" in refused.value.user_message
    assert not UsageEvent.objects.exists()


def test_an_unknown_key_raises_authentication_error_and_another_plan_permission_error(
        stripe_client):
    with pytest.raises(stripe.AuthenticationError):
        send(stripe_client("not-a-key"), event_name="compute.gpu_seconds",
             payload={"value": "1"})
    starter = make_org("small", plan=Plan.FREE)
    with pytest.raises(stripe.PermissionError):
        send(stripe_client(api_key_for(starter).raw_key), event_name="compute.gpu_seconds",
             payload={"value": "1", "stripe_customer_id": "small"})


def test_async_mode_goes_through_the_queue_and_answers_the_same_object(stripe_client,
                                                                       live_server):
    """The stripe library cannot add a query to a POST; raw_request sends ?mode=async."""
    client = stripe_client()
    response = client.raw_request("post", "/v1/billing/meter_events?mode=async",
                                  event_name="compute.gpu_seconds", identifier="q-2",
                                  payload={"value": "2", "stripe_customer_id": "acme"})
    answer = json.loads(response.body)
    assert (answer["object"], answer["identifier"]) == ("billing.meter_event", "q-2")
    assert QueuedUsageEvent.objects.get().idempotency_key == "q-2"
    send(client, event_name="compute.gpu_seconds", identifier="s-1", payload={"value": "2"})
    assert not QueuedUsageEvent.objects.filter(idempotency_key="s-1").exists()  # sync default


def test_without_an_identifier_the_event_gets_one(stripe_client):
    event = send(stripe_client(), event_name="compute.gpu_seconds", payload={"value": "1"})
    assert UsageEvent.objects.get().idempotency_key == event.identifier
