"""Reads of the asynchronous usage queue: an event's result by key, the queue's depth."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Min

from billing.models import QueuedUsageEvent, QueueStatus, UsageEvent
from billing.usage.ingestion.record import CHARGED, REJECTED, EventResult

# A rejection that says nothing about the key's charged event (it was refused for money or
# validity, so an event under that key was recorded by a later send).
_RESENDABLE = {"insufficient_credits", "invalid_event", "plan_not_eligible"}


def event_result(*, organization, key: str) -> EventResult | None:
    """What became of the latest send of `key` in this org, in either mode; None if unknown.

    The latest asynchronous send's result (queued, charged, duplicate, rejected) when
    there is one; a key only ever sent synchronously answers with its recorded event
    (charged). A rejection for money or validity followed by a synchronous send that
    was charged answers with that charge.
    """
    latest = (QueuedUsageEvent.objects.filter(organization=organization, idempotency_key=key)
              .order_by("-id").only("status", "credits", "balance_after", "error").first())
    if latest is not None and not (latest.status == QueueStatus.REJECTED
                                   and (latest.error or {}).get("code") in _RESENDABLE):
        return EventResult(key, latest.status, latest.credits, latest.balance_after,
                           latest.error)
    recorded = (UsageEvent.objects.filter(organization=organization, idempotency_key=key)
                .only("credits", "balance_after").first())
    if recorded is not None:
        return EventResult(key, CHARGED, recorded.credits, recorded.balance_after)
    if latest is not None:
        return EventResult(key, REJECTED, error=latest.error)
    return None


@dataclass(frozen=True)
class QueueDepth:
    organization_id: int
    slug: str
    queued: int
    oldest: datetime


def queue_depth(*, organization=None) -> list[QueueDepth]:
    """Queued events per org (only orgs with some), the longest-waiting first."""
    rows = QueuedUsageEvent.objects.filter(status=QueueStatus.QUEUED)
    if organization is not None:
        rows = rows.filter(organization=organization)
    grouped = (rows.values("organization_id", "organization__slug").order_by()
               .annotate(queued=Count("id"), oldest=Min("received_at")).order_by("oldest"))
    return [QueueDepth(g["organization_id"], g["organization__slug"], g["queued"], g["oldest"])
            for g in grouped]
