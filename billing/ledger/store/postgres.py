"""The store on PostgreSQL: the lock and its reads in one round trip; a small book
written by one statement, a large one streamed by COPY.

Every charge of one org queues on its account row, so each round trip made while
the lock is held is paid by every request behind it (docs/architecture.md, "The
ledger's store"). The lock and the reads go to the server as one multi-statement
query: each statement takes its own snapshot once the one before it returned, so
the reads see everything the previous holder committed (a single statement with
the lock in a CTE would not: its snapshot predates the wait).
"""

from __future__ import annotations

from dataclasses import replace

from django.db import connection

from billing.ledger.store import copy_format, one_statement, orm
from billing.ledger.store.interface import AddedTotals, Changes, LinkedRows, Locked, LockRead
from billing.ledger.store.orm import OrmStore, update_grants_and_account
from billing.models import CreditAccount, CreditGrant, GrantAllocation, LedgerEntry

# Below this many entries (or linked rows), one INSERT is fewer round trips than COPY.
COPY_THRESHOLD = 50

_ENTRY_FIELDS = list(LedgerEntry._meta.concrete_fields)
_ENTRY_NAMES = tuple(f.attname for f in _ENTRY_FIELDS)
_ALLOCATION_FIELDS = [GrantAllocation._meta.get_field(n) for n in ("entry", "grant", "amount")]


def _columns(model, alias: str) -> str:
    return ", ".join(f"{alias}.{connection.ops.quote_name(f.column)}"
                     for f in model._meta.concrete_fields)


def _lock_statements() -> tuple[str, str, str]:
    """The lock, the live grants and the entries of some keys, by organisation (the
    account's id is not known before the lock)."""
    account, grant = CreditAccount._meta.db_table, CreditGrant._meta.db_table
    entry = LedgerEntry._meta.db_table
    return (
        f"SELECT {_columns(CreditAccount, 'a')} FROM {account} AS a "
        f"WHERE a.organization_id = %s FOR UPDATE",
        f"SELECT {_columns(CreditGrant, 'g')} FROM {grant} AS g "
        f"JOIN {account} AS a ON a.id = g.account_id "
        f"WHERE a.organization_id = %s AND g.expired_at IS NULL",
        f"SELECT {_columns(LedgerEntry, 'l')} FROM {entry} AS l "
        f"JOIN {account} AS a ON a.id = l.account_id "
        f"WHERE a.organization_id = %s AND l.idempotency_key = ANY(%s)",
    )


_LOCK_STATEMENTS: tuple[str, str, str] | None = None  # built once per process


class PostgresStore(OrmStore):
    def lock(self, organization_id: int, *, keys: list[str],
             reads: list[LockRead]) -> Locked | None:
        global _LOCK_STATEMENTS
        if _LOCK_STATEMENTS is None:
            _LOCK_STATEMENTS = _lock_statements()
        lock, grants, entries = _LOCK_STATEMENTS
        statements, params = [lock, grants], [organization_id, organization_id]
        if keys:
            statements.append(entries)
            params += [organization_id, list(keys)]
        for read in reads:
            statements.append(_read_sql(read))
            params += [value for _, value in read.where]
        alias = connection.alias
        with connection.cursor() as cursor:
            # One simple-protocol query (parameters bound client-side), a result set each.
            cursor.execute("; ".join(statements), params)
            account_row = cursor.fetchone()
            if account_row is None:
                return None
            cursor.nextset()
            locked = Locked(account=CreditAccount.from_db(alias, None, account_row),
                            grants=[CreditGrant.from_db(alias, None, row)
                                    for row in cursor.fetchall()])
            if keys:
                cursor.nextset()
                for row in cursor.fetchall():
                    entry = LedgerEntry.from_db(alias, None, row)
                    locked.entries[entry.idempotency_key] = entry
            for read in reads:
                cursor.nextset()
                locked.rows[read] = cursor.fetchall()
        return locked

    def encode_ahead(self, rows: list[list], ahead: int) -> list[str] | None:
        if len(rows) < COPY_THRESHOLD:
            return None
        return [copy_format.text_row(row[:ahead]) for row in rows]

    def write(self, changes: Changes) -> None:
        if len(changes.pending) >= COPY_THRESHOLD:
            self._copy_entries(changes)
            update_grants_and_account(changes)
        elif changes.pending and any(len(linked.rows) >= COPY_THRESHOLD
                                     for linked in changes.linked):
            # A usage charge of many events: its entry (and the grants, the account) by the
            # one statement, then its events streamed by COPY and the totals upserted.
            self._write_small(replace(changes, linked=[], totals=[], last=False))
        elif changes.pending:
            self._write_small(changes)
            return  # the linked rows and totals went with it
        elif changes.grants:
            update_grants_and_account(changes)
        self.write_areas_rows(changes)

    def _write_small(self, changes: Changes) -> None:
        ids = one_statement.write(changes)
        for pending in changes.pending:
            _saved_as(pending.entry, ids[pending.entry.seq])

    def _copy_entries(self, changes: Changes) -> None:
        """Ids drawn from the sequence first (sorted, so id order stays posting order),
        because COPY returns nothing; then the entries and their allocations."""
        entries = [p.entry for p in changes.pending]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [LedgerEntry._meta.db_table, len(entries)])
            ids = sorted(row[0] for row in cursor.fetchall())
        for entry, entry_id in zip(entries, ids, strict=True):
            _saved_as(entry, entry_id)
        copy_format.copy_rows(LedgerEntry, _ENTRY_FIELDS,
                              (one_statement.entry_values(p, _ENTRY_NAMES)
                               for p in changes.pending))
        copy_format.copy_rows(GrantAllocation, _ALLOCATION_FIELDS,
                              ((p.entry.pk, grant.pk, delta) for p in changes.pending
                               for grant, delta in p.allocations))

    def insert_linked(self, linked: LinkedRows) -> None:
        if not linked.rows:
            return
        fields = [linked.model._meta.get_field(name) for name in linked.columns]
        ahead, links = linked.ahead, [e.pk if e is not None else None for e in linked.entries]
        if None not in linked.heads:
            lines = [f"{head}\t{copy_format.text_row([*row[ahead:-1], link])}\n"
                     for head, row, link in zip(linked.heads, linked.rows, links, strict=True)]
        else:
            lines = [copy_format.text_row([*row[:-1], link]) + "\n"
                     for row, link in zip(linked.rows, links, strict=True)]
        copy_format.copy_text(linked.model, fields, lines)

    def add_totals(self, totals: AddedTotals) -> None:
        if totals.rows:
            with connection.cursor() as cursor:
                cursor.execute(*orm.totals_upsert_arrays(totals, sorted(totals.rows.items())))


_READS: dict[tuple, str] = {}  # a LockRead's SQL by its shape: built once per process


def _read_sql(read: LockRead) -> str:
    shape = (read.model, read.columns,
             tuple((name, isinstance(value, list)) for name, value in read.where))
    sql = _READS.get(shape)
    if sql is None:
        q = connection.ops.quote_name
        joins: dict[str, str] = {}

        def column(name: str) -> str:
            """`t.column`, or `relation.column` across one foreign key (joined once)."""
            if "__" not in name:
                return f"t.{q(read.model._meta.get_field(name).column)}"
            relation, field_name = name.split("__")
            foreign_key = read.model._meta.get_field(relation)
            related = foreign_key.related_model
            alias = f"r_{relation}"
            joins[relation] = (f"JOIN {q(related._meta.db_table)} AS {alias} "
                               f"ON {alias}.{q(related._meta.pk.column)} = "
                               f"t.{q(foreign_key.column)}")
            return f"{alias}.{q(related._meta.get_field(field_name).column)}"

        selected = ", ".join(column(name) for name in read.columns)
        conditions = " AND ".join(
            f"{column(name)} = ANY(%s)" if is_list else f"{column(name)} = %s"
            for name, is_list in shape[2])
        sql = (f"SELECT {selected} FROM {q(read.model._meta.db_table)} AS t "
               f"{' '.join(joins.values())} WHERE {conditions}")
        _READS[shape] = sql
    return sql


def _saved_as(entry: LedgerEntry, pk: int) -> None:
    """Mark an entry written behind the ORM's back as saved, with its id."""
    entry.pk = pk
    entry._state.adding = False
    entry._state.db = connection.alias
