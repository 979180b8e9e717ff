"""Bulk writes on PostgreSQL: COPY, and the one encoding of values for raw statements.

COPY streams rows instead of building one huge INSERT, several times faster
for the ledger's and the usage events' large batches. Values go through
`db_value`, so a JSON column is text and everything else passes as psycopg
adapts it. Callers fall back to the ORM on other databases (`copy_usable`).
"""

import json

from django.db import connection, models
from django.db.models import F, Lookup, Q


class JsonText(str):
    """JSON already encoded (e.g. before a lock is taken), passed through as it is."""


def copy_usable() -> bool:
    return connection.vendor == "postgresql"


def json_text(value) -> JsonText:
    return JsonText(json.dumps(value, default=str))


def db_value(field: models.Field, value):
    """A model field's Python value as COPY or a cast SQL parameter takes it."""
    if isinstance(field, models.JSONField) and not isinstance(value, JsonText):
        return json_text(value)
    return value


def row_of(obj: models.Model, fields) -> list:
    return [db_value(f, getattr(obj, f.attname)) for f in fields]


def copy_rows(model: type[models.Model], fields, rows) -> None:
    """COPY `rows` (sequences of values in `fields` order) into the model's table."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    statement = f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"
    with connection.cursor() as cursor:
        with cursor.cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)


class AnyOf(Lookup):
    """`column = ANY(%s)`, the values as one array parameter (PostgreSQL): for a batch's
    1,000 keys, far cheaper to build than `__in`, which prepares every value apart."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", [*lhs_params, list(self.rhs)]


def one_of(field_name: str, values: list) -> Q | AnyOf:
    """A filter: the field's value is one of `values`."""
    if copy_usable():
        return AnyOf(F(field_name), values)
    return Q(**{f"{field_name}__in": values})
