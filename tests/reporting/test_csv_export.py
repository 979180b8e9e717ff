"""reporting.csv_export: inert formula cells, numbers left alone, one row at a time."""

import csv
import io
from decimal import Decimal

import pytest

from reporting.csv_export import csv_lines, safe_cell, streaming_csv


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
        for n in range(3):
            pulled.append(n)
            yield [n]

    response = streaming_csv("x.csv", ["n"], rows())
    assert response.streaming and pulled == []
    chunks = iter(response.streaming_content)
    next(chunks), next(chunks)
    assert pulled == [0]
    assert response["Content-Disposition"] == 'attachment; filename="x.csv"'
