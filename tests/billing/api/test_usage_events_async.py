"""POST /api/v1/usage-events?mode=async: the same refusals as the synchronous path, then the
events stored (not charged) and a 202 (docs/api.md, "Asynchronous mode")."""

import json

import pytest

from accounts.models import Plan
from billing.models import LedgerEntry, QueuedUsageEvent, UsageEvent
from tests.billing.api import usage_requests
from tests.billing.api.usage_requests import URL, assert_error
from tests.billing.usage_fixtures import ai_event, api_key_for, gpu_event
from tests.conftest import make_org

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("prices")]


def post(client, key, body, *, mode="async", raw=False):
    return usage_requests.post(client, key, body, mode=mode, raw=raw)


def nothing_stored():
    return not QueuedUsageEvent.objects.exists() and not UsageEvent.objects.exists()


def test_events_are_stored_and_answered_202_without_a_charge(client, key, org):
    response = post(client, key, {"events": [ai_event("a"), gpu_event("b", quantity=120.5)]})
    assert response.status_code == 202, response.content
    assert response.json() == {"results": [{"idempotency_key": "a", "status": "queued"},
                                           {"idempotency_key": "b", "status": "queued"}]}
    rows = list(QueuedUsageEvent.objects.order_by("id"))
    assert [(r.idempotency_key, r.status, r.organization_id, r.api_key_id) for r in rows] == [
        ("a", "queued", org.pk, key.api_key.pk), ("b", "queued", org.pk, key.api_key.pk)]
    # Stored as sent: a JSON number quantity keeps its exact digits, as a string.
    assert rows[1].payload["quantity"] == "120.5"
    assert rows[0].processed_at is None and rows[0].credits is None
    assert not UsageEvent.objects.exists() and not LedgerEntry.objects.filter(kind="usage")


def test_an_unknown_model_is_accepted_for_the_worker_to_refuse(client, key):
    """Pricing is the worker's: the accept path resolves no model."""
    response = post(client, key, {"events": [ai_event("a", model="gpt-9")]})
    assert response.status_code == 202
    assert QueuedUsageEvent.objects.get().payload["model"] == "gpt-9"


@pytest.mark.parametrize("event,field", [
    (ai_event("a", input_tokens=-1), "input_tokens"),
    (gpu_event("a", quantity="0"), "quantity"),
    ({"idempotency_key": "a", "type": "ai_tokens", "model": "gpt-4o"}, "input_tokens"),
    (ai_event("a", colour="red"), "colour"),
    (ai_event("bad key!"), "idempotency_key"),
    (ai_event("a", occurred_at="2001-01-01T00:00:00Z"), "occurred_at"),
])
def test_bad_events_are_a_422_and_store_nothing(client, key, event, field):
    error = assert_error(post(client, key, {"events": [gpu_event("ok"), event]}), 422,
                         "invalid_events")
    assert {"index": 1, "field": field} in [
        {"index": d["index"], "field": d["field"]} for d in error["details"]]
    assert nothing_stored()


def test_a_key_repeated_in_one_request_is_a_422(client, key):
    error = assert_error(post(client, key, {"events": [gpu_event("a"), gpu_event("a")]}), 422,
                         "invalid_events")
    assert error["details"][0]["field"] == "idempotency_key" and nothing_stored()


def test_request_shapes(client, key):
    assert_error(post(client, key, "{", raw=True), 400, "invalid_json")
    assert_error(post(client, key, {"events": []}), 422, "invalid_events")
    assert_error(post(client, key, {"events": [gpu_event("a")], "extra": 1}), 422,
                 "invalid_events")
    too_many = {"events": [gpu_event(f"k{i}") for i in range(1001)]}
    assert_error(post(client, key, too_many), 413, "too_many_events")
    assert nothing_stored()


def test_a_plan_without_billing_is_refused(client):
    free_key = api_key_for(make_org("freebie", plan=Plan.FREE))
    assert_error(post(client, free_key, {"events": [gpu_event("a")]}), 403, "plan_not_eligible")
    assert nothing_stored()


def test_no_key_is_a_401(client, key):
    response = client.post(f"{URL}?mode=async", data=json.dumps({"events": [gpu_event("a")]}),
                           content_type="application/json")
    assert_error(response, 401, "unauthenticated")
    assert nothing_stored()


@pytest.mark.parametrize("mode", ["ASYNC", "", "later", "sync,async"])
def test_an_unknown_mode_is_a_422_naming_it(client, key, mode):
    error = assert_error(post(client, key, {"events": [gpu_event("a")]}, mode=mode), 422,
                         "invalid_events")
    assert error["details"] == [{"index": None, "field": "mode",
                                 "message": "must be sync (the default) or async"}]
    assert nothing_stored() and not LedgerEntry.objects.filter(kind="usage")


def test_mode_sync_and_no_mode_charge_now(client, key):
    for mode, name in (("sync", "a"), (None, "b")):
        response = post(client, key, {"events": [gpu_event(name)]}, mode=mode)
        assert response.status_code == 200
        assert response.json()["results"][0]["status"] == "charged"
    assert not QueuedUsageEvent.objects.exists()


def test_accepting_wakes_the_worker_after_commit(client, key, org, monkeypatch,
                                                 django_capture_on_commit_callbacks):
    woken = []
    monkeypatch.setattr("billing.usage.queue.intake.wake_worker", woken.append)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        post(client, key, {"events": [gpu_event("a"), gpu_event("b")]})
    assert len(callbacks) == 1 and woken == [org.pk]


def test_the_openapi_schema_has_the_async_mode_and_the_read_by_key(client):
    schema = client.get("/api/v1/openapi.json").json()
    post_op = schema["paths"]["/api/v1/usage-events"]["post"]
    assert "202" in post_op["responses"]
    (mode,) = [p for p in post_op["parameters"] if p["name"] == "mode"]
    assert mode["schema"]["enum"] == ["sync", "async"]
    get_op = schema["paths"]["/api/v1/usage-events/{key}"]["get"]
    assert {"200", "401", "404"} <= set(get_op["responses"])
