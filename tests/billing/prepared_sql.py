"""Reading the statements the charge path sent, with its prepared write written out
(billing/ledger/store/one_statement.py sends `EXECUTE name(values)` for a write prepared
once per connection)."""

import re

from django.db import connection

_EXECUTE = re.compile(r"EXECUTE (ledger_write_\w+)(?:\((?:[^()']|'[^']*')*\))?")


def as_written(query: str) -> str:
    """`query` with each EXECUTE replaced by the text prepared under its name on this
    connection (the values stay out: the text keeps its $1, $2, ...)."""
    return _EXECUTE.sub(lambda match: prepared_text(match.group(1)), query)


def prepared_text(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE name = %s", [name])
        row = cursor.fetchone()
    assert row is not None, f"{name} is not prepared on this connection"
    return row[0].removeprefix(f"PREPARE {name} AS ")


def sent(captured) -> list[str]:
    """The queries of a CaptureQueriesContext as written, without the PREPAREs (made once
    per connection, not a round trip of each charge)."""
    return [as_written(q["sql"]) for q in captured.captured_queries
            if not q["sql"].startswith("PREPARE ")]
