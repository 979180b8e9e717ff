"""GET and PUT /api/v1/budgets, and the budgets in GET /api/v1/balance."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Plan, SettingsChange
from billing.models import Budget
from billing.usage.ingestion.record import record_usage
from tests.billing.usage_fixtures import GPU_CREDITS, api_key_for, gpu_event
from tests.conftest import make_org

pytestmark = pytest.mark.django_db
URL = "/api/v1/budgets"


def auth(key):
    return {"Authorization": f"Bearer {key.raw_key}"}


def put(client, key, body):
    return client.put(URL, data=json.dumps(body) if not isinstance(body, str) else body,
                      content_type="application/json", headers=auth(key))


def test_a_key_sets_another_keys_and_a_users_budget_and_reads_them_with_their_use(client, org,
                                                                                  key):
    ci = api_key_for(org, name="ci")
    response = put(client, key, {"api_key": ci.api_key.prefix, "monthly_limit": "50"})
    assert response.status_code == 200
    response = put(client, key, {"user": "Ana@Acme.test", "monthly_limit": 20})
    assert response.status_code == 200
    record_usage(organization=org, api_key=ci.api_key,
                 events=[gpu_event("g", user="ana@acme.test")])
    body = client.get(URL, headers=auth(key)).json()
    assert body["budgets"] == [
        {"kind": "api_key", "api_key": {"prefix": ci.api_key.prefix, "name": "ci"}, "user": None,
         "monthly_limit": "50.000000", "used": f"{GPU_CREDITS:.6f}",
         "remaining": f"{50 - GPU_CREDITS:.6f}"},
        {"kind": "user", "api_key": None, "user": "ana@acme.test",
         "monthly_limit": "20.000000", "used": f"{GPU_CREDITS:.6f}",
         "remaining": f"{20 - GPU_CREDITS:.6f}"}]
    assert len(body["month"]) == 7
    assert SettingsChange.objects.filter(area="budgets").first().summary.endswith(
        "(by API key tests)")


def test_a_null_limit_clears_the_budget(client, org, key):
    put(client, key, {"user": "ana@acme.test", "monthly_limit": "20"})
    response = put(client, key, {"user": "ana@acme.test", "monthly_limit": None})
    assert response.status_code == 200 and response.json()["budgets"] == []
    assert not Budget.objects.exists()


def test_a_key_cannot_change_its_own_budget(client, org, key):
    response = put(client, key, {"api_key": key.api_key.prefix, "monthly_limit": "1000000"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "own_budget"
    assert not Budget.objects.exists()


@pytest.mark.parametrize(("body", "field"), [
    ({"user": "ana@acme.test", "monthly_limit": "-5"}, "monthly_limit"),
    ({"user": "ana@acme.test", "monthly_limit": "1.0000001"}, "monthly_limit"),
    ({"user": "ana@acme.test", "monthly_limit": True}, "monthly_limit"),
    ({"user": "ana@acme.test", "monthly_limit": "1e400"}, "monthly_limit"),
    ({"user": "ana@acme.test", "monthly_limit": "NaN"}, "monthly_limit"),
    ({"user": "ana@acme.test"}, "monthly_limit"),
    ({"user": "not-an-email", "monthly_limit": "5"}, "user"),
    ({"api_key": "cb_live_nope", "monthly_limit": "5"}, "api_key"),
    ({"monthly_limit": "5"}, "api_key"),
    ({"api_key": "x", "user": "ana@acme.test", "monthly_limit": "5"}, "api_key"),
    ({"user": "ana@acme.test", "monthly_limit": "5", "limit": 3}, "limit"),
    ([1, 2], "body"),
])
def test_bad_input_names_its_field_and_changes_nothing(client, org, key, body, field):
    response = put(client, key, body)
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and error["details"][0]["field"] == field
    assert not Budget.objects.exists()


def test_a_body_that_is_not_json_is_a_400(client, org, key):
    response = put(client, key, "{nope")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"


def test_another_orgs_key_is_not_found_here(client, org, key):
    other = api_key_for(make_org("other"))
    response = put(client, key, {"api_key": other.api_key.prefix, "monthly_limit": "5"})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "api_key"


def test_an_org_without_credits_billing_is_refused(client):
    starter = make_org("starter", plan=Plan.FREE)
    key = api_key_for(starter)
    assert client.get(URL, headers=auth(key)).status_code == 403
    assert put(client, key, {"user": "a@b.test", "monthly_limit": "5"}).status_code == 403


def test_the_balance_carries_the_budgets_in_one_more_query_only_when_there_are_some(
        client, org, key):
    client.get("/api/v1/balance", headers=auth(key))  # the key's first use records last_used
    with CaptureQueriesContext(connection) as none:
        assert client.get("/api/v1/balance", headers=auth(key)).json()["budgets"] == []
    put(client, key, {"user": "ana@acme.test", "monthly_limit": "20"})
    with CaptureQueriesContext(connection) as some:
        body = client.get("/api/v1/balance", headers=auth(key)).json()
    assert body["budgets"][0]["user"] == "ana@acme.test"
    assert body["budgets"][0]["used"] == "0.000000"
    assert (len(none), len(some)) == (2, 3), [q["sql"] for q in some.captured_queries]


def test_the_openapi_schema_describes_the_budgets(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert {"get", "put"} <= set(schema["paths"]["/api/v1/budgets"])
