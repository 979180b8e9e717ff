"""A UTC calendar month, as the summaries, their exports and `usage_summary` name it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from billing.usage.rollup.selectors import month_bounds, today_utc

FIRST_YEAR = 2000


class BadMonth(ValueError):
    """A year or month no summary can be made for; the message is one line for people."""


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @property
    def first(self) -> date:
        return month_bounds(self.year, self.month)[0]

    @property
    def following(self) -> date:
        """The first day of the next month (exclusive end)."""
        return month_bounds(self.year, self.month)[1]

    @property
    def previous(self) -> Month:
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    @property
    def next(self) -> Month:
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    @property
    def label(self) -> str:
        return self.first.strftime("%B %Y")

    @property
    def code(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def days(self) -> list[date]:
        first, following = self.first, self.following
        return [date.fromordinal(n) for n in range(first.toordinal(), following.toordinal())]


def current_month() -> Month:
    today = today_utc()
    return Month(today.year, today.month)


def month_of(year, month) -> Month:
    """From text or ints; BadMonth with a one-line reason otherwise."""
    try:
        y, m = int(str(year).strip()), int(str(month).strip())
    except (TypeError, ValueError):
        raise BadMonth(
            f"year and month must be whole numbers, not {year!r} and {month!r}") from None
    if not 1 <= m <= 12:
        raise BadMonth(f"month must be between 1 and 12, not {m}")
    last = today_utc().year + 1
    if not FIRST_YEAR <= y <= last:
        raise BadMonth(f"year must be between {FIRST_YEAR} and {last}, not {y}")
    return Month(y, m)


def parse_month_code(code: str) -> Month:
    """'2026-03' -> Month(2026, 3)."""
    year, sep, month = (code or "").partition("-")
    if not sep or len(year) != 4 or len(month) != 2:
        raise BadMonth(f"month must be written YYYY-MM, not {code!r}")
    return month_of(year, month)
