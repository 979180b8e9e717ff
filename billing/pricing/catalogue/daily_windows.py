"""Daily windows: a price that applies only at some UTC times of day (DeepSeek's peak hours).

A window is written "HH:MM-HH:MM" in UTC, start included, end excluded; one
whose end is before its start runs over midnight ("22:00-06:00"). An empty
window means all day. Within a price series, a row whose window contains the
event's time of day takes the place of the all-day row, as genai-prices'
time-of-day prices take the place of its others.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time

WINDOW_RE = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)")
MAX_LENGTH = 11


class InvalidWindow(ValueError):
    pass


def parse_window(window: str) -> tuple[int, int]:
    """(start, end) in minutes after UTC midnight; InvalidWindow for anything else."""
    match = WINDOW_RE.fullmatch(window or "")
    if match is None:
        raise InvalidWindow(f"{window!r} is not a daily window such as 00:30-16:30 (UTC)")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == end:
        raise InvalidWindow(f"{window!r} is empty: start and end are the same")
    return start, end


def window_contains(window: str, at: datetime) -> bool:
    start, end = parse_window(window)
    moment = at.astimezone(UTC)
    minute = moment.hour * 60 + moment.minute
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


def format_window(start: time, end: time) -> str | None:
    """genai-prices' time-of-day bounds as a window, or None when not whole minutes."""
    bounds = []
    for value in (start, end):
        if value.tzinfo is not None:
            value = datetime.combine(datetime(1970, 1, 1), value).astimezone(UTC).timetz()
        if value.second or value.microsecond:
            return None
        bounds.append(f"{value.hour:02d}:{value.minute:02d}")
    return "-".join(bounds)
