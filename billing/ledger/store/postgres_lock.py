"""Taking an organisation's account lock, and what a book reads with it.

Every charge of one org queues on its account row, so each round trip made
while the lock is held is paid by every request behind it. On PostgreSQL the
lock and the book's first reads (its live grants, and the caller's `reads`,
e.g. the known keys of a usage batch) go to the server as ONE multi-statement
query: the server runs the reads the moment it grants the lock, with no
client round trip in between. Each statement of it takes its own snapshot
(READ COMMITTED), so the reads see everything the previous lock holder
committed. A single statement with the lock in a CTE would not: its snapshot
is taken before it waits for the lock, and it would miss the grants and keys
written meanwhile.

Elsewhere (SQLite) the lock is the ORM's SELECT ... FOR UPDATE (a no-op
there: SQLite's IMMEDIATE transactions serialize writers) and the reads
run one by one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection

from billing.ledger import prepared
from billing.ledger.store import copy_format as bulk
from billing.models import CreditAccount, CreditGrant

_ACCOUNT_FIELDS = CreditAccount._meta.concrete_fields
_GRANT_FIELDS = CreditGrant._meta.concrete_fields


def _columns(fields, alias: str) -> str:
    return ", ".join(f"{alias}.{connection.ops.quote_name(f.column)}" for f in fields)


def _lock_statements() -> tuple[str, str]:
    """The lock, and the live grants, by organisation (the account's id is not known yet).
    The grants are read unordered: the book applies the burn order in Python."""
    account = CreditAccount._meta.db_table
    grant = CreditGrant._meta.db_table
    return (
        f"SELECT {_columns(_ACCOUNT_FIELDS, 'a')} FROM {account} AS a "
        f"WHERE a.organization_id = %s FOR UPDATE",
        f"SELECT {_columns(_GRANT_FIELDS, 'g')} FROM {grant} AS g "
        f"JOIN {account} AS a ON a.id = g.account_id "
        f"WHERE a.organization_id = %s AND g.expired_at IS NULL",
    )


_LOCK_STATEMENTS: tuple[str, str] | None = None  # built once per process


@dataclass
class Locked:
    """The locked account, its live grants (unordered), and the rows of each read."""

    account: CreditAccount
    grants: list[CreditGrant] | None = None  # None: not read (the book loads them itself)
    read_rows: list[list[tuple]] = field(default_factory=list)


def ensure_account(*, organization) -> CreditAccount:
    """The org's credit account, created if it has none: the only code that creates one.

    Runs when an organisation is created (so staff can adjust it at once) and on
    the first posting of an org that predates billing or skipped signals.
    """
    # get_or_create creates in a savepoint and re-reads when a concurrent creator won.
    account, _ = CreditAccount.objects.get_or_create(organization=organization)
    return account


def open_account_of_new_organization(sender, instance, created, raw=False, **kwargs) -> None:
    """post_save receiver for accounts.Organization (connected in billing/apps.py)."""
    if created and not raw:
        ensure_account(organization=instance)


def lock_account(organization, *, reads=()) -> Locked:
    """Lock the org's account row (created on first use) inside the caller's transaction.

    `reads`: (sql, params) statements answered with the lock; their rows come back in
    `Locked.read_rows`, in order. On PostgreSQL they share the lock's round trip."""
    if bulk.copy_usable():
        locked = _lock_and_read(organization.pk, reads)
        if locked is None:
            ensure_account(organization=organization)
            locked = _lock_and_read(organization.pk, reads)
        return locked
    query = CreditAccount.objects.select_for_update().filter(organization_id=organization.pk)
    account = query.order_by().first()
    if account is None:
        ensure_account(organization=organization)
        account = query.order_by().first()
    rows = []
    with connection.cursor() as cursor:
        for sql, params in reads:
            cursor.execute(sql, params)
            rows.append(cursor.fetchall())
    return Locked(account=account, read_rows=rows)


def _lock_and_read(organization_id: int, reads) -> Locked | None:
    global _LOCK_STATEMENTS
    if _LOCK_STATEMENTS is None:
        _LOCK_STATEMENTS = _lock_statements()
    params = [organization_id, organization_id]
    for _, read_params in reads:
        params += read_params
    alias = connection.alias
    with connection.cursor() as cursor:
        # One simple-protocol query (psycopg binds the parameters client-side), one
        # result set per statement; each prepared on the connection once.
        sql = "; ".join(prepared.statement(cursor, statement) for statement in
                        [*_LOCK_STATEMENTS, *(statement for statement, _ in reads)])
        cursor.execute(sql, params)
        account_row = cursor.fetchone()
        if account_row is None:
            return None
        cursor.nextset()
        grants = [CreditGrant.from_db(alias, None, row) for row in cursor.fetchall()]
        read_rows = []
        for _ in reads:
            cursor.nextset()
            read_rows.append(cursor.fetchall())
    return Locked(account=CreditAccount.from_db(alias, None, account_row), grants=grants,
                  read_rows=read_rows)
