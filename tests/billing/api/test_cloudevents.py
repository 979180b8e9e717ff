"""POST /api/v1/events: CloudEvents as OpenMeter ingests them, sent by the `cloudevents`
package and the `openmeter` client to our live test server (docs/integrate.md,
"From OpenMeter")."""

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from cloudevents.conversion import to_dict
from cloudevents.http import CloudEvent, to_structured
from corehttp.exceptions import ClientAuthenticationError, HttpResponseError, ResourceExistsError
from openmeter import Client

from billing.models import EventMapping, LedgerEntry, QueuedUsageEvent, UsageEvent
from billing.models.pricing import AIModel
from tests.billing.usage_fixtures import GPU_CREDITS, api_key_for, funded, seed_prices

pytestmark = pytest.mark.django_db(transaction=True)
BATCH = "application/cloudevents-batch+json"


@pytest.fixture
def key(live_server, org):
    seed_prices()
    funded(org, 1000)
    EventMapping.objects.create(event_name="prompt", ai_model=AIModel.objects.get(name="gpt-4o"),
                                input_tokens_path="$.tokens.input",
                                output_tokens_path="$.tokens.output", user_path="$.user",
                                operation_path="$.feature")
    return api_key_for(org)


@pytest.fixture
def openmeter(live_server, key):
    with Client(endpoint=live_server.url, token=key.raw_key) as client:
        yield client


def gpu(event_id, value="120.5", **extra):
    return {"specversion": "1.0", "id": event_id, "source": "tests", "type": "compute.gpu_seconds",
            "subject": "acme", "data": {"value": value}, **extra}


def prompt(event_id, **extra):
    return {"specversion": "1.0", "id": event_id, "source": "tests", "type": "prompt",
            "subject": "acme", "data": {"tokens": {"input": 1000, "output": 100},
                                        "user": "ana@acme.test", "feature": "chat"}, **extra}


def post(url, key, body: bytes, content_type: str, path="/api/v1/events"):
    request = urllib.request.Request(f"{url}{path}", data=body, method="POST", headers={
        "Content-Type": content_type, "Authorization": f"Bearer {key.raw_key}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_cloudevents_package_sends_one_event_structured(live_server, key, org):
    event = CloudEvent({"id": "ce-1", "source": "tests", "type": "compute.gpu_seconds",
                        "subject": "acme"}, {"value": "120.5"})
    headers, body = to_structured(event)
    assert headers["content-type"] == "application/cloudevents+json"
    status, _ = post(live_server.url, key, body, headers["content-type"])
    assert status == 204
    row = UsageEvent.objects.get(idempotency_key="ce-1")
    assert (row.quantity, row.credits) == (Decimal("120.5"), GPU_CREDITS)


def test_the_cloudevents_package_sends_a_batch(live_server, key):
    events = [CloudEvent({"id": f"b-{i}", "source": "tests", "type": "prompt", "subject": "acme"},
                         {"tokens": {"input": 1000, "output": 100}, "feature": "chat"})
              for i in range(3)]
    body = json.dumps([to_dict(e) for e in events]).encode()
    assert post(live_server.url, key, body, BATCH)[0] == 204
    rows = UsageEvent.objects.order_by("idempotency_key")
    assert [(r.idempotency_key, r.resource, r.input_tokens, r.operation) for r in rows] == [
        (f"b-{i}", "gpt-4o", 1000, "chat") for i in range(3)]
    assert LedgerEntry.objects.filter(kind="usage").count() == 1  # one charge, as our batches


def test_the_openmeter_client_ingests_one_event_and_a_batch(openmeter, org):
    time = (datetime.now(UTC) - timedelta(minutes=3)).isoformat()
    openmeter.events.ingest_event(prompt("om-1", time=time))
    openmeter.events.ingest_events([gpu("om-2"), gpu("om-3", value="1")])
    rows = {r.idempotency_key: r for r in UsageEvent.objects.all()}
    assert set(rows) == {"om-1", "om-2", "om-3"}
    assert (rows["om-1"].user_label, rows["om-1"].credits) == ("ana@acme.test", Decimal("0.42"))
    assert rows["om-1"].occurred_at == datetime.fromisoformat(time)
    assert rows["om-2"].credits == GPU_CREDITS


def test_the_same_id_is_one_charge_across_all_three_shapes(openmeter, live_server, key, client):
    openmeter.events.ingest_event(gpu("same-1"))
    openmeter.events.ingest_events([gpu("same-1")])
    stripe_shape = client.post("/v1/billing/meter_events", data={
        "event_name": "compute.gpu_seconds", "identifier": "same-1", "payload[value]": "120.5",
        "payload[stripe_customer_id]": "acme"}, headers={"Authorization": f"Bearer {key.raw_key}"})
    assert stripe_shape.status_code == 200
    ours = client.post("/api/v1/usage-events", content_type="application/json",
                       headers={"Authorization": f"Bearer {key.raw_key}"}, data=json.dumps(
                           {"events": [{"idempotency_key": "same-1", "type": "infrastructure",
                                        "meter": "compute.gpu_seconds", "quantity": "120.5"}]}))
    assert ours.json()["results"][0]["status"] == "duplicate"
    assert UsageEvent.objects.count() == 1
    with pytest.raises(ResourceExistsError) as conflict:
        openmeter.events.ingest_event(gpu("same-1", value="2"))
    assert conflict.value.status_code == 409


@pytest.mark.parametrize("event,field", [
    (gpu("x", value="-1"), "data.value"),
    (gpu("x", value=None), "data.value"),
    (prompt("x", data={"tokens": {"input": "many", "output": 1}}), "data.tokens.input"),
    (gpu("x", type="nothing.mapped"), "type"),
    (gpu("x", subject="globex"), "subject"),
    (gpu("bad id!"), "id"),
    ({k: v for k, v in gpu("x").items() if k != "source"}, "source"),
    (gpu("x", specversion="0.3"), "specversion"),
    (gpu("x", time="yesterday"), "time"),
])
def test_bad_input_is_a_400_naming_the_field_and_records_nothing(live_server, key, event, field):
    status, body = post(live_server.url, key, json.dumps([gpu("fine"), event]).encode(), BATCH)
    assert status == 400
    assert body["error"]["code"] == "invalid_events"
    assert [(d["index"], d["field"]) for d in body["error"]["details"]] == [(1, field)]
    assert body["status"] == 400 and body["detail"]  # OpenMeter's problem document
    assert not UsageEvent.objects.exists()


def test_the_openmeter_client_raises_on_a_bad_event(openmeter):
    with pytest.raises(HttpResponseError) as refused:
        openmeter.events.ingest_event(gpu("x", value="-1"))
    assert refused.value.status_code == 400
    assert not UsageEvent.objects.exists()


def test_events_the_credits_cannot_pay_are_402_naming_the_reason_others_charged(live_server,
                                                                               key):
    body = json.dumps([gpu("ok"), gpu("huge", value="99999999")]).encode()
    status, answer = post(live_server.url, key, body, BATCH)
    assert status == 402
    assert answer["error"]["code"] == "insufficient_credits"
    assert [r["status"] for r in answer["error"]["details"]] == ["charged", "rejected"]
    assert list(UsageEvent.objects.values_list("idempotency_key", flat=True)) == ["ok"]


@pytest.mark.parametrize("content_type,body,status,code", [
    ("text/plain", b"{}", 415, "unsupported_media_type"),
    (BATCH, b"[{", 400, "invalid_json"),
    (BATCH, b"{}", 400, "invalid_events"),
    (BATCH, b"[]", 400, "invalid_events"),
    (BATCH, json.dumps([gpu(f"k{i}") for i in range(1001)]).encode(), 413, "too_many_events"),
    ("application/cloudevents+json", b"[1]", 400, "invalid_events"),
])
def test_bad_requests_are_refused_with_a_code(live_server, key, content_type, body, status,
                                              code):
    answer = post(live_server.url, key, body, content_type)
    assert (answer[0], answer[1]["error"]["code"]) == (status, code)


def test_an_unknown_key_is_refused_as_the_client_expects(live_server, key):
    with Client(endpoint=live_server.url, token="nope") as client, \
            pytest.raises(ClientAuthenticationError):
        client.events.ingest_event(gpu("x"))


def test_async_mode_goes_through_the_queue(live_server, key):
    status, _ = post(live_server.url, key, json.dumps([gpu("q-1")]).encode(), BATCH,
                     path="/api/v1/events?mode=async")
    assert status == 204
    assert QueuedUsageEvent.objects.get().idempotency_key == "q-1"
    assert post(live_server.url, key, json.dumps([gpu("q-2")]).encode(), BATCH,
                path="/api/v1/events?mode=later")[0] == 400


def test_a_mapping_changed_by_staff_applies_to_the_next_request(openmeter):
    """Mappings are cached per process under the catalogue's version; a save gives a new one."""
    openmeter.events.ingest_event(prompt("before"))
    mapping = EventMapping.objects.get(event_name="prompt")
    mapping.input_tokens_path = "$.tokens.output"
    mapping.save()
    openmeter.events.ingest_event(prompt("after"))
    tokens = dict(UsageEvent.objects.values_list("idempotency_key", "input_tokens"))
    assert tokens == {"before": 1000, "after": 100}
