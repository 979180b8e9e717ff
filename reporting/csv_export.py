"""CSV for finance: cells that a spreadsheet never runs, written as a stream.

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is run as a
formula by Excel, LibreOffice and Google Sheets (OWASP's "CSV injection"). Text
cells like that get a leading apostrophe, which every one of them shows as text.
Numbers we write ourselves (Decimals, ints) are left as they are, so a negative
amount stays a number; only text is escaped.

Rows are produced one at a time into a StreamingHttpResponse, sent a couple of
hundred lines at a time, so an export of millions of rows holds a few hundred
lines in memory, never the file.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal

from django.http import StreamingHttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LINES_PER_CHUNK = 200  # lines joined into one piece of the response: fewer, larger writes


def _text(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _as_is(value):
    return value


def _iso(value) -> str:
    return value.isoformat()


# The exact types a database row holds, looked up in one step: a large export calls
# this for every cell. Anything else (subclasses included) takes the full path below.
_BY_TYPE = {
    str: _text,
    int: _as_is,
    Decimal: _as_is,
    type(None): lambda value: "",
    datetime: _iso,
    date: _iso,
    bool: lambda value: "true" if value else "false",
}


def safe_cell(value) -> str | int | Decimal:
    convert = _BY_TYPE.get(type(value))
    if convert is not None:
        return convert(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return _text(str(value))


class _Line:
    """A file-like sink that hands back what csv.writer writes instead of keeping it."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: Iterable[str], rows: Iterable[Iterable]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        yield writer.writerow(map(safe_cell, row))


def _in_chunks(lines: Iterator[str]) -> Iterator[str]:
    """LINES_PER_CHUNK lines at a time: the response's per-piece work is paid per chunk."""
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == LINES_PER_CHUNK:
            yield "".join(chunk)
            chunk.clear()
    if chunk:
        yield "".join(chunk)


def streaming_csv(filename: str, header: Iterable[str], rows: Iterable[Iterable]):
    response = StreamingHttpResponse(_in_chunks(csv_lines(header, rows)), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
