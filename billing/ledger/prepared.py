"""Statements prepared once per database connection (PostgreSQL's PREPARE / EXECUTE).

Django's psycopg backend binds parameters client-side, so the server parses and
plans every statement afresh. The charge path's statements run while the
account lock is held (the lock with its reads, and the one write: a handful of
data-modifying CTEs with 60-odd values), and planning them cost PostgreSQL
more than running them. Prepared once on a connection, each charge sends
`EXECUTE name(values)`: no parsing of the statement, and a cached plan.

Off when `DATABASE_PREPARED_STATEMENTS` is False: a pooler in transaction mode
(PgBouncer) hands each transaction another server connection, where the
statement was never prepared.
"""

from __future__ import annotations

import hashlib
import re
from weakref import WeakKeyDictionary

from django.conf import settings
from psycopg.adapt import Transformer

# Each prepared statement keeps its plan in the server process. Batches of 2 to 49
# events each have a write of their own shape: the first shapes a connection meets (a
# busy org's single events among them) are prepared, the rest run as plain text.
MAX_PER_CONNECTION = 32

# The names prepared on each (psycopg) connection: a new connection starts empty.
_PREPARED: WeakKeyDictionary = WeakKeyDictionary()
_PLACEHOLDER = re.compile(r"%s")
_FORMS: dict[str, tuple[str, str, str]] = {}  # sql -> (name, PREPARE text, EXECUTE text)


def usable() -> bool:
    return settings.DATABASE_PREPARED_STATEMENTS


def statement(cursor, sql: str) -> str:
    """What to execute for `sql` with its client-side bound parameters: `sql` itself, or
    an EXECUTE of it prepared on this cursor's connection (now, if it is not yet). `sql`
    takes its parameters as `%s`, and holds no literal `%`."""
    if not usable() or "%%" in sql:  # a literal % would be numbered as a parameter
        return sql
    name, prepare, execute = _forms(sql)
    names = _PREPARED.setdefault(cursor.cursor.connection, set())
    if name not in names:
        if len(names) >= MAX_PER_CONNECTION:
            return sql
        cursor.execute(prepare)
        names.add(name)
    return execute


def bound(cursor, sql: str, params: list) -> tuple[str, list | None]:
    """(query, parameters) to execute `sql` with `params`: when it is prepared, its EXECUTE
    with the values already written in as literals (and no parameters left), as psycopg's
    client-side binding writes them. psycopg caches its parse of a query's placeholders
    only up to 50 parameters, and re-parsing the write's 70-odd cost the app more than
    anything else it does under the lock."""
    query = statement(cursor, sql)
    if query is sql or not params:
        return query, params
    literal, encoding = Transformer(cursor.cursor).as_literal, cursor.connection.info.encoding
    values = ", ".join([literal(value).decode(encoding) if value is not None else "NULL"
                        for value in params])
    return f"EXECUTE {_forms(sql)[0]}({values})", None


def _forms(sql: str) -> tuple[str, str, str]:
    forms = _FORMS.get(sql)
    if forms is None:
        name = "billing_" + hashlib.blake2b(sql.encode(), digest_size=8).hexdigest()
        numbers = iter(range(1, sql.count("%s") + 1))
        numbered = _PLACEHOLDER.sub(lambda _: f"${next(numbers)}", sql)
        arguments = ", ".join(["%s"] * sql.count("%s"))
        forms = (name, f"PREPARE {name} AS {numbered}",
                 f"EXECUTE {name}({arguments})" if arguments else f"EXECUTE {name}")
        if len(_FORMS) >= 512:  # statements are few; a bound all the same
            _FORMS.clear()
        _FORMS[sql] = forms
    return forms
