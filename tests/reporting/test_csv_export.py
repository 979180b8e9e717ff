"""reporting.csv_export: inert formula cells, numbers left alone, one row at a time."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.utils.safestring import mark_safe

from billing.models import EntryKind as Kind
from reporting.csv_export import LINES_PER_CHUNK, csv_lines, safe_cell, streaming_csv


@pytest.mark.parametrize("text", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx",
                                  '=HYPERLINK("http://x")'])
def test_text_that_a_spreadsheet_would_run_is_made_inert(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["plain", "ana@acme.test", "chat-2", " =x"])
def test_ordinary_text_is_unchanged(value):
    assert safe_cell(value) == value


def test_numbers_we_write_stay_numbers_even_when_negative():
    assert safe_cell(Decimal("-4.500000")) == Decimal("-4.500000")
    assert safe_cell(-3) == -3
    assert safe_cell(None) == ""


def test_lines_parse_back_with_the_escaped_cells():
    text = "".join(csv_lines(["user", "credits"], [["=cmd|' /C calc'!A0", Decimal("-1.5")],
                                                   ["a,b\nc", Decimal("2")]]))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["user", "credits"], ["'=cmd|' /C calc'!A0", "-1.5"], ["a,b\nc", "2"]]


def test_the_response_is_a_stream_that_pulls_rows_lazily():
    pulled = []

    def rows():
        for n in range(3 * LINES_PER_CHUNK):
            pulled.append(n)
            yield [n]

    response = streaming_csv("x.csv", ["n"], rows())
    assert response.streaming and pulled == []
    chunks = iter(response.streaming_content)
    first = next(chunks)
    # The header and the rows of one chunk, nothing further read yet.
    assert first.count(b"\n") == LINES_PER_CHUNK
    assert pulled == list(range(LINES_PER_CHUNK - 1))
    rest = b"".join(chunks)
    assert (first + rest).count(b"\n") == 3 * LINES_PER_CHUNK + 1
    assert response["Content-Disposition"] == 'attachment; filename="x.csv"'


def test_every_kind_of_cell_a_row_holds():
    when = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    assert safe_cell(when) == "2026-03-01T12:30:00+00:00"
    assert safe_cell(date(2026, 3, 1)) == "2026-03-01"
    assert safe_cell(True) == "true" and safe_cell(False) == "false"
    assert safe_cell(7) == 7 and safe_cell("") == ""
    # Subclasses take the long way and are treated the same.
    assert safe_cell(mark_safe("=1+1")) == "'=1+1"
    assert safe_cell(Kind.USAGE) == "usage"
