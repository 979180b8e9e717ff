"""Statements prepared once per database connection (PostgreSQL's PREPARE / EXECUTE).

Django's psycopg backend binds parameters client-side, so the server parses and
plans every statement afresh. The charge path's one write (a handful of
data-modifying CTEs, 60-odd values) costs PostgreSQL more to plan than to run,
and it runs while the account lock is held. Prepared once on a connection, each
charge sends `EXECUTE name(values)`: no parsing, and a cached plan.

Off when `DATABASE_PREPARED_STATEMENTS` is False: a pooler in transaction mode
(PgBouncer) hands each transaction another server connection, where the
statement was never prepared.
"""

from __future__ import annotations

import hashlib
import re
from weakref import WeakKeyDictionary

from django.conf import settings

# The names prepared on each (psycopg) connection: a new connection starts empty.
_PREPARED: WeakKeyDictionary = WeakKeyDictionary()
_PLACEHOLDER = re.compile(r"%s")


# Each prepared statement keeps its plan in the server process. Batches of 2 to 49
# events each have a shape of their own: the first shapes a connection meets (a
# busy org's single events among them) are prepared, the rest run as plain text.
MAX_PER_CONNECTION = 32


def usable() -> bool:
    return settings.DATABASE_PREPARED_STATEMENTS


def statement(cursor, sql: str, param_count: int) -> str:
    """The statement to execute with `param_count` client-side bound parameters: `sql`
    itself, or an EXECUTE of it prepared on this cursor's connection (prepared now if
    it is not yet). `sql` takes its parameters as `%s`, with no literal `%` in it."""
    if not usable() or "%%" in sql:  # a literal % would be numbered as a parameter
        return sql
    raw = cursor.cursor.connection
    names = _PREPARED.setdefault(raw, set())
    name = "billing_" + hashlib.blake2b(sql.encode(), digest_size=8).hexdigest()
    if name not in names:
        if len(names) >= MAX_PER_CONNECTION:
            return sql
        numbers = iter(range(1, param_count + 1))
        numbered = _PLACEHOLDER.sub(lambda _: f"${next(numbers)}", sql)
        cursor.execute(f"PREPARE {name} AS {numbered}")
        names.add(name)
    return f"EXECUTE {name}({', '.join(['%s'] * param_count)})"
