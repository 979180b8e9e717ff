"""What the transactions page and its CSV show of a usage entry's events.

A usage entry is one charge of one or many events (docs/ledger.md, "Usage charges"):
its metadata names their types, models or meters, operations and users, and their
USD cost, so a page or an export reads no event for it. An older entry of one event
has none of that: its event is read, one query for a page or a chunk of rows.

When the usage happened (`used_spans`): a charge's first and last occurred_at, in its
metadata since they were recorded there; older entries' events are read, one query.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from django.db.models import Max, Min

from billing import money
from billing.ledger.usage_charges import USED_FROM, USED_UNTIL, is_per_charge
from billing.models import EntryKind, UsageEvent

SEPARATOR = "; "


class UsageSummary(NamedTuple):
    usage_type: str
    resource: str
    operation: str
    user: str
    cost_usd: str  # sixteen places always (money.export_usd), old entries and new alike


NONE = UsageSummary("", "", "", "", "")


def _from_metadata(metadata: dict) -> UsageSummary:
    return UsageSummary(*(SEPARATOR.join(metadata.get(name, [])) for name in
                          ("types", "resources", "operations", "users")),
                        money.export_usd(metadata.get("cost_usd", "")))


def summaries(rows: Iterable[tuple[int, str, dict]]) -> dict[int, UsageSummary]:
    """For (entry id, kind, metadata) rows: the usage entries' summaries, by entry id."""
    found, older = {}, []
    for entry_id, kind, metadata in rows:
        if kind != EntryKind.USAGE:
            continue
        if is_per_charge(metadata):
            found[entry_id] = _from_metadata(metadata)
        else:
            older.append(entry_id)
    if older:
        for entry_id, *values in (UsageEvent.objects.filter(entry_id__in=older).values_list(
                "entry_id", "type", "resource", "operation", "user_label", "cost_usd")):
            found[entry_id] = UsageSummary(*values[:4], money.export_usd(values[4]))
    return found


class UsedSpan(NamedTuple):
    """When a usage entry's events happened: the first and the last occurred_at."""
    first: datetime
    last: datetime


def used_spans(rows: Iterable[tuple[int, str, dict]]) -> dict[int, UsedSpan]:
    """For (entry id, kind, metadata) rows: when each usage entry's usage happened."""
    found, older = {}, []
    for entry_id, kind, metadata in rows:
        if kind != EntryKind.USAGE:
            continue
        if metadata and USED_FROM in metadata:
            found[entry_id] = UsedSpan(datetime.fromisoformat(metadata[USED_FROM]),
                                       datetime.fromisoformat(metadata[USED_UNTIL]))
        else:
            older.append(entry_id)
    if older:
        for entry_id, first, last in (
                UsageEvent.objects.filter(entry_id__in=older).order_by().values("entry_id")
                .annotate(first=Min("occurred_at"), last=Max("occurred_at"))
                .values_list("entry_id", "first", "last")):
            found[entry_id] = UsedSpan(first, last)
    return found
