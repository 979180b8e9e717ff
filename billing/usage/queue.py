"""Asynchronous usage, the accept side (docs/api.md, "Asynchronous mode").

A request is refused exactly as the synchronous path refuses it (plan, size,
and every problem its own parsing in billing.usage.events finds), but nothing
is priced and nothing is locked: the events are stored as sent, in one INSERT
committed before the 202, and the org's worker is woken once it has committed.
What needs prices or the ledger (an unknown model or meter, a missing price,
duplicates, conflicts, insufficient credits) is decided by the worker
(billing.usage.queue_charging), which charges through the synchronous service.

Waking: one django-q2 task per org at a time. On the Redis broker a short-lived
flag per org says "a task is enqueued and has not started yet"; the accept path
enqueues only when it sets the flag, and the task clears it before it looks at
the queue, so an event committed before the flag was seen is always looked at.
A lost task (its worker killed) is covered by the next accept once the flag
expires, by every task's sweep of stale orgs and by the minute schedule.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing.models import QueuedUsageEvent
from billing.usage.events import MAX_EVENTS, InvalidEvents, in_request_order, read_events
from billing.usage.ingestion import PlanNotEligible, TooManyEvents

logger = logging.getLogger(__name__)

CHARGE_TASK = "billing.tasks.charge_queued_usage_task"
WAKE_FLAG_SECONDS = 10  # a lost task delays the next wake-up by at most this long
_brokers: dict = {}  # one django-q2 broker (and its Redis connection pool) per process


def accept_usage(*, organization, events, api_key=None, request_problems: list[dict] = (),
                 now: datetime | None = None) -> list[str]:
    """Queue 1 to 1,000 valid events for the org's worker; their keys, in order.

    Raises PlanNotEligible, TooManyEvents or InvalidEvents (nothing stored), as
    record_usage does for the same request.
    """
    now = now or timezone.now()
    if not organization.billing_enabled:
        raise PlanNotEligible(f"the {organization.get_plan_display()} plan has no credits billing")
    if isinstance(events, list) and len(events) > MAX_EVENTS:
        raise TooManyEvents(f"{len(events)} events: at most {MAX_EVENTS} per request")
    parsed, problems = read_events(events, now=now)
    problems = [*request_problems, *problems]
    if problems:
        raise InvalidEvents(in_request_order(problems))
    QueuedUsageEvent.objects.bulk_create([
        QueuedUsageEvent(organization_id=organization.pk, idempotency_key=event.key,
                         payload=events[event.index], api_key=api_key, received_at=now)
        for event in parsed
    ])
    transaction.on_commit(partial(wake_worker, organization.pk))
    return [event.key for event in parsed]


def wake_worker(organization_id: int) -> None:
    """Enqueue the org's charging task unless one is enqueued and not started yet.
    Never raises: the events are stored, and the sweeps charge them without a wake-up."""
    from django_q.tasks import async_task

    try:
        broker = _broker()
        flags = _flags(broker)
        if flags is not None and not flags.set(_flag(organization_id), 1, nx=True,
                                               ex=WAKE_FLAG_SECONDS):
            return
        async_task(CHARGE_TASK, organization_id, broker=broker, save=False)
    except Exception:  # noqa: BLE001 - the broker being down must not fail an accepted request
        logger.warning("could not wake the usage worker of org %s", organization_id,
                       exc_info=True)


def clear_wake_flag(organization_id: int) -> None:
    """Called by the task before it reads the queue (see the module's docstring)."""
    flags = _flags(_broker())
    if flags is not None:
        flags.delete(_flag(organization_id))


def _broker():
    from django_q.brokers import get_broker

    if "broker" not in _brokers:
        _brokers["broker"] = get_broker()
    return _brokers["broker"]


def _flags(broker):
    """The Redis connection for the flags, or None on the ORM broker (a task per accept)."""
    if not settings.REDIS_URL:
        return None
    return broker.connection


def _flag(organization_id: int) -> str:
    return f"billing:usage-queue:wake:{organization_id}"
