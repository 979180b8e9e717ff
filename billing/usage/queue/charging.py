"""Asynchronous usage, the charging side (docs/architecture.md, "Asynchronous usage").

A batch is an org's oldest queued events (up to 1,000, in arrival order, cut before
a key that repeats), validated and priced as the synchronous path does, then charged
as one charge (one ledger entry) per run of one API key, with each row's result
written in the same transaction, by one worker per org at a time (a PostgreSQL
advisory lock).
An event the synchronous path would refuse at pricing is rejected alone
(`invalid_event`) and the rest of the batch is charged.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import DatabaseError, OperationalError, connection, transaction
from django.db.models import Min
from django.utils import timezone
from psycopg.errors import LockNotAvailable

from accounts.models import ApiKey, Organization
from billing.models import QueuedUsageEvent, QueueStatus
from billing.usage.events import MAX_EVENTS, InvalidEvents
from billing.usage.ingestion.record import (
    REJECTED,
    EventResult,
    PlanNotEligible,
    charge_priced,
    check_plan,
    read_and_price,
)

logger = logging.getLogger(__name__)

LOCK_NAMESPACE = 74_110  # the high 32 bits of the org's advisory lock key
STALE_AFTER = timedelta(seconds=5)
RUN_SPAN = timedelta(seconds=1)
DRAIN_SECONDS = 30  # then the task wakes a successor, well inside django-q2's timeout
LOCK_WAIT_SECONDS = DRAIN_SECONDS + 15
INVALID_EVENT = "invalid_event"


@dataclass
class _Row:
    id: int
    key: str
    payload: dict
    api_key_id: int | None
    received_at: datetime


@dataclass
class Drained:
    events: int = 0
    batches: int = 0
    statuses: dict = field(default_factory=dict)
    out_of_time: bool = False  # stopped with events perhaps left: the caller wakes a successor
    caught_up: bool = False  # the last batch took every event queued when it read the queue


def charge_next_batch(*, organization_id: int, wait: bool = False,
                      progress: Drained | None = None) -> int | None:
    """Charge the org's next batch: the number of events decided (0: the queue is empty),
    or None when another worker holds the org (with `wait`: held it past the database's
    lock timeout). `progress` gets the results' statuses and whether the batch caught up."""
    try:
        with transaction.atomic():
            if not _lock(organization_id, wait=wait):
                return None
            rows = [_Row(*values) for values in QueuedUsageEvent.objects.filter(
                organization_id=organization_id, status=QueueStatus.QUEUED,
            ).order_by("id").values_list("id", "idempotency_key", "payload", "api_key_id",
                                         "received_at")[:MAX_EVENTS]]
            if not rows:
                if progress is not None:
                    progress.caught_up = True
                return 0
            batch = _without_repeated_keys(rows)
            caught_up = len(batch) == len(rows) < MAX_EVENTS
            organization = Organization.objects.get(pk=organization_id)
            results: dict[int, EventResult] = {}
            for rows_of_key in _by_api_key(batch):
                results.update(_charge_rows(organization, rows_of_key))
            _store_results(results, now=timezone.now())
    except OperationalError as error:
        if wait and isinstance(error.__cause__, LockNotAvailable):
            return None  # rolled back whole; the rows stay queued
        raise
    if progress is not None:
        progress.caught_up = caught_up
        for result in results.values():
            progress.statuses[result.status] = progress.statuses.get(result.status, 0) + 1
    return len(batch)


def drain(*, organization_id: int, wait: bool = True,
          seconds: float | None = DRAIN_SECONDS, until_empty: bool = True) -> Drained:
    """Charge the org's queue until it is empty (or `seconds` have passed; None: no limit,
    for the command). With `wait`, a
    busy org is waited for (the database wakes the waiter when the holder commits); without,
    it is left to the worker that holds it.

    Without `until_empty` (a woken task) it stops once a batch has taken everything
    queued when it read the queue: what arrived since was accepted after the task
    cleared the org's wake flag, so those requests have woken a successor, which the
    pacing lets gather them into one batch instead of chasing them a few at a time."""
    drained = Drained()
    deadline = None if seconds is None else time.monotonic() + seconds
    lock_deadline = time.monotonic() + (LOCK_WAIT_SECONDS if wait else 0)
    while True:
        if deadline is not None and time.monotonic() >= deadline:
            drained.out_of_time = True
            break
        done = charge_next_batch(organization_id=organization_id, wait=wait,
                                 progress=drained)
        if done is None:
            if time.monotonic() >= lock_deadline:
                break
            continue
        if done == 0:
            break
        drained.events += done
        drained.batches += 1
        if drained.caught_up and not until_empty:
            break
    return drained


def pending_organizations(*, older_than: timedelta = timedelta(0)) -> list[int]:
    """Orgs with an event queued for longer than `older_than`, the longest-waiting first."""
    cutoff = timezone.now() - older_than
    oldest = (QueuedUsageEvent.objects.filter(status=QueueStatus.QUEUED, received_at__lte=cutoff)
              .values("organization_id").order_by().annotate(first=Min("id")).order_by("first"))
    return [row["organization_id"] for row in oldest]


def charge_stale(*, older_than: timedelta = STALE_AFTER) -> int:
    """The recovery path: drain every org whose events have waited longer than they
    should (a lost wake-up, a killed worker), skipping orgs another worker holds."""
    charged = 0
    for organization_id in pending_organizations(older_than=older_than):
        try:
            charged += drain(organization_id=organization_id, wait=False).events
        except DatabaseError:  # one org's failing batch must not starve the others
            logger.exception("charging the queued usage of org %s failed", organization_id)
    return charged


def _lock(organization_id: int, *, wait: bool) -> bool:
    """The org's advisory lock for this transaction: waited for (up to the connection's
    lock_timeout, which raises LockNotAvailable) or only tried."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key(organization_id)])
            return True
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [lock_key(organization_id)])
        return cursor.fetchone()[0]


def lock_key(organization_id: int) -> int:
    """One bigint per org (ids are bigints: the two-int4 form would overflow)."""
    return (LOCK_NAMESPACE << 32) + organization_id


def _without_repeated_keys(rows: list[_Row]) -> list[_Row]:
    """The rows up to (not including) the first whose key is already in the batch."""
    seen = set()
    for index, row in enumerate(rows):
        if row.key in seen:
            return rows[:index]
        seen.add(row.key)
    return rows


def _by_api_key(rows: list[_Row]):
    """Consecutive rows sent with one API key: one charge, one ledger entry each (an
    entry has one actor; a batch from a single key is one entry)."""
    group: list[_Row] = []
    for row in rows:
        if group and row.api_key_id != group[0].api_key_id:
            yield group
            group = []
        group.append(row)
    if group:
        yield group


def _runs(rows: list[_Row]):
    """Consecutive rows received within RUN_SPAN of the run's first: each run validated
    as of its last arrival, so an event without occurred_at is dated within a second of
    its own arrival (even in a backlog)."""
    run: list[_Row] = []
    for row in rows:
        if run and row.received_at - run[0].received_at > RUN_SPAN:
            yield run
            run = []
        run.append(row)
    if run:
        yield run


def _charge_rows(organization, rows: list[_Row]) -> dict:
    """Results by row id for rows of one API key: each run validated and priced on its
    own (an event that cannot be is rejected alone), then all charged as one charge."""
    api_key_id = rows[0].api_key_id
    api_key = ApiKey.objects.filter(pk=api_key_id).first() if api_key_id else None
    results: dict[int, EventResult] = {}
    try:
        check_plan(organization)
    except PlanNotEligible as error:
        return {row.id: _rejection(row, PlanNotEligible.code, str(error)) for row in rows}
    priced, charged_rows, received = [], [], []
    for run in _runs(rows):
        arrived = max(row.received_at for row in run)
        pending = run
        while pending:
            try:
                events = read_and_price([row.payload for row in pending],
                                        plan=organization.plan, now=arrived)
            except InvalidEvents as error:
                refused = _refusals_by_index(error.details, len(pending))
                for index, message in refused.items():
                    results[pending[index].id] = _rejection(pending[index], INVALID_EVENT,
                                                            message)
                pending = [row for index, row in enumerate(pending) if index not in refused]
                continue
            priced += events
            charged_rows += pending
            received += [arrived] * len(pending)
            break
    if not priced:
        return results
    batch = charge_priced(organization=organization, events=priced, received=received,
                          api_key=api_key)
    results.update((row.id, result)
                   for row, result in zip(charged_rows, batch.results, strict=True))
    return results


def _refusals_by_index(details: list[dict], count: int) -> dict[int, str]:
    """Each refused event's problems as one message. A problem of no event, or no problem
    at all (neither is expected: the rows were valid requests), refuses them all rather
    than loop."""
    messages: dict[int, list[str]] = {}
    for detail in details or [{"index": None, "field": "", "message": "refused"}]:
        indexes = [detail["index"]] if detail["index"] is not None else range(count)
        for index in indexes:
            messages.setdefault(index, []).append(f"{detail['field']}: {detail['message']}")
    return {index: "; ".join(parts) for index, parts in messages.items()}


def _rejection(row: _Row, code: str, message: str) -> EventResult:
    return EventResult(row.key, REJECTED, error={"code": code, "message": message})


def _store_results(results: dict[int, EventResult], *, now: datetime) -> None:
    """Every row's result in one statement (PostgreSQL), inside the charge's transaction."""
    if connection.vendor != "postgresql":
        rows = [QueuedUsageEvent(pk=pk, status=r.status, credits=r.credits,
                                 balance_after=r.balance_after, error=r.error, processed_at=now)
                for pk, r in results.items()]
        QueuedUsageEvent.objects.bulk_update(
            rows, ["status", "credits", "balance_after", "error", "processed_at"])
        return
    values, params = [], []
    for pk, result in results.items():
        values.append("(%s::bigint, %s, %s::numeric, %s::numeric, %s::jsonb)")
        params += [pk, result.status, result.credits, result.balance_after,
                   None if result.error is None else json.dumps(result.error, default=str)]
    table = QueuedUsageEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS q SET status = v.status, credits = v.credits, "
            "balance_after = v.balance_after, error = v.error, processed_at = %s "
            f"FROM (VALUES {', '.join(values)}) AS v (id, status, credits, balance_after, error) "
            "WHERE q.id = v.id",
            [now, *params],
        )
