"""One idempotency contract across both modes: a key is unique per org whichever mode
sent it; the same payload again is a duplicate, another payload a conflict."""

import json

import pytest

from billing.models import CreditAccount, LedgerEntry, UsageEvent
from billing.usage.queue.charging import drain
from tests.billing.usage_fixtures import GPU_CREDITS, gpu_event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("prices")]
URL = "/api/v1/usage-events"


@pytest.fixture
def funding():
    return 100  # charged_once() checks the balance against it


def send(client, key, event, mode):
    response = client.post(f"{URL}?mode={mode}", data=json.dumps({"events": [event]}),
                           content_type="application/json",
                           headers={"Authorization": f"Bearer {key.raw_key}"})
    return response.json()["results"][0]


def charged_once(org):
    assert UsageEvent.objects.filter(idempotency_key="k").count() == 1
    assert LedgerEntry.objects.filter(kind="usage").count() == 1
    assert CreditAccount.objects.get(organization=org).balance == 100 - GPU_CREDITS


def async_result(client, key, org):
    drain(organization_id=org.pk)
    return client.get(f"{URL}/k", headers={"Authorization": f"Bearer {key.raw_key}"}).json()


def test_sync_then_async_same_payload_is_a_duplicate(client, key, org):
    first = send(client, key, gpu_event("k"), "sync")
    assert async_result(client, key, org) == first  # nothing sent async yet: the charge
    send(client, key, gpu_event("k", quantity="120.50"), "async")
    assert async_result(client, key, org) == {**first, "status": "duplicate"}
    charged_once(org)


def test_sync_then_async_other_payload_is_a_conflict(client, key, org):
    send(client, key, gpu_event("k"), "sync")
    send(client, key, gpu_event("k", quantity="2"), "async")
    result = async_result(client, key, org)
    assert result["status"] == "rejected"
    assert result["error"]["code"] == "idempotency_conflict"
    charged_once(org)


def test_async_then_sync_same_payload_is_a_duplicate(client, key, org):
    send(client, key, gpu_event("k"), "async")
    charged = async_result(client, key, org)
    again = send(client, key, gpu_event("k"), "sync")
    assert again == {**charged, "status": "duplicate"}
    charged_once(org)


def test_async_then_sync_other_payload_is_a_conflict(client, key, org):
    send(client, key, gpu_event("k"), "async")
    async_result(client, key, org)
    again = send(client, key, gpu_event("k", quantity="2"), "sync")
    assert again["status"] == "rejected" and again["error"]["code"] == "idempotency_conflict"
    charged_once(org)


def test_a_sync_send_while_the_async_one_waits_is_charged_and_the_queued_one_is_a_duplicate(
        client, key, org):
    send(client, key, gpu_event("k"), "async")
    now = send(client, key, gpu_event("k"), "sync")
    assert now["status"] == "charged"
    assert async_result(client, key, org) == {**now, "status": "duplicate"}
    charged_once(org)
