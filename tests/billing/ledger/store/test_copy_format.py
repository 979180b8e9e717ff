"""COPY text written by bulk.text_row reads back as the same values as psycopg's write_row."""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.db import connection

from billing.ledger.store import copy_format as bulk
from billing.models.usage import UsageType

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

TEXTS = ["", "plain", "tab\there", "new\nline", "cr\rhere", "back\\slash", "\\.", "\\N",
         "ünïcødé ✓", "emoji \U0001F600", 'quote"s', "ends with \\", "\x01ctl", "a\tb\nc\\d"]
DECIMALS = ["0", "-0", "1E+2", "4.6245E-7", "0.000000", "-12.345678", "0.0000004624500000",
            "123456789012345.123456789", "1E-16"]
MOMENTS = [datetime(2026, 11, 30, 10, 0, tzinfo=UTC),
           datetime(2026, 11, 30, 10, 0, 0, 123456, tzinfo=UTC),
           datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=-5, minutes=-30)))]


def rows():
    out = []
    for i, text in enumerate(TEXTS):
        json_text = bulk.json_text({"text": text, "list": [text, 1]})
        out.append([
            i, text, Decimal(DECIMALS[i % len(DECIMALS)]), MOMENTS[i % len(MOMENTS)],
            date(2026, 11, i + 1), i % 2 == 0, None if i % 3 else text, json_text,
            UsageType.AI_TOKENS if i % 2 else "infrastructure",
        ])
    return out


def read_back(writer) -> list:
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE copy_probe (n bigint, t text, d numeric, "
                       "m timestamptz, day date, b boolean, maybe text, j jsonb, kind text)")
        try:
            with cursor.cursor.copy("COPY copy_probe FROM STDIN") as copy:
                writer(copy)
            cursor.execute("SELECT n, t, d, m, day, b, maybe, j::text, kind FROM copy_probe "
                           "ORDER BY n")
            return cursor.fetchall()
        finally:
            cursor.execute("DROP TABLE copy_probe")


def test_text_rows_read_back_as_write_row_writes_them():
    by_driver = read_back(lambda copy: [copy.write_row(row) for row in rows()])
    by_text = read_back(lambda copy: copy.write("".join(bulk.text_row(r) + "\n"
                                                        for r in rows())))
    assert by_text == by_driver
    assert [row[1] for row in by_text] == TEXTS  # and both are the values sent


def test_values_no_column_type_can_take_are_refused():
    with pytest.raises(TypeError):
        bulk.text_row([object()])
