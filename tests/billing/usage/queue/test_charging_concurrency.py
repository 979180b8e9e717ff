"""Several workers on one org's queue at once (PostgreSQL: the advisory lock and row locks
are what is tested; SQLite runs one worker)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from billing.models import CreditAccount, LedgerEntry, QueuedUsageEvent, UsageEvent
from billing.usage.queue.charging import (
    charge_next_batch,
    charge_stale,
    drain,
    lock_key,
)
from billing.usage.queue.intake import accept_usage
from tests.billing.postings import assert_ledger_ok
from tests.billing.usage_fixtures import GPU_CREDITS, funded, gpu_event, seed_prices
from tests.concurrency import run_together
from tests.conftest import make_org

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def quiet_wake_ups(monkeypatch):
    # Tests run django-q2 in sync mode: a wake-up would charge inside the accept itself.
    monkeypatch.setattr("billing.usage.queue.intake.wake_worker", lambda organization_id: None)


def queue(org, count, prefix="e", size=100):
    for start in range(0, count, size):
        accept_usage(organization=org,
                     events=[gpu_event(f"{prefix}{n}") for n in range(start, start + size)])


def test_workers_racing_on_one_org_charge_each_event_once_in_arrival_order():
    seed_prices()
    org = make_org("race")
    funded(org, 100000)
    queue(org, 2500)
    outcomes = run_together([lambda: drain(organization_id=org.pk) for _ in range(4)])
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert sum(o.events for o in outcomes) == 2500
    assert not QueuedUsageEvent.objects.filter(status="queued").exists()
    assert set(QueuedUsageEvent.objects.values_list("status", flat=True)) == {"charged"}
    # One entry per queue batch; in entry order, their events are in arrival order, each once.
    charged = list(UsageEvent.objects.order_by("entry_id", "id")
                   .values_list("idempotency_key", flat=True))
    assert charged == [f"e{n}" for n in range(2500)]
    entries = LedgerEntry.objects.filter(kind="usage")
    assert 1 < entries.count() < 2500
    assert sum(e.metadata["events"] for e in entries) == 2500
    balance = CreditAccount.objects.get(organization=org).balance
    assert Decimal(100000) - balance == 2500 * GPU_CREDITS
    assert_ledger_ok(org)


def test_a_held_org_is_skipped_not_waited_for_by_the_sweep():
    seed_prices()
    busy, idle = make_org("busy"), make_org("idle")
    for org in (busy, idle):
        funded(org)
        accept_usage(organization=org, events=[gpu_event("a")],
                     now=timezone.now() - timedelta(minutes=1))
    with transaction.atomic():
        with connection.cursor() as cursor:  # what a worker charging `busy` holds
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key(busy.pk)])
        swept, attempt = run_together([
            charge_stale, lambda: charge_next_batch(organization_id=busy.pk)])
    assert swept == 1 and attempt is None
    statuses = dict(QueuedUsageEvent.objects.values_list("organization__slug", "status"))
    assert statuses == {"busy": "queued", "idle": "charged"}


def test_a_woken_worker_waits_for_a_held_org_up_to_the_lock_timeout():
    seed_prices()
    org = make_org("held")
    funded(org)
    accept_usage(organization=org, events=[gpu_event("a")])

    def waiting_worker():
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '300ms'")
        return charge_next_batch(organization_id=org.pk, wait=True)

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key(org.pk)])
        (outcome,) = run_together([waiting_worker])
    assert outcome is None
    assert QueuedUsageEvent.objects.get().status == "queued"
    # Released: the same wait succeeds at once.
    assert charge_next_batch(organization_id=org.pk, wait=True) == 1
