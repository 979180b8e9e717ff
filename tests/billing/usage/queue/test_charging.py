"""The asynchronous queue's worker service: each org's events charged in arrival order,
through the synchronous service, with each result stored on its row."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import DailyUsage, LedgerEntry, QueuedUsageEvent, UsageEvent
from billing.usage.ingestion.record import record_usage
from billing.usage.queue.charging import charge_next_batch, charge_stale, drain
from billing.usage.queue.intake import accept_usage
from tests.billing.postings import assert_ledger_ok
from tests.billing.purchase_fixtures import balance
from tests.billing.usage_fixtures import (
    AI_CREDITS,
    GPU_CREDITS,
    ai_event,
    api_key_for,
    funded,
    gpu_event,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("prices")]



def accept(org, *events, **kwargs):
    return accept_usage(organization=org, events=list(events), **kwargs)


def rows(org):
    return list(QueuedUsageEvent.objects.filter(organization=org).order_by("id"))



def test_events_are_charged_in_arrival_order_with_their_results_stored(org):
    funded(org, 10)
    accept(org, gpu_event("first"))
    accept(org, ai_event("second"), gpu_event("third"))
    assert charge_next_batch(organization_id=org.pk) == 3
    decided = rows(org)
    assert [(r.idempotency_key, r.status) for r in decided] == [
        ("first", "charged"), ("second", "charged"), ("third", "rejected")]
    assert decided[0].credits == GPU_CREDITS and decided[0].balance_after == 10 - GPU_CREDITS
    assert decided[1].balance_after == 10 - GPU_CREDITS - AI_CREDITS
    # The third no longer fits: refused like a synchronous event, nothing recorded for it.
    assert decided[2].error["code"] == "insufficient_credits" and decided[2].credits is None
    assert all(r.processed_at is not None for r in decided)
    assert balance(org) == 10 - GPU_CREDITS - AI_CREDITS
    [entry] = LedgerEntry.objects.filter(kind="usage")  # the queue batch is one charge
    assert [e.idempotency_key for e in entry.usage_events.order_by("id")] == ["first", "second"]
    assert entry.amount == -(GPU_CREDITS + AI_CREDITS)
    assert charge_next_batch(organization_id=org.pk) == 0
    assert_ledger_ok(org)


def test_the_events_keep_their_api_key_and_arrival_time(org):
    funded(org)
    key = api_key_for(org).api_key
    received = timezone.now() - timedelta(minutes=3)
    accept(org, gpu_event("a"), api_key=key, now=received)
    drain(organization_id=org.pk)
    event = UsageEvent.objects.get()
    assert event.api_key == key and event.received_at == received
    # occurred_at left out: the moment it was received, not when it was charged.
    assert event.occurred_at == received and not event.occurred_at_sent
    assert event.entry.actor_api_key_id == key.pk


def test_a_backlog_keeps_each_events_arrival_time(org):
    """A batch of events that waited (workers down) is still dated by each arrival."""
    funded(org)
    first = timezone.now() - timedelta(hours=2)
    for n in range(3):
        accept(org, gpu_event(f"e{n}"), now=first + timedelta(minutes=30 * n))
    assert charge_next_batch(organization_id=org.pk) == 3
    occurred = list(UsageEvent.objects.order_by("idempotency_key")
                    .values_list("occurred_at", flat=True))
    assert occurred == [first + timedelta(minutes=30 * n) for n in range(3)]
    # Three runs of arrivals, one charge: one entry for the batch.
    [entry] = LedgerEntry.objects.filter(kind="usage")
    assert entry.metadata["events"] == 3 and entry.amount == -3 * GPU_CREDITS
    assert_ledger_ok(org)


def test_a_batch_is_one_entry_per_run_of_one_api_key(org):
    """An entry has one actor: consecutive events of one key are one charge, a change of
    key starts the next; an event that cannot be priced is rejected alone."""
    funded(org)
    one, two = api_key_for(org).api_key, api_key_for(org, name="second").api_key
    accept(org, gpu_event("a"), gpu_event("b"), api_key=one)
    accept(org, ai_event("c"), ai_event("bad", model="no-such-model"), api_key=two)
    accept(org, gpu_event("d"), api_key=one)
    assert charge_next_batch(organization_id=org.pk) == 5
    assert [r.status for r in rows(org)] == ["charged", "charged", "charged", "rejected",
                                             "charged"]
    entries = list(LedgerEntry.objects.filter(kind="usage").order_by("id"))
    assert [(e.actor_api_key_id, e.metadata["events"]) for e in entries] == [
        (one.pk, 2), (two.pk, 1), (one.pk, 1)]
    assert [e.idempotency_key for e in entries[0].usage_events.order_by("id")] == ["a", "b"]
    assert_ledger_ok(org)


def test_an_event_the_worker_cannot_price_is_rejected_alone(org):
    funded(org)
    accept(org, gpu_event("a"), ai_event("b", model="gpt-9"), gpu_event("c", meter="nope.x"),
           gpu_event("d"))
    drain(organization_id=org.pk)
    assert [(r.idempotency_key, r.status) for r in rows(org)] == [
        ("a", "charged"), ("b", "rejected"), ("c", "rejected"), ("d", "charged")]
    refused = rows(org)[1]
    assert refused.error["code"] == "invalid_event" and "gpt-9" in refused.error["message"]
    assert balance(org) == 1000 - 2 * GPU_CREDITS


def test_a_key_sent_again_waits_for_the_next_batch_and_is_a_duplicate(org):
    funded(org)
    accept(org, gpu_event("a"))
    accept(org, gpu_event("b"))
    accept(org, gpu_event("a", quantity="120.50"))  # the same payload, normalised
    accept(org, gpu_event("a", quantity="3"))  # the same key, another payload
    assert charge_next_batch(organization_id=org.pk) == 2  # cut before the repeated key
    assert charge_next_batch(organization_id=org.pk) == 1
    assert charge_next_batch(organization_id=org.pk) == 1
    decided = rows(org)
    assert [r.status for r in decided] == ["charged", "charged", "duplicate", "rejected"]
    assert (decided[2].credits, decided[2].balance_after) == (
        decided[0].credits, decided[0].balance_after)
    assert decided[3].error["code"] == "idempotency_conflict"
    assert UsageEvent.objects.filter(idempotency_key="a").count() == 1
    assert balance(org) == 1000 - 2 * GPU_CREDITS


def test_a_rejected_key_can_be_sent_again_and_charged(org):
    funded(org, 5)
    accept(org, gpu_event("a"))
    drain(organization_id=org.pk)
    funded(org, 5)
    accept(org, gpu_event("a"))
    drain(organization_id=org.pk)
    assert [r.status for r in rows(org)] == ["rejected", "charged"]
    assert balance(org) == 10 - GPU_CREDITS


def test_batches_hold_at_most_a_thousand_events(org):
    funded(org, 100000)
    accept(org, *[gpu_event(f"a{i}") for i in range(1000)])
    accept(org, gpu_event("last"))
    assert charge_next_batch(organization_id=org.pk) == 1000
    assert QueuedUsageEvent.objects.filter(status="queued").get().idempotency_key == "last"
    assert drain(organization_id=org.pk).events == 1
    assert balance(org) == 100000 - 1001 * GPU_CREDITS
    assert DailyUsage.objects.get().event_count == 1001


def test_orgs_are_charged_apart(org, other_org):
    funded(org)
    funded(other_org)
    accept(org, gpu_event("a"))
    accept(other_org, gpu_event("a"))
    drain(organization_id=org.pk)
    assert rows(org)[0].status == "charged" and rows(other_org)[0].status == "queued"
    assert balance(other_org) == 1000


def test_an_org_that_lost_its_plan_has_its_events_rejected(org):
    funded(org)
    accept(org, gpu_event("a"))
    org.plan = "free"
    org.save()
    drain(organization_id=org.pk)
    (row,) = rows(org)
    assert row.status == "rejected" and row.error["code"] == "plan_not_eligible"
    assert balance(org) == 1000


def test_the_stale_sweep_charges_only_events_that_waited(org, other_org):
    funded(org)
    funded(other_org)
    accept(org, gpu_event("old"), now=timezone.now() - timedelta(seconds=30))
    accept(other_org, gpu_event("new"))
    assert charge_stale() == 1
    assert rows(org)[0].status == "charged" and rows(other_org)[0].status == "queued"


def test_a_synchronous_charge_and_a_queued_one_share_the_key(org):
    funded(org)
    record_usage(organization=org, events=[gpu_event("a")])
    accept(org, gpu_event("a"), ai_event("b"))
    drain(organization_id=org.pk)
    assert [r.status for r in rows(org)] == ["duplicate", "charged"]
    assert balance(org) == Decimal(1000) - GPU_CREDITS - AI_CREDITS


def test_the_sweep_goes_on_past_an_org_whose_batch_fails(org, other_org, monkeypatch):
    from django.db import DatabaseError

    from billing.usage.queue import charging as queue_charging

    funded(org)
    funded(other_org)
    then = timezone.now() - timedelta(minutes=1)
    accept(org, gpu_event("a"), now=then)
    accept(other_org, gpu_event("b"), now=then + timedelta(seconds=1))
    real = queue_charging._charge_rows

    def failing_for_org(organization, rows):
        if organization.pk == org.pk:
            raise DatabaseError("boom")
        return real(organization, rows)

    monkeypatch.setattr(queue_charging, "_charge_rows", failing_for_org)
    assert charge_stale() == 1
    assert rows(org)[0].status == "queued" and rows(other_org)[0].status == "charged"


def test_a_woken_task_stops_once_a_batch_took_all_it_saw(org, monkeypatch):
    """Events accepted during its batch have woken a successor (the flag was cleared):
    left to it, to be gathered by the pacing, instead of chased a few at a time."""
    from billing.usage.queue import charging as queue_charging

    funded(org)
    accept(org, gpu_event("a"), gpu_event("b"))
    charge = queue_charging.charge_priced

    def arriving_meanwhile(**kwargs):
        if not QueuedUsageEvent.objects.filter(idempotency_key="late").exists():
            accept(org, gpu_event("late"))
        return charge(**kwargs)

    monkeypatch.setattr(queue_charging, "charge_priced", arriving_meanwhile)
    drained = drain(organization_id=org.pk, until_empty=False)
    assert (drained.events, drained.batches, drained.caught_up) == (2, 1, True)
    assert [r.status for r in rows(org)] == ["charged", "charged", "queued"]
    assert drain(organization_id=org.pk).events == 1  # the successor (or a sweep) takes it


def test_a_batch_cut_before_a_repeated_key_has_not_caught_up(org):
    """The events after the cut were accepted before the task cleared its flag: no
    successor was woken for them, so the task goes on."""
    funded(org)
    accept(org, gpu_event("a"))
    accept(org, gpu_event("a", quantity="120.50"))
    drained = drain(organization_id=org.pk, until_empty=False)
    assert (drained.events, drained.batches) == (2, 2)
    assert [r.status for r in rows(org)] == ["charged", "duplicate"]
