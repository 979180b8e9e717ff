"""The store through Django's ORM, for every database (SQLite in the demo and the
mutation run); the PostgreSQL store builds on it. The lock is SELECT ... FOR
UPDATE (a no-op on SQLite, whose IMMEDIATE transactions serialize writers); the
reads run one by one once it is held; writes are bulk_create and updates, and the
totals one INSERT ... ON CONFLICT DO UPDATE that adds each measure to the stored
one (PostgreSQL and SQLite share the syntax; bulk_create(update_conflicts=True)
would replace the totals instead).
"""

from __future__ import annotations

import json

from django.db import connection, models

from billing.ledger.store.copy_format import JsonText
from billing.ledger.store.interface import AddedTotals, Changes, LinkedRows, Locked, LockRead
from billing.models import CreditAccount, CreditGrant, GrantAllocation, LedgerEntry

TOTALS_CHUNK = 200  # rows per upsert: a dozen parameters each, under every backend's limit


class OrmStore:
    def lock(self, organization_id: int, *, keys: list[str],
             reads: list[LockRead]) -> Locked | None:
        account = (CreditAccount.objects.select_for_update()
                   .filter(organization_id=organization_id).order_by().first())
        if account is None:
            return None
        return Locked(account=account, grants=self.live_grants(account),
                      entries=self.entries_by_key(account, keys) if keys else {},
                      rows={read: list(read.queryset()) for read in reads})

    def live_grants(self, account: CreditAccount) -> list[CreditGrant]:
        # Unordered: the book applies the burn order in Python.
        return list(CreditGrant.objects.filter(account=account, expired_at__isnull=True)
                    .order_by())

    def entries_by_key(self, account: CreditAccount, keys: list[str]
                       ) -> dict[str, LedgerEntry]:
        return {entry.idempotency_key: entry for entry in LedgerEntry.objects.filter(
            account=account, idempotency_key__in=keys).order_by()}

    def insert_grant(self, grant: CreditGrant) -> None:
        grant.save()

    def encode_ahead(self, rows: list[list], ahead: int) -> None:
        return None

    def write(self, changes: Changes) -> None:
        if changes.pending:
            LedgerEntry.objects.bulk_create([p.entry for p in changes.pending])
            GrantAllocation.objects.bulk_create([
                GrantAllocation(entry=p.entry, grant=grant, amount=delta)
                for p in changes.pending for grant, delta in p.allocations
            ])
        if changes.pending or changes.grants:
            update_grants_and_account(changes)
        self.write_areas_rows(changes)

    def write_areas_rows(self, changes: Changes) -> None:
        """The rows the areas handed the book, once its entries have their ids."""
        for linked in changes.linked:
            self.insert_linked(linked)
        for totals in changes.totals:
            self.add_totals(totals)

    def insert_linked(self, linked: LinkedRows) -> None:
        json_columns = {f.attname for f in linked.model._meta.concrete_fields
                        if isinstance(f, models.JSONField)}
        objects = []
        for row, entry in zip(linked.rows, linked.entries, strict=True):
            values = dict(zip(linked.columns, row, strict=True))
            values[linked.link] = entry.pk if entry is not None else None
            for name in json_columns:  # JSON already encoded for the streaming store
                if isinstance(values.get(name), JsonText):
                    values[name] = json.loads(values[name])
            objects.append(linked.model(**values))
        linked.model.objects.bulk_create(objects, batch_size=500)

    def add_totals(self, totals: AddedTotals) -> None:
        # Sorted, so two transactions touching the same rows lock them in one order.
        items = sorted(totals.rows.items())
        with connection.cursor() as cursor:
            for start in range(0, len(items), TOTALS_CHUNK):
                cursor.execute(*totals_upsert(totals, items[start:start + TOTALS_CHUNK]))


def update_grants_and_account(changes: Changes) -> None:
    """The grants' new remaining (and expiry), then the account row's running state."""
    if len(changes.grants) > 3:
        CreditGrant.objects.bulk_update(changes.grants, ["remaining", "expired_at"])
    else:  # a few grants: plain UPDATEs are cheaper than bulk_update's CASE
        for grant in changes.grants:
            CreditGrant.objects.filter(pk=grant.pk).update(
                remaining=grant.remaining, expired_at=grant.expired_at)
    CreditAccount.objects.filter(pk=changes.account.pk).update(
        balance=changes.balance, last_hash=changes.last_hash,
        entry_count=changes.entry_count, updated_at=changes.now)


def _totals_parts(totals: AddedTotals) -> tuple[str, str, str]:
    table = connection.ops.quote_name(totals.model._meta.db_table)
    updates = ", ".join(f"{m} = {table}.{m} + excluded.{m}" for m in totals.measures)
    return table, ", ".join(totals.dimensions + totals.measures), updates


def totals_upsert(totals: AddedTotals, items: list[tuple[tuple, tuple]]) -> tuple[str, list]:
    """One statement adding `items` ((dimension values, measure values), sorted)."""
    table, columns, updates = _totals_parts(totals)
    width = len(totals.dimensions) + len(totals.measures)
    row = "(" + ", ".join(["%s"] * width) + ")"
    params = [value for dimensions, measures in items for value in (*dimensions, *measures)]
    return (f"INSERT INTO {table} ({columns}) VALUES {', '.join([row] * len(items))} "
            f"ON CONFLICT ({', '.join(totals.dimensions)}) DO UPDATE SET {updates}", params)


def totals_upsert_arrays(totals: AddedTotals, items: list[tuple[tuple, tuple]]) -> tuple[str, list]:
    """The same with every column as one array parameter (PostgreSQL)."""
    table, columns, updates = _totals_parts(totals)
    fields = [totals.model._meta.get_field(name) for name in
              totals.dimensions + totals.measures]
    arrays = ", ".join(f"%s::{f.cast_db_type(connection)}[]" for f in fields)
    values = [list(column) for column in zip(
        *[(*dimensions, *measures) for dimensions, measures in items], strict=True)]
    return (f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays}) "
            f"ON CONFLICT ({', '.join(totals.dimensions)}) DO UPDATE SET {updates}", values)
