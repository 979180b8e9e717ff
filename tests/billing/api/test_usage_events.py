"""POST /api/v1/usage-events: the contract of docs/api.md, refusals in order."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Plan
from accounts.services import revoke_api_key
from billing.models import CreditAccount, DailyUsage, LedgerEntry, UsageEvent
from tests.billing.api.usage_requests import URL, assert_error, post
from tests.billing.usage_fixtures import (
    AI_CREDITS,
    GPU_CREDITS,
    ai_event,
    api_key_for,
    funded,
    gpu_event,
)
from tests.conftest import make_org

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("prices")]


def nothing_recorded():
    return (not UsageEvent.objects.exists() and not LedgerEntry.objects.filter(kind="usage")
            and not DailyUsage.objects.exists())


def test_a_batch_is_charged(client, key, org):
    response = post(client, key, {"events": [ai_event("req-7f3a"), gpu_event("job-9")]})
    assert response.status_code == 200
    body = response.json()
    assert body["balance"] == "992.350000"
    assert body["results"] == [
        {"idempotency_key": "req-7f3a", "status": "charged", "credits": "0.420000",
         "balance_after": "999.580000", "error": None},
        {"idempotency_key": "job-9", "status": "charged", "credits": "7.230000",
         "balance_after": "992.350000", "error": None},
    ]
    assert UsageEvent.objects.filter(api_key=key.api_key).count() == 2


def test_the_design_example_event(client, key):
    event = {"idempotency_key": "req-7f3a", "type": "ai_tokens", "model": "gpt-4o",
             "provider": "openai", "service_tier": "", "operation": "chat.completion",
             "user": "ana@acme.test", "occurred_at": timezone.now().isoformat(),
             "input_tokens": 1200, "cached_input_tokens": 200, "cache_write_tokens": 0,
             "output_tokens": 300, "reasoning_tokens": 100}
    (result,) = post(client, key, {"events": [event]}).json()["results"]
    # 1,000 x 2.5 + 200 x 1.25 + 200 x 10 + 100 x 10 (no reasoning price) per million.
    assert result["status"] == "charged" and result["credits"] == "0.690000"


def test_the_same_batch_twice_and_a_conflict(client, key, org):
    events = [ai_event("a"), gpu_event("b", quantity="120.5")]
    first = post(client, key, {"events": events}).json()
    events[1]["quantity"] = "120.50"
    second = post(client, key, {"events": events}).json()
    assert [r["status"] for r in second["results"]] == ["duplicate", "duplicate"]
    assert [(r["credits"], r["balance_after"]) for r in second["results"]] == [
        (r["credits"], r["balance_after"]) for r in first["results"]
    ]
    assert second["balance"] == first["balance"]
    third = post(client, key, {"events": [gpu_event("b", quantity=121)]}).json()
    (result,) = third["results"]
    assert result["status"] == "rejected" and result["error"]["code"] == "idempotency_conflict"
    assert result["credits"] is None and third["balance"] == first["balance"]


def test_insufficient_credits_is_per_event(client, org):
    funded(org, 8)
    key = api_key_for(org)
    body = post(client, key, {"events": [gpu_event("a"), gpu_event("b"), ai_event("c")]}).json()
    assert [r["status"] for r in body["results"]] == ["charged", "rejected", "charged"]
    assert body["results"][1]["error"]["code"] == "insufficient_credits"
    assert body["balance"] == f"{8 - GPU_CREDITS - AI_CREDITS:.6f}"


# -- refusals: status and code, nothing recorded -----------------------------------------------

def test_no_key(client, key):
    error = assert_error(post(client, None, {"events": [ai_event("a")]}), 401, "unauthenticated")
    assert error["details"] is None and nothing_recorded()


@pytest.mark.parametrize("header", [
    "Bearer cb_live_not-a-real-key", "Bearer ", "Basic dXNlcjpwYXNz", "cb_live_x",
])
def test_unknown_or_malformed_key(client, key, header):
    response = client.post(URL, data=json.dumps({"events": [ai_event("a")]}),
                           content_type="application/json", headers={"Authorization": header})
    assert_error(response, 401, "unauthenticated")
    assert response["WWW-Authenticate"] == "Bearer"
    assert nothing_recorded()


def test_revoked_key(client, key):
    revoke_api_key(api_key=key.api_key, revoked_by=None)
    assert_error(post(client, key, {"events": [ai_event("a")]}), 401, "unauthenticated")
    assert nothing_recorded()


def test_free_plan(client):
    free = make_org("freebie", plan=Plan.FREE)
    key = api_key_for(free)
    assert_error(post(client, key, {"events": [ai_event("a")]}), 403, "plan_not_eligible")
    assert nothing_recorded()


@pytest.mark.parametrize("body", [
    "{", "", "not json", '{"events": [}', b"\xff\xfe", '{"events": [1,]}',
])
def test_malformed_json(client, key, body):
    assert_error(post(client, key, body, raw=True), 400, "invalid_json")
    assert nothing_recorded()


def test_too_many_events(client, key):
    events = [ai_event(f"k{i}") for i in range(1001)]
    error = assert_error(post(client, key, {"events": events}), 413, "too_many_events")
    assert "1001" in error["message"] and nothing_recorded()


def test_a_thousand_events_are_accepted(client, key):
    response = post(client, key, {"events": [ai_event(f"k{i}") for i in range(1000)]})
    assert response.status_code == 200 and len(response.json()["results"]) == 1000


@pytest.mark.parametrize("body, field", [
    ({"events": []}, "events"),
    ({"events": "a"}, "events"),
    ({}, "events"),
    ([ai_event("a")], "events"),
    ({"events": [ai_event("a")], "extra": 1}, "extra"),
])
def test_bad_request_shapes(client, key, body, field):
    error = assert_error(post(client, key, body), 422, "invalid_events")
    assert error["details"][0] == {"index": None, "field": field,
                                   "message": error["details"][0]["message"]}
    assert nothing_recorded()


OLD = (timezone.now() - timedelta(days=36)).isoformat()
# A day ahead: computed when the module is collected, it must stay past the 5-minute
# limit however long the suite runs before this test.
AHEAD = (timezone.now() + timedelta(days=1)).isoformat()


@pytest.mark.parametrize("event, field", [
    (ai_event("a", model="gpt-9"), "model"),
    (gpu_event("a", meter="compute.tpu_seconds"), "meter"),
    (ai_event("a", input_tokens=-1), "input_tokens"),
    (ai_event("a", output_tokens=-1), "output_tokens"),
    (ai_event("a", input_tokens=100, cached_input_tokens=200), "cached_input_tokens"),
    (gpu_event("a", quantity="1e309"), "quantity"),
    (gpu_event("a", quantity="NaN"), "quantity"),
    (gpu_event("a", quantity="abc"), "quantity"),
    (gpu_event("a", quantity="-5"), "quantity"),
    (gpu_event("a", quantity="0.0000001"), "quantity"),
    (ai_event("a", occurred_at=OLD), "occurred_at"),
    (ai_event("a", occurred_at=AHEAD), "occurred_at"),
    ({"idempotency_key": "a", "type": "ai_tokens", "input_tokens": 1, "output_tokens": 1},
     "model"),
])
def test_bad_events(client, key, event, field):
    response = post(client, key, {"events": [ai_event("good-1"), event, gpu_event("good-2")]})
    error = assert_error(response, 422, "invalid_events")
    assert [(d["index"], d["field"]) for d in error["details"]] == [(1, field)]
    assert nothing_recorded()
    assert CreditAccount.objects.get().balance == 1000


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e309", "-5",
                                     "1e9999999999999999999999", "-1e-9999999999999999999999"])
def test_bad_quantities_as_json_numbers(client, key, literal):
    body = ('{"events": [{"idempotency_key": "a", "type": "infrastructure", '
            f'"meter": "compute.gpu_seconds", "quantity": {literal}}}]}}')
    error = assert_error(post(client, key, body, raw=True), 422, "invalid_events")
    assert error["details"][0]["field"] == "quantity" and nothing_recorded()


def test_quantity_as_a_json_number_is_exact(client, key):
    body = ('{"events": [{"idempotency_key": "a", "type": "infrastructure", '
            '"meter": "compute.gpu_seconds", "quantity": 120.50}]}')
    (result,) = post(client, key, body, raw=True).json()["results"]
    assert result["credits"] == "7.230000"
    again = post(client, key, {"events": [gpu_event("a", quantity="120.5")]}).json()
    assert again["results"][0]["status"] == "duplicate"


def test_a_repeated_key_in_one_request(client, key):
    error = assert_error(post(client, key, {"events": [ai_event("a"), ai_event("a")]}),
                         422, "invalid_events")
    assert error["details"][0]["index"] == 1 and nothing_recorded()


# -- the order of refusals: first match wins ---------------------------------------------------

def test_refusal_order(client, key):
    free_key = api_key_for(make_org("freebie", plan=Plan.FREE))
    too_many_bad = {"events": [ai_event("a", input_tokens=-1)] * 1001}
    assert_error(post(client, None, "{", raw=True), 401, "unauthenticated")
    assert_error(post(client, free_key, "{", raw=True), 403, "plan_not_eligible")
    assert_error(post(client, key, "{", raw=True), 400, "invalid_json")
    assert_error(post(client, key, too_many_bad), 413, "too_many_events")


# -- the framework's own errors in our shape ---------------------------------------------------

def test_wrong_method_and_unknown_path(client, key):
    headers = {"Authorization": f"Bearer {key.raw_key}"}
    error = assert_error(client.get(URL, headers=headers), 405, "method_not_allowed")
    assert error["details"] == {"allowed": ["POST"]}
    assert_error(client.get("/api/v1/nothing-here", headers=headers), 404, "not_found")
    assert_error(client.get("/api/v1/", headers=headers), 404, "not_found")
    assert_error(client.delete("/api/v1/balance", headers=headers), 405, "method_not_allowed")


def test_openapi_schema(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert {"/api/v1/usage-events", "/api/v1/balance"} <= set(schema["paths"])
    post_op = schema["paths"]["/api/v1/usage-events"]["post"]
    body = post_op["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["events"]["maxItems"] == 1000
    assert "quantity" in body["properties"]["events"]["items"]["properties"]
    assert {"200", "401", "403", "400", "413", "422"} <= set(post_op["responses"])


def test_openapi_schema_says_unknown_fields_are_refused(client):
    """The schema promises what the parser does: the documented fields and no others."""
    from billing.usage.events import FIELDS

    schema = client.get("/api/v1/openapi.json").json()
    post_op = schema["paths"]["/api/v1/usage-events"]["post"]
    body = post_op["requestBody"]["content"]["application/json"]["schema"]
    event = body["properties"]["events"]["items"]
    assert body["additionalProperties"] is False and event["additionalProperties"] is False
    assert set(event["properties"]) == set().union(*FIELDS.values())


@pytest.mark.postgres
def test_a_single_event_sends_six_statements_and_two_after_the_lock(client, key, org):
    """The charge path's round trips (docs/architecture.md, "A usage event"): the key, the
    catalogue version, then the transaction: the lock with the grants, the known keys
    and the user named, one write (prepared on the connection once), the end. (SAVEPOINT:
    the test runs in a transaction.)"""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.billing.prepared_sql import sent
    from tests.conftest import make_member

    ana = make_member(org, "ana@acme.test")
    post(client, key, {"events": [ai_event("warm"), gpu_event("warm-gpu")]})  # caches, last_used
    post(client, key, {"events": [ai_event("warm-one")]})  # prepares the one-event write
    with CaptureQueriesContext(connection) as captured:
        response = post(client, key, {"events": [ai_event("one", user="ana@acme.test")]})
    assert response.status_code == 200 and response.json()["results"][0]["status"] == "charged"
    statements = sent(captured)
    assert len(statements) == 6, "\n".join(statements)
    api_key, version, begin, lock, write, end = statements
    assert "accounts_apikey" in api_key and "modelcatalogueversion" in version
    assert begin.startswith("SAVEPOINT") and "FOR UPDATE" in lock
    for table in ("billing_creditgrant", "billing_usageevent", "accounts_user"):
        assert table in lock, table
    assert write.startswith("WITH e AS (INSERT") and end.startswith("RELEASE SAVEPOINT")
    assert UsageEvent.objects.get(idempotency_key="one").user == ana
