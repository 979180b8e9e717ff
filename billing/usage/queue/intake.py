"""Asynchronous usage, the accept side (docs/api.md, "Asynchronous mode").

A request is refused exactly as the synchronous path refuses it, but nothing is
priced or locked: the events are stored as sent, committed before the 202, and the
org's worker is woken once they are (one task per org at a time, paced). How the
waking and the pacing work: docs/architecture.md, "Asynchronous usage".
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from billing.models import QueuedUsageEvent
from billing.usage.events import MAX_EVENTS, InvalidEvents, in_request_order, read_events
from billing.usage.ingestion.record import PlanNotEligible, TooManyEvents

logger = logging.getLogger(__name__)

CHARGE_TASK = "billing.tasks.charge_queued_usage_task"
WAKE_FLAG_SECONDS = 10  # a lost task delays the next wake-up by at most this long
PACE_SECONDS = 0.5  # well inside the 2 s an event may wait (docs/api.md)
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
    _store([
        QueuedUsageEvent(organization_id=organization.pk, idempotency_key=event.key,
                         payload=events[event.index], api_key=api_key, received_at=now)
        for event in parsed
    ])
    transaction.on_commit(partial(wake_worker, organization.pk))
    return [event.key for event in parsed]


def _store(rows: list[QueuedUsageEvent]) -> None:
    """The rows in one INSERT. Outside a transaction (the API's requests) that statement is
    atomic by itself, one round trip where bulk_create's own transaction takes three."""
    if connection.in_atomic_block:
        QueuedUsageEvent.objects.bulk_create(rows)
        return
    fields = [f for f in QueuedUsageEvent._meta.concrete_fields if f.name in _STORED]
    params = [f.get_db_prep_save(getattr(row, f.attname), connection)
              for row in rows for f in fields]
    quote = connection.ops.quote_name
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(QueuedUsageEvent._meta.db_table)} "
            f"({', '.join(quote(f.column) for f in fields)}) "
            f"VALUES {', '.join([placeholders] * len(rows))}", params)


_STORED = ("organization", "idempotency_key", "payload", "api_key", "received_at", "status")


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


def pace(organization_id: int) -> float:
    """Called by the task first (see the module's docstring): wait until PACE_SECONDS have
    passed since the org's last drain began, then mark this one's start. The seconds
    waited (0 on the ORM broker, whose one worker needs no pacing)."""
    flags = _flags(_broker())
    if flags is None:
        return 0.0
    key = _pace_key(organization_id)
    waited = max(flags.pttl(key), 0) / 1000  # -2: no drain began within a pace
    if waited:
        time.sleep(waited)
    flags.set(key, 1, px=int(PACE_SECONDS * 1000))
    return waited


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


def _pace_key(organization_id: int) -> str:
    return f"billing:usage-queue:pace:{organization_id}"
