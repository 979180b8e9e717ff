"""GET /api/v1/usage-events/<key>: what became of an event, in the synchronous result's
shape, for keys sent in either mode; org-scoped by the API key."""

import json

import pytest

from accounts.models import Plan
from billing.usage.queue.charging import drain
from tests.billing.usage_fixtures import (
    GPU_CREDITS,
    ai_event,
    api_key_for,
    funded,
    gpu_event,
)
from tests.conftest import make_org

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("prices")]
URL = "/api/v1/usage-events"


@pytest.fixture
def funding():
    return 10  # room for one GPU event: the next is refused for credits


def send(client, key, *events, mode="async"):
    response = client.post(f"{URL}?mode={mode}", data=json.dumps({"events": list(events)}),
                           content_type="application/json",
                           headers={"Authorization": f"Bearer {key.raw_key}"})
    assert response.status_code in (200, 202), response.content
    return response


def read(client, key, name):
    return client.get(f"{URL}/{name}", headers={"Authorization": f"Bearer {key.raw_key}"})


def result(client, key, name):
    response = read(client, key, name)
    assert response.status_code == 200, response.content
    return response.json()


def test_a_queued_event(client, key):
    send(client, key, gpu_event("a"))
    assert result(client, key, "a") == {"idempotency_key": "a", "status": "queued",
                                        "credits": None, "balance_after": None, "error": None}


def test_charged_then_duplicate_then_rejected(client, key, org):
    send(client, key, gpu_event("a"))
    drain(organization_id=org.pk)
    charged = {"idempotency_key": "a", "status": "charged", "credits": f"{GPU_CREDITS:.6f}",
               "balance_after": f"{10 - GPU_CREDITS:.6f}", "error": None}
    assert result(client, key, "a") == charged
    send(client, key, gpu_event("a"))
    drain(organization_id=org.pk)
    assert result(client, key, "a") == {**charged, "status": "duplicate"}
    send(client, key, gpu_event("a", quantity="1"))
    drain(organization_id=org.pk)
    conflict = result(client, key, "a")
    assert conflict["status"] == "rejected" and conflict["credits"] is None
    assert conflict["error"]["code"] == "idempotency_conflict"


def test_rejected_for_credits_then_charged_by_a_synchronous_send(client, key, org):
    send(client, key, gpu_event("a"), gpu_event("b"))
    drain(organization_id=org.pk)
    refused = result(client, key, "b")
    assert refused["status"] == "rejected"
    assert refused["error"]["code"] == "insufficient_credits"
    funded(org, 10)
    synchronous = send(client, key, gpu_event("b"), mode="sync").json()["results"][0]
    assert result(client, key, "b") == synchronous and synchronous["status"] == "charged"


def test_rejected_as_invalid(client, key, org):
    send(client, key, ai_event("a", model="gpt-9"))
    drain(organization_id=org.pk)
    refused = result(client, key, "a")
    assert refused["status"] == "rejected" and refused["error"]["code"] == "invalid_event"
    assert "gpt-9" in refused["error"]["message"]


def test_a_key_charged_synchronously(client, key):
    sent = send(client, key, gpu_event("s"), mode="sync").json()["results"][0]
    assert result(client, key, "s") == sent


def test_unknown_and_other_orgs_keys_are_a_404(client, key):
    other = make_org("globex")
    funded(other)
    other_key = api_key_for(other)
    send(client, other_key, gpu_event("theirs"))
    send(client, other_key, gpu_event("theirs-sync"), mode="sync")
    for name in ("nothing", "theirs", "theirs-sync"):
        response = read(client, key, name)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert result(client, other_key, "theirs")["status"] == "queued"


def test_refusals(client, key):
    assert client.get(f"{URL}/a").status_code == 401
    free_key = api_key_for(make_org("freebie", plan=Plan.FREE))
    response = read(client, free_key, "a")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "plan_not_eligible"
