"""Upstream price changes: what genai-prices says against the rows in force, and applying it.

A difference is found per price series (model, bucket, service tier) at the
first moment a change could take effect and at every later upstream change.
Applying one (`sync_model_prices --apply`) never touches the past:

- every new row starts at the next UTC midnight (at least five minutes away,
  the furthest ahead an event may be reported), or at a later upstream start
  date; the row in force is closed there (billing.pricing.catalogue.changes), so an
  event already charged keeps the price it was charged at;
- a series with any row staff wrote (source `staff`) was changed by hand: it is
  left alone and reported, whatever genai-prices says;
- a series that cannot take the change (a row already starts later) is left
  alone and reported, nothing of it written (one savepoint per series).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import transaction

from billing.models.pricing import AIModel, ModelPrice, PriceSource
from billing.pricing.catalogue.changes import PriceChangeError, change_model_price, end_model_price
from billing.pricing.sync.upstream import Cliffs, Row, cliffs_at

# An event may be reported up to five minutes ahead (docs/api.md): a new price never
# starts that close, or such an event could already have been charged at the old one.
MARGIN = timedelta(minutes=5)


@dataclass
class PriceDifference:
    model: str
    bucket: str
    service_tier: str
    at: datetime
    current: Cliffs
    upstream: Cliffs
    source: str

    def __str__(self):
        tier = f" [{self.service_tier}]" if self.service_tier else ""
        return (f"{self.model} {self.bucket}{tier} at {self.at:%Y-%m-%d %H:%M}: in force "
                f"{show(self.current)} ({self.source or 'none'}), "
                f"genai-prices {show(self.upstream)}")


@dataclass
class LeftAlone:
    model: str
    bucket: str
    service_tier: str
    reason: str

    def __str__(self):
        tier = f" [{self.service_tier}]" if self.service_tier else ""
        return f"{self.model} {self.bucket}{tier}: {self.reason}"


def next_midnight(now: datetime) -> datetime:
    """The first UTC midnight at least MARGIN after `now`."""
    moment = (now + MARGIN).astimezone(UTC)
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC) + timedelta(days=1)


def compare(model: AIModel, bucket: str, tier: str, upstream: list[Row],
            rows: list[ModelPrice], *, now: datetime) -> list[PriceDifference]:
    """Differences at `now` and at each later upstream change between genai-prices and rows."""
    found = []
    for moment in _moments(upstream, now):
        wanted = cliffs_at(upstream, moment)
        in_force = [row for row in rows if row.in_force_at(moment)]
        current = tuple(sorted((r.daily_window, r.min_input_tokens, r.price_per_million_usd)
                               for r in in_force))
        if current != wanted:
            sources = "+".join(sorted({r.source for r in in_force}))
            found.append(PriceDifference(str(model), bucket, tier, moment, current, wanted,
                                         sources))
    return found


def hand_edited(rows: list[ModelPrice]) -> bool:
    return any(row.source == PriceSource.STAFF for row in rows)


def apply_series(model: AIModel, bucket: str, tier: str, upstream: list[Row], *,
                 starts_at: datetime) -> LeftAlone | None:
    """Make the series follow genai-prices from `starts_at` on; LeftAlone when it may not."""
    series = ModelPrice.objects.filter(model=model, bucket=bucket, service_tier=tier)
    try:
        with transaction.atomic():
            for moment in _moments(upstream, starts_at):
                in_force = {(r.daily_window, r.min_input_tokens): r for r in series.all()
                            if r.in_force_at(moment)}
                wanted = {(window, low): price for window, low, price
                          in cliffs_at(upstream, moment)}
                for (window, low), price in wanted.items():
                    row = in_force.get((window, low))
                    if row is None or row.price_per_million_usd != price:
                        change_model_price(
                            model=model, bucket=bucket, service_tier=tier, min_input_tokens=low,
                            daily_window=window, price_per_million_usd=price, starts_at=moment,
                            source=PriceSource.GENAI_PRICES,
                            now=starts_at,  # the sync's clock: its moments start here or later
                        )
                for window, low in in_force.keys() - wanted.keys():
                    end_model_price(model=model, bucket=bucket, service_tier=tier,
                                    min_input_tokens=low, daily_window=window, ends_at=moment)
    except PriceChangeError as error:
        return LeftAlone(str(model), bucket, tier, f"not applied: {error}")
    return None


def _moments(upstream: list[Row], start: datetime) -> list[datetime]:
    return sorted({start, *(row.starts_at for row in upstream if row.starts_at > start)})


def show(cliffs: Cliffs) -> str:
    if not cliffs:
        return "no price"
    return ", ".join(
        f"${p}/M" + (f" from {low} input" if low else "") + (f" {w} UTC" if w else "")
        for w, low, p in cliffs
    )
