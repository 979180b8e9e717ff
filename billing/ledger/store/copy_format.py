"""COPY's text format, as PostgreSQL reads it back, and the values raw statements take.

COPY streams rows instead of building one huge INSERT, the faster way for large
batches. `text_row` writes one row in COPY's text format (escaping as
PostgreSQL reads it back), so rows can be encoded before a lock is taken.
"""

import json
import re
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from itertools import repeat
from operator import is_

from django.db import connection, models


class JsonText(str):
    """JSON already encoded (e.g. before a lock is taken), passed through as it is."""


def json_text(value) -> JsonText:
    return JsonText(json.dumps(value, default=str))


def db_value(field: models.Field, value):
    """A model field's Python value as COPY or a cast SQL parameter takes it."""
    if isinstance(field, models.JSONField) and not isinstance(value, JsonText):
        return json_text(value)
    return value


def copy_rows(model: type[models.Model], fields, rows) -> None:
    """COPY `rows` (sequences of values in `fields` order) into the model's table, in
    COPY's text format written by `text_row` (cheaper than psycopg's write_row,
    which looks up a dumper per value)."""
    copy_text(model, fields, [text_row(row) + "\n" for row in rows])


def copy_text(model: type[models.Model], fields, lines: list[str]) -> None:
    """COPY rows already written in COPY's text format (`text_row`), each ending in a
    newline: a caller can encode its rows before it takes a lock, and only send them
    while it holds it."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    statement = f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"
    with connection.cursor() as cursor:
        with cursor.cursor.copy(statement) as copy:
            for start in range(0, len(lines), 1000):
                copy.write("".join(lines[start:start + 1000]))


_SPECIAL = re.compile(r"[\\\t\n\r]")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _escape(value: str) -> str:
    return value.translate(_ESCAPES) if _SPECIAL.search(value) else value


@lru_cache(maxsize=4)  # a batch's rows share their few moments: each formatted once
def copy_moment(moment: datetime) -> str:
    """A timestamp as COPY reads it."""
    return moment.isoformat()


# COPY's text format per Python type, as PostgreSQL reads it back: the same values as
# psycopg's write_row (tests/billing/ledger/store/test_copy_format.py round-trips tabs,
# newlines, backslashes, Unicode, Decimals with exponents and timestamps). Text is
# escaped by text_row.
_TEXT_OF = {
    # str.__str__ and int.__repr__: a subclass (a TextChoices member) by its value.
    str: str.__str__, JsonText: str.__str__, int: int.__repr__, Decimal: str,
    datetime: copy_moment,
    date: date.isoformat, bool: lambda value: "t" if value else "f",
    type(None): lambda value: "\\N",
}


# Subclasses (a TextChoices member, a test's datetime) by the first base they are.
_BASES = (bool, int, str, Decimal, datetime, date)


def _encoder(value):
    base = next((t for t in _BASES if isinstance(value, t)), None)
    if base is None:
        raise TypeError(f"no COPY text for {type(value).__name__}")
    return _TEXT_OF[base]


def text_row(values: list | tuple) -> str:
    """Values (str, JSON text, int, Decimal, datetime, date, bool or None) as one line of
    COPY's text format, without its newline."""
    texts = [(_TEXT_OF.get(type(value)) or _encoder(value))(value) for value in values]
    line = "\t".join(texts)
    # Only text can hold a tab, newline or backslash, and only None's \N writes one: a
    # line with no more than that needs no escaping (most rows; one check, not one each).
    if (line.count("\\") == sum(map(is_, values, repeat(None)))
            and line.count("\t") == len(texts) - 1
            and "\n" not in line and "\r" not in line):
        return line
    return "\t".join([_escape(value) if isinstance(value, str) else text
                      for value, text in zip(values, texts, strict=True)])
