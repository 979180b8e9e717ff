"""One-statement flush of a small book on PostgreSQL.

A single charge otherwise costs four round trips while the account row is
locked (entry, allocations, grants, account). Data-modifying CTEs do all four
in one statement, so the lock is held for less time and one org's single
events queue for less.
"""

import json

from django.db import connection

from billing.models import CreditAccount, CreditGrant, GrantAllocation, LedgerEntry

ENTRY_FIELDS = [f for f in LedgerEntry._meta.concrete_fields if not f.primary_key]


def usable() -> bool:
    return connection.vendor == "postgresql"


def _values(rows, casts) -> tuple[str, list]:
    row_sql = "(" + ", ".join(f"%s::{c}" for c in casts) + ")"
    params = [value for row in rows for value in row]
    return ", ".join([row_sql] * len(rows)), params


def _entry_value(entry, field):
    value = getattr(entry, field.attname)
    return json.dumps(value, default=str) if field.attname == "metadata" else value


def flush(*, account: CreditAccount, pending, dirty_grants, balance, last_hash, seq, now):
    q = connection.ops.quote_name
    params: list = []
    ctes = []
    entries = [p.entry for p in pending]
    if entries:
        columns = ", ".join(q(f.column) for f in ENTRY_FIELDS)
        row = "(" + ", ".join("%s::jsonb" if f.attname == "metadata" else "%s"
                              for f in ENTRY_FIELDS) + ")"
        ctes.append(f"e AS (INSERT INTO {q(LedgerEntry._meta.db_table)} ({columns}) "
                    f"VALUES {', '.join([row] * len(entries))} RETURNING id, seq)")
        params += [_entry_value(e, f) for e in entries for f in ENTRY_FIELDS]
        allocations = [(p.entry.seq, grant.pk, delta) for p in pending
                       for grant, delta in p.allocations]
        if allocations:
            values, values_params = _values(allocations, ("bigint", "bigint", "numeric"))
            ctes.append(
                f"a AS (INSERT INTO {q(GrantAllocation._meta.db_table)} "
                f"(entry_id, grant_id, amount) SELECT e.id, v.grant_id, v.amount "
                f"FROM (VALUES {values}) AS v(seq, grant_id, amount) JOIN e ON e.seq = v.seq)")
            params += values_params
    if dirty_grants:
        values, values_params = _values(
            [(g.pk, g.remaining, g.expired_at) for g in dirty_grants],
            ("bigint", "numeric", "timestamptz"))
        ctes.append(
            f"g AS (UPDATE {q(CreditGrant._meta.db_table)} AS g SET remaining = v.remaining, "
            f"expired_at = v.expired_at FROM (VALUES {values}) AS v(id, remaining, expired_at) "
            f"WHERE g.id = v.id)")
        params += values_params
    ctes.append(
        f"acc AS (UPDATE {q(CreditAccount._meta.db_table)} SET balance = %s, last_hash = %s, "
        f"entry_count = %s, updated_at = %s WHERE id = %s)")
    params += [balance, last_hash, seq, now, account.pk]
    final = "SELECT id, seq FROM e" if entries else "SELECT NULL, NULL"
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(ctes)} {final}", params)
        ids = dict((seq_, id_) for id_, seq_ in cursor.fetchall()) if entries else {}
    for entry in entries:
        entry.pk = ids[entry.seq]
        entry._state.adding = False
        entry._state.db = connection.alias
