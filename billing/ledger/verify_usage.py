"""verify_ledger's checks of usage evidence (invariant 8 of docs/ledger.md).

A per-charge usage entry commits to its events by a digest in its metadata, which its
keyed hash covers: the events that point at it must give the same digest, count and
credits (in events-v3, their breakdowns as stored too). An older entry of one event is
checked on its credits. The high-volume tables' references to reference data have no
database constraint, so they are checked here to point somewhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from django.db import connection
from django.db.models import Exists, OuterRef, Q, TextField
from django.db.models.functions import Cast

from accounts.models import ApiKey, User
from billing.ledger.usage_charges import (
    EVENTS,
    EVENTS_DIGEST,
    EVENTS_VERSION,
    PRICED_DIGEST_VERSION,
    SEPARATED_DIGEST_VERSION,
    breakdown_digest,
    event_line,
    events_digest,
    priced_event_line,
)
from billing.models import AIModel, CreditAccount, LedgerEntry, Meter, UsageEvent

_EVENT_COLUMNS = ("entry_id", "idempotency_key", "type", "resource", "input_tokens",
                  "output_tokens", "cached_input_tokens", "cache_write_tokens",
                  "reasoning_tokens", "quantity", "credits", "ai_model_id", "meter_id",
                  "cost_usd", "markup", "credits_per_usd", "breakdown_text")
_CREDITS = _EVENT_COLUMNS.index("credits")


def _event_rows(**where):
    # The breakdown as the database writes it out (on PostgreSQL, jsonb's own text).
    return (UsageEvent.objects.filter(**where)
            .annotate(breakdown_text=Cast("breakdown", output_field=TextField())))


def events_by_entry(account) -> Iterator[tuple[int, list[tuple]]]:
    """(entry id, [event columns...]) in entry id order, streamed, for the account's org."""
    rows = (_event_rows(organization_id=account.organization_id, entry_id__isnull=False)
            .order_by("entry_id").values_list(*_EVENT_COLUMNS).iterator(chunk_size=5000))
    current, items = None, []
    for row in rows:
        if row[0] != current and current is not None:
            yield current, items
            items = []
        current = row[0]
        items.append(row)
    if current is not None:
        yield current, items


class ChargeRows:
    """A charge's events as rows of _EVENT_COLUMNS, their digest worked out here."""

    def __init__(self, rows: list[tuple]):
        self.rows = rows
        self.count = len(rows)
        self.credits = sum((row[_CREDITS] for row in rows), Decimal(0))

    def digest(self, version: str) -> str:
        if version == SEPARATED_DIGEST_VERSION:
            return events_digest([
                event_line(key=row[1], usage_type=row[2], resource=row[3], tokens=row[4:9],
                           quantity=row[9], credits=row[10]) for row in self.rows],
                SEPARATED_DIGEST_VERSION)
        # The version is in the hashed metadata: an unknown one gives no digest it holds.
        with_breakdown = version != PRICED_DIGEST_VERSION
        as_stored = connection.vendor == "postgresql"  # jsonb's text: hashed as it is
        return events_digest([
            priced_event_line(key=key, usage_type=usage_type, resource=resource,
                              model_id=model_id, meter_id=meter_id, tokens=tokens,
                              quantity=quantity, cost_usd=cost, markup=markup,
                              credits_per_usd=rate, credits=event_credits,
                              breakdown_sha256=(breakdown_digest(breakdown,
                                                                 as_stored=as_stored)
                                                if with_breakdown else None))
            for (_, key, usage_type, resource, *tokens, quantity, event_credits, model_id,
                 meter_id, cost, markup, rate, breakdown) in self.rows], version)


def rows_of_entry(entry_id: int) -> ChargeRows:
    return ChargeRows(list(_event_rows(entry_id=entry_id).order_by("pk")
                           .values_list(*_EVENT_COLUMNS)))


def entry_events_problem(entry: LedgerEntry, events) -> str | None:
    """What is wrong between a usage entry and the events pointing at it (their rows, or
    anything with their count, credits and digest(version)), or None."""
    if isinstance(events, list):
        events = ChargeRows(events)
    metadata = entry.metadata or {}
    if EVENTS_DIGEST not in metadata:  # an older entry of one event
        if events.count and events.credits != -entry.amount:
            return f"its event charged {events.credits} credits, the entry {-entry.amount}"
        return None
    if events.count != metadata.get(EVENTS):
        return f"{events.count} events point at it, its digest covers {metadata.get(EVENTS)}"
    if events.credits != -entry.amount:
        return f"its events charged {events.credits} credits, the entry {-entry.amount}"
    version = str(metadata.get(EVENTS_VERSION, SEPARATED_DIGEST_VERSION))
    if events.digest(version) != metadata[EVENTS_DIGEST]:
        return "its events differ from those its digest covers: altered"
    return None


# Each table's references to reference data with no database constraint (docs/ledger.md).
DANGLING_CHECKS = {
    UsageEvent: (("ai_model_id", AIModel), ("meter_id", Meter), ("user_id", User),
                 ("api_key_id", ApiKey)),
    LedgerEntry: (("actor_user_id", User), ("actor_api_key_id", ApiKey)),
}


def dangling_references(organization=None) -> list[str]:
    """Rows of the ledger and usage tables whose reference (model, meter, user, API key)
    points at no row: one message per table and column that has any."""
    found = (_dangling_in_one_pass if connection.vendor == "postgresql"
             else _dangling_by_column)
    messages = []
    for model, checks in DANGLING_CHECKS.items():
        for column, ids in zip([c for c, _ in checks], found(model, checks, organization),
                               strict=True):
            if ids:
                messages.append(f"{model._meta.db_table}.{column} points at no row "
                                f"(ids {', '.join(map(str, ids))}...)")
    return messages


def _scope(model, organization):
    rows = model.objects.all()
    if organization is not None:
        rows = rows.filter(**({"organization": organization} if model is UsageEvent
                              else {"account__organization": organization}))
    return rows


def _dangling_by_column(model, checks, organization) -> list[list[int]]:
    """The first three ids per column, one query each."""
    return [list(_scope(model, organization).filter(
        Q(**{f"{column}__isnull": False}) & ~Exists(target.objects.filter(pk=OuterRef(column))))
        .order_by("pk").values_list("pk", flat=True)[:3]) for column, target in checks]


def _dangling_in_one_pass(model, checks, organization) -> list[list[int]]:
    """The same in one scan of the table: each reference table joined by hash, each
    column's first three ids aggregated (ten million events: one pass instead of four)."""
    table = model._meta.db_table
    joins, picks = [], []
    for n, (column, target) in enumerate(checks):
        joins.append(f"LEFT JOIN {target._meta.db_table} t{n} ON t{n}.id = r.{column}")
        dangling = f"r.{column} IS NOT NULL AND t{n}.id IS NULL"
        picks.append((f"(array_agg(r.id ORDER BY r.id) FILTER (WHERE {dangling}))[1:3]",
                      dangling))
    where, params = "", []
    if organization is not None:
        if model is UsageEvent:
            where, params = "WHERE r.organization_id = %s", [organization.pk]
        else:
            where = (f"WHERE r.account_id IN (SELECT id FROM "
                     f"{CreditAccount._meta.db_table} WHERE organization_id = %s)")
            params = [organization.pk]
    anything = " OR ".join(f"({dangling})" for _, dangling in picks)
    sql = (f"SELECT {', '.join(pick for pick, _ in picks)} FROM {table} r {' '.join(joins)} "
           f"{where} {'AND' if where else 'WHERE'} ({anything})")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [ids or [] for ids in cursor.fetchone()]
