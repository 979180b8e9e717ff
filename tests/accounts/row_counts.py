"""Row counts of every table, to show that a refused command wrote nothing."""

import functools

from django.apps import apps
from django.db import connection


@functools.cache
def _counting_sql() -> tuple[str, tuple[str, ...]]:
    # An unmanaged model (a permission holder) has no table; a proxy counts its concrete one.
    models = [model for model in apps.get_models() if model._meta.managed]
    quote = connection.ops.quote_name
    selects = [f"SELECT %s, COUNT(*) FROM {quote(model._meta.db_table)}" for model in models]
    return " UNION ALL ".join(selects), tuple(model._meta.label for model in models)


def row_counts() -> dict[str, int]:
    """Every managed model's row count, read in one statement rather than one per model."""
    sql, labels = _counting_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, labels)
        counts = dict(cursor.fetchall())
    assert set(counts) == set(labels)
    return counts
