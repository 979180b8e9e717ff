"""How a book's postings reach the database, fastest first; Book.flush picks one.

- Large batches on PostgreSQL: entries and allocations by COPY, ids drawn
  from the sequence first (sorted, so id order stays posting order) because
  COPY returns nothing; then grants and the account row.
- Small books on PostgreSQL (the usual single charge): one statement of
  data-modifying CTEs writes the entries, allocations, grants and account
  row, and what the caller attaches (the usage events and their rollup), so
  the account lock is held for one round trip instead of six; when nothing
  follows it, the transaction's COMMIT is sent in the same query.
- Elsewhere (SQLite, the demo): the ORM's bulk_create and updates.
"""

from django.db import connection

from billing.ledger import prepared
from billing.ledger.store import copy_format as bulk
from billing.models import CreditAccount, CreditGrant, GrantAllocation, LedgerEntry

# Below this, one INSERT ... RETURNING is fewer round trips than nextval + COPY.
COPY_THRESHOLD = 50

ENTRY_FIELDS = [f for f in LedgerEntry._meta.concrete_fields if not f.primary_key]
ENTRY_FIELDS_WITH_ID = list(LedgerEntry._meta.concrete_fields)
ENTRY_NAMES = tuple(f.attname for f in ENTRY_FIELDS)
ENTRY_NAMES_WITH_ID = tuple(f.attname for f in ENTRY_FIELDS_WITH_ID)
ALLOCATION_FIELDS = [GrantAllocation._meta.get_field(n) for n in ("entry", "grant", "amount")]


def use_copy(count: int) -> bool:
    return bulk.copy_usable() and count >= COPY_THRESHOLD


def use_one_statement() -> bool:
    return bulk.copy_usable()


def copy_entries(pending) -> None:
    """Insert the entries and allocations of `pending` (list of drafts.Pending) by COPY."""
    entries = [p.entry for p in pending]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [LedgerEntry._meta.db_table, len(entries)],
        )
        ids = sorted(row[0] for row in cursor.fetchall())
    for entry, entry_id in zip(entries, ids, strict=True):
        _saved_as(entry, entry_id)
    bulk.copy_rows(LedgerEntry, ENTRY_FIELDS_WITH_ID,
                   (_entry_row(p, ENTRY_NAMES_WITH_ID) for p in pending))
    bulk.copy_rows(GrantAllocation, ALLOCATION_FIELDS,
                   ((p.entry.pk, grant.pk, delta) for p in pending
                    for grant, delta in p.allocations))


def write_grants_and_account(account: dict, dirty: list[CreditGrant]) -> None:
    """The grants' new remaining (and expiry), then the account row's running state."""
    if len(dirty) > 3:
        CreditGrant.objects.bulk_update(dirty, ["remaining", "expired_at"])
    else:  # a few grants: plain UPDATEs are cheaper than bulk_update's CASE
        for grant in dirty:
            CreditGrant.objects.filter(pk=grant.pk).update(
                remaining=grant.remaining, expired_at=grant.expired_at
            )
    account = dict(account)
    CreditAccount.objects.filter(pk=account.pop("id")).update(**account)


def _entry_row(pending, names: tuple[str, ...]) -> list:
    """An entry's column values; the metadata as the JSON text its hash was computed on."""
    columns = pending.entry.__dict__
    row = [columns[name] for name in names]
    row[names.index("metadata")] = (
        bulk.JsonText(pending.metadata_text) if pending.metadata_text is not None
        else bulk.json_text(pending.entry.metadata))
    return row


def write_in_one_statement(*, account: CreditAccount, pending, dirty_grants, balance,
                           last_hash, seq, now, attached=(), commit: bool = False) -> None:
    """`attached`: (sql, params) of further writes made by the same statement (the usage
    events and their rollup); each may read the new entries' ids as `e(id, seq)`.
    `commit`: end the transaction in the same query (Book.flush's `last`). Its COMMIT
    runs only if the write succeeded: an error stops the query string there, and the
    caller's atomic block rolls back as usual."""
    entries = [p.entry for p in pending]
    params: list = [value for p in pending for value in _entry_row(p, ENTRY_NAMES)]
    allocations = [(p.entry.seq, grant.pk, delta) for p in pending
                   for grant, delta in p.allocations]
    for allocation in allocations:
        params += allocation
    for _, attached_params in attached:
        params += attached_params
    for grant in dirty_grants:
        params += (grant.pk, grant.remaining, grant.expired_at)
    params += [balance, last_hash, seq, now, account.pk]
    sql = _one_statement_sql(len(entries), len(allocations),
                             tuple(sql for sql, _ in attached), len(dirty_grants))
    with connection.cursor() as cursor:
        sql, params = prepared.bound(cursor, sql, params)
        if commit:
            sql += "; COMMIT"  # one simple-protocol query: the values are bound client-side
        cursor.execute(sql, params)
        ids = dict((seq_, id_) for id_, seq_ in cursor.fetchall()) if entries else {}
    for entry in entries:
        _saved_as(entry, ids[entry.seq])


# The statement's text depends only on its shape (how many entries, allocations and grants,
# and the attached statements' text): built once per shape, not per charge.
_ONE_STATEMENT_SQL: dict[tuple, str] = {}


def _one_statement_sql(entries: int, allocations: int, attached: tuple[str, ...],
                       dirty_grants: int) -> str:
    key = (entries, allocations, attached, dirty_grants)
    sql = _ONE_STATEMENT_SQL.get(key)
    if sql is not None:
        return sql
    q = connection.ops.quote_name
    ctes = []
    if entries:
        columns = ", ".join(q(f.column) for f in ENTRY_FIELDS)
        row = "(" + ", ".join("%s::jsonb" if f.attname == "metadata" else "%s"
                              for f in ENTRY_FIELDS) + ")"
        ctes.append(f"e AS (INSERT INTO {q(LedgerEntry._meta.db_table)} ({columns}) "
                    f"VALUES {', '.join([row] * entries)} RETURNING id, seq)")
        if allocations:
            ctes.append(
                f"a AS (INSERT INTO {q(GrantAllocation._meta.db_table)} "
                f"(entry_id, grant_id, amount) SELECT e.id, v.grant_id, v.amount "
                f"FROM (VALUES {_values(allocations, ('bigint', 'bigint', 'numeric'))}) "
                f"AS v(seq, grant_id, amount) JOIN e ON e.seq = v.seq)")
    for number, attached_sql in enumerate(attached):
        ctes.append(f"w{number} AS ({attached_sql})")
    if dirty_grants:
        values = _values(dirty_grants, ("bigint", "numeric", "timestamptz"))
        ctes.append(
            f"g AS (UPDATE {q(CreditGrant._meta.db_table)} AS g SET remaining = v.remaining, "
            f"expired_at = v.expired_at FROM (VALUES {values}) AS v(id, remaining, expired_at) "
            f"WHERE g.id = v.id)")
    ctes.append(
        f"acc AS (UPDATE {q(CreditAccount._meta.db_table)} SET balance = %s, last_hash = %s, "
        f"entry_count = %s, updated_at = %s WHERE id = %s)")
    final = "SELECT id, seq FROM e" if entries else "SELECT NULL, NULL"
    sql = f"WITH {', '.join(ctes)} {final}"
    if len(_ONE_STATEMENT_SQL) >= 256:  # shapes are few; a bound all the same
        _ONE_STATEMENT_SQL.clear()
    _ONE_STATEMENT_SQL[key] = sql
    return sql


def _values(count: int, casts) -> str:
    row_sql = "(" + ", ".join(f"%s::{c}" for c in casts) + ")"
    return ", ".join([row_sql] * count)


def _saved_as(entry: LedgerEntry, pk: int) -> None:
    """Mark an entry written behind the ORM's back as saved, with its id."""
    entry.pk = pk
    entry._state.adding = False
    entry._state.db = connection.alias
