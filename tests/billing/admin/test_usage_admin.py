"""Usage events and the daily rollup in the admin: visible to staff, read only."""

import pytest

from accounts.models import User
from billing.models import DailyUsage, UsageEvent
from billing.usage.ingestion.record import record_usage
from tests.billing.usage_fixtures import ai_event, funded, seed_prices

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, org):
    seed_prices()
    funded(org)
    record_usage(organization=org, events=[ai_event("req-1", operation="chat")])
    client.force_login(User.objects.create_superuser("staff@example.com", "pw"))
    return client


def test_usage_events_are_listed_and_shown_read_only(staff_client):
    listing = staff_client.get("/admin/billing/usageevent/")
    assert listing.status_code == 200 and "req-1" in listing.content.decode()
    event = UsageEvent.objects.get()
    page = staff_client.get(f"/admin/billing/usageevent/{event.pk}/change/")
    body = page.content.decode()
    assert page.status_code == 200 and "markup_id" in body and "Save" not in body
    assert staff_client.post(f"/admin/billing/usageevent/{event.pk}/delete/").status_code == 403
    assert staff_client.get("/admin/billing/usageevent/add/").status_code == 403


def test_the_rollup_is_listed_read_only(staff_client):
    assert staff_client.get("/admin/billing/dailyusage/").status_code == 200
    row = DailyUsage.objects.get()
    assert staff_client.post(f"/admin/billing/dailyusage/{row.pk}/delete/").status_code == 403


def test_the_asynchronous_queue_is_listed_read_only(staff_client, org):
    from billing.models import QueuedUsageEvent
    from billing.usage.queue.intake import accept_usage

    accept_usage(organization=org, events=[ai_event("queued-1")])
    listing = staff_client.get("/admin/billing/queuedusageevent/")
    body = listing.content.decode()
    assert listing.status_code == 200 and "queued-1" in body and "acme" in body.lower()
    row = QueuedUsageEvent.objects.get()
    page = staff_client.get(f"/admin/billing/queuedusageevent/{row.pk}/change/")
    assert page.status_code == 200 and "gpt-4o" in page.content.decode()
    assert "Save" not in page.content.decode()
    assert staff_client.post(
        f"/admin/billing/queuedusageevent/{row.pk}/delete/").status_code == 403
    assert staff_client.get("/admin/billing/queuedusageevent/add/").status_code == 403
