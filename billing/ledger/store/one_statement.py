"""A small book on PostgreSQL written by one statement of data-modifying CTEs: the
entries, their allocations, the areas' linked rows and totals, the grants and the
account row, so the account lock is held for one round trip instead of six. When
nothing follows in a transaction the book owns, its COMMIT goes in the same query.
"""

from __future__ import annotations

import hashlib
import re
from weakref import WeakKeyDictionary

from django.conf import settings
from django.db import connection
from psycopg.adapt import Transformer

from billing.ledger.store import orm
from billing.ledger.store.copy_format import JsonText, db_value
from billing.ledger.store.interface import Changes, LinkedRows
from billing.models import CreditAccount, CreditGrant, GrantAllocation, LedgerEntry

_ENTRY_FIELDS = [f for f in LedgerEntry._meta.concrete_fields if not f.primary_key]
_ENTRY_NAMES = tuple(f.attname for f in _ENTRY_FIELDS)


def entry_values(pending, names: tuple[str, ...]) -> list:
    """An entry's column values; the metadata as the JSON text its hash was computed on."""
    columns = pending.entry.__dict__
    values = [columns[name] for name in names]
    values[names.index("metadata")] = JsonText(pending.metadata_text)
    return values


def write(changes: Changes) -> dict[int, int]:
    """Write `changes` (at least one entry); the new entries' ids by their seq. With
    `changes.last` the query ends in COMMIT, which runs only if the write succeeded: an
    error stops the query there, and the caller's atomic block rolls back as usual."""
    pending = changes.pending
    params: list = [value for p in pending for value in entry_values(p, _ENTRY_NAMES)]
    allocations = [(p.entry.seq, grant.pk, delta) for p in pending
                   for grant, delta in p.allocations]
    for allocation in allocations:
        params += allocation
    for linked in changes.linked:
        params += _linked_params(linked)
    totals_parts = []
    for totals in changes.totals:
        sql, totals_params = orm.totals_upsert(totals, sorted(totals.rows.items()))
        totals_parts.append(sql)
        params += totals_params
    for grant in changes.grants:
        params += (grant.pk, grant.remaining, grant.expired_at)
    params += [changes.balance, changes.last_hash, changes.entry_count, changes.now,
               changes.account.pk]
    sql = _statement(len(pending), len(allocations),
                     tuple((linked.model, linked.columns, len(linked.rows))
                           for linked in changes.linked if linked.rows),
                     tuple(totals_parts), len(changes.grants))
    with connection.cursor() as cursor:
        query = _executed(cursor, sql, params)
        if changes.last:
            query += "; COMMIT"  # one simple-protocol query
        cursor.execute(query)
        return {seq: entry_id for entry_id, seq in cursor.fetchall()}


# The statements prepared on each psycopg connection (a new connection starts empty).
_PREPARED: WeakKeyDictionary = WeakKeyDictionary()
MAX_PREPARED = 32  # per connection: batches of 2 to 49 entries each have a shape


def _executed(cursor, sql: str, params: list) -> str:
    """What to send for `sql` with `params`: an EXECUTE of it prepared on this connection
    (prepared now if it is not yet), its values written in as literals. The write's plan
    depends on no table's size (inserts, and updates by primary key), so a plan made once
    stays right, and PostgreSQL does not plan it under the lock at every charge. The
    values are written in as psycopg's client-side binding writes them: psycopg caches its
    parse of a query's placeholders only up to 50 parameters, and the write has more."""
    name = "ledger_write_" + hashlib.blake2b(sql.encode(), digest_size=8).hexdigest()
    prepared = _PREPARED.setdefault(cursor.connection, set())
    if name not in prepared:
        if len(prepared) >= MAX_PREPARED or not settings.DATABASE_PREPARED_STATEMENTS:
            name = None
        else:
            numbers = iter(range(1, sql.count("%s") + 1))
            cursor.execute(f"PREPARE {name} AS " + re.sub("%s", lambda _: f"${next(numbers)}",
                                                          sql))
            prepared.add(name)
    literal, encoding = Transformer(cursor.cursor).as_literal, cursor.connection.info.encoding
    texts = [literal(value).decode(encoding) if value is not None else "NULL"
             for value in params]
    if name is None:  # past the bound: the statement itself, with its literals
        parts = sql.split("%s")
        return "".join([p for pair in zip(parts, [*texts, ""], strict=True) for p in pair])
    return f"EXECUTE {name}({', '.join(texts)})"


def _linked_params(linked: LinkedRows) -> list:
    """Each row's values but its link, then the seq of its entry (None: no entry)."""
    if not linked.rows:
        return []
    fields = [linked.model._meta.get_field(name) for name in linked.columns[:-1]]
    params = []
    for row, entry in zip(linked.rows, linked.entries, strict=True):
        params += [db_value(f, value) for f, value in zip(fields, row, strict=False)]
        params.append(entry.seq if entry is not None else None)
    return params


# The statement's text depends only on its shape: built once per shape, not per charge.
_STATEMENTS: dict[tuple, str] = {}


def _statement(entries: int, allocations: int, linked: tuple, totals: tuple[str, ...],
               grants: int) -> str:
    key = (entries, allocations, linked, totals, grants)
    sql = _STATEMENTS.get(key)
    if sql is not None:
        return sql
    q = connection.ops.quote_name
    columns = ", ".join(q(f.column) for f in _ENTRY_FIELDS)
    row = "(" + ", ".join("%s::jsonb" if f.attname == "metadata" else "%s"
                          for f in _ENTRY_FIELDS) + ")"
    ctes = [f"e AS (INSERT INTO {q(LedgerEntry._meta.db_table)} ({columns}) "
            f"VALUES {', '.join([row] * entries)} RETURNING id, seq)"]
    if allocations:
        ctes.append(
            f"a AS (INSERT INTO {q(GrantAllocation._meta.db_table)} "
            f"(entry_id, grant_id, amount) SELECT e.id, v.grant_id, v.amount "
            f"FROM (VALUES {_values(allocations, ('bigint', 'bigint', 'numeric'))}) "
            f"AS v(seq, grant_id, amount) JOIN e ON e.seq = v.seq)")
    for number, (model, names, count) in enumerate(linked):
        ctes.append(f"r{number} AS ({_linked_insert(model, names, count)})")
    for number, totals_statement in enumerate(totals):
        ctes.append(f"t{number} AS ({totals_statement})")
    if grants:
        values = _values(grants, ("bigint", "numeric", "timestamptz"))
        ctes.append(
            f"g AS (UPDATE {q(CreditGrant._meta.db_table)} AS g SET remaining = v.remaining, "
            f"expired_at = v.expired_at FROM (VALUES {values}) AS v(id, remaining, expired_at) "
            f"WHERE g.id = v.id)")
    ctes.append(
        f"acc AS (UPDATE {q(CreditAccount._meta.db_table)} SET balance = %s, last_hash = %s, "
        f"entry_count = %s, updated_at = %s WHERE id = %s)")
    sql = f"WITH {', '.join(ctes)} SELECT id, seq FROM e"
    if len(_STATEMENTS) >= 256:  # shapes are few; a bound all the same
        _STATEMENTS.clear()
    _STATEMENTS[key] = sql
    return sql


def _linked_insert(model, names: tuple[str, ...], count: int) -> str:
    """Rows of `model` whose link (the last of `names`) is the id of the new entry whose
    seq each row carries."""
    q = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in names]
    row = ("(" + ", ".join(f"%s::{f.cast_db_type(connection)}" for f in fields[:-1])
           + ", %s::bigint)")
    aliases = ", ".join(f"c{i}" for i in range(len(fields) - 1))
    return (f"INSERT INTO {q(model._meta.db_table)} ({', '.join(q(f.column) for f in fields)}) "
            f"SELECT {aliases}, e.id FROM (VALUES {', '.join([row] * count)}) "
            f"AS v({aliases}, entry_seq) LEFT JOIN e ON e.seq = v.entry_seq")


def _values(count: int, casts) -> str:
    row_sql = "(" + ", ".join(f"%s::{c}" for c in casts) + ")"
    return ", ".join([row_sql] * count)
