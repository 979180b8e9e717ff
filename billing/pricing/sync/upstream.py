"""Reading the pinned genai-prices snapshot: a model's prices as effective-dated rows.

Conditional prices and variants become effective-dated and service-tier rows,
tiers become cliffs, a per-request fee the `request` bucket, time-of-day prices
rows with a daily window; what an event cannot report is skipped and counted.
Each rule is in docs/decisions.md, "Reading genai-prices".
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from billing import money
from billing.models.pricing import EPOCH, ServiceTier, UsageBucket
from billing.pricing.catalogue.daily_windows import format_window

BUCKET_OF_PRICE_KEY = {
    "input_mtok": UsageBucket.INPUT,
    "cache_read_mtok": UsageBucket.CACHED_INPUT,
    "cache_write_mtok": UsageBucket.CACHE_WRITE,
    "output_mtok": UsageBucket.OUTPUT,
    "output_reasoning_mtok": UsageBucket.REASONING,
    "requests_kcount": UsageBucket.REQUEST,
}
# Upstream price x this = our price per million units.
SCALE_OF_PRICE_KEY = {"requests_kcount": 1000}
FREE = {"input_mtok": Decimal(0), "output_mtok": Decimal(0)}
TIER_OF_VARIANT = {
    ("processing", "batch"): ServiceTier.BATCH,
    ("service_tier", "batch"): ServiceTier.BATCH,
    ("service_tier", "flex"): ServiceTier.FLEX,
    ("service_tier", "priority"): ServiceTier.PRIORITY,
}
# (daily window, min_input_tokens, price per million), ascending; "" is all day
Cliffs = tuple[tuple[str, int, Decimal], ...]


@dataclass(frozen=True)
class Row:
    min_input_tokens: int
    price: Decimal
    starts_at: datetime
    ends_at: datetime | None
    daily_window: str = ""


def cliffs_at(rows: list[Row], moment: datetime) -> Cliffs:
    return tuple(sorted(
        (row.daily_window, row.min_input_tokens, row.price) for row in rows
        if row.starts_at <= moment and (row.ends_at is None or moment < row.ends_at)
    ))


def model_timeline(info, *, skipped: Counter) -> dict[tuple[str, str], list[Row]]:
    """(bucket, service tier) -> effective-dated cliff rows of one genai-prices model."""
    points = sorted({EPOCH, *(_midnight(d) for d in _start_dates(info))})
    _count_skipped(info, skipped)
    series: dict[tuple[str, str, int, str], list] = defaultdict(lambda: [None] * len(points))
    for i, moment in enumerate(points):
        for (tier, window), prices in _prices_at(info, moment).items():
            for price_key, value in prices.items():
                bucket = BUCKET_OF_PRICE_KEY.get(price_key)
                if bucket is None or value is None:
                    continue
                scale = SCALE_OF_PRICE_KEY.get(price_key, 1)
                for low, price in _cliffs(value, scale):
                    series[(bucket, tier, low, window)][i] = price
    groups = defaultdict(list)
    for (bucket, tier, low, window), prices in series.items():
        # One row per run of an unchanged price, ending where the price changes or stops.
        for i, price in enumerate(prices):
            if price is None or (i and prices[i - 1] == price):
                continue
            end = next((points[j] for j in range(i + 1, len(points)) if prices[j] != price), None)
            groups[(bucket, tier)].append(Row(low, price, points[i], end, window))
    return dict(groups)


def _prices_at(info, moment: datetime) -> dict[tuple[str, str], dict]:
    """(tier, daily window) -> {price key: value} in force on `moment`'s day; a tier holds
    only its overrides; a window (time-of-day price) replaces the all-day prices in it."""
    from genai_prices import types

    windows = {}
    if isinstance(info.prices, types.ModelPrice):
        standard = info.prices
    else:
        usable = [
            c for c in info.prices if not isinstance(c.constraint, types.TimeOfDateConstraint)
        ]
        # genai-prices: the last active conditional price wins, else the first one.
        active = [c for c in usable if c.constraint is None or c.constraint.active(moment)]
        standard = (active or usable or info.prices)[-1 if active else 0].prices
        windows = _windows_at(info.prices, moment)
    result = {("", ""): dict(standard.__dict__)}
    if all(value is None for value in result[("", "")].values()):
        # genai-prices prices nothing at all: a free model. Zero rows record that it is
        # priced (free), so its events are charged zero rather than refused.
        result[("", "")] = dict(FREE)
    for window, prices in windows.items():
        result[("", window)] = dict(prices.__dict__)
    for variant in info.price_variants or ():
        tier = _variant_tier(variant)
        if tier is None:
            continue
        if variant.constraint is not None and (
            isinstance(variant.constraint, types.TimeOfDateConstraint)
            or not variant.constraint.active(moment)
        ):
            continue
        overrides = result.setdefault((tier, ""), {})
        for key, value in variant.prices.__dict__.items():
            if value is not None:
                overrides.setdefault(key, value)  # the first matching variant wins, per key
    return result


def _windows_at(conditions: list, moment: datetime) -> dict:
    """Daily window -> prices of the time-of-day prices that win inside their window on
    `moment`'s day: those after which no other price is active (the last active wins)."""
    from genai_prices import types

    found = {}
    for k, c in enumerate(conditions):
        if not isinstance(c.constraint, types.TimeOfDateConstraint):
            continue
        later = [d for d in conditions[k + 1:]
                 if not isinstance(d.constraint, types.TimeOfDateConstraint)
                 and (d.constraint is None or d.constraint.active(moment))]
        window = format_window(c.constraint.start_time, c.constraint.end_time)
        if not later and window is not None:
            found[window] = c.prices
    return found


def _variant_tier(variant) -> str | None:
    if len(variant.when) != 1:
        return None
    return TIER_OF_VARIANT.get(next(iter(variant.when.items())))


def _start_dates(info) -> set[date]:
    from genai_prices import types

    conditions = [] if isinstance(info.prices, types.ModelPrice) else info.prices
    constraints = [c.constraint for c in conditions]
    constraints += [v.constraint for v in info.price_variants or () if _variant_tier(v)]
    return {c.start_date for c in constraints if isinstance(c, types.StartDateConstraint)}


def _count_skipped(info, skipped: Counter) -> None:
    from genai_prices import types

    if not isinstance(info.prices, types.ModelPrice):
        for c in info.prices:
            if isinstance(c.constraint, types.TimeOfDateConstraint) and format_window(
                    c.constraint.start_time, c.constraint.end_time) is None:
                skipped["time-of-day price not in whole minutes"] += 1
            skipped.update(
                "non-token price" for k, v in c.prices.__dict__.items()
                if v is not None and k not in BUCKET_OF_PRICE_KEY
            )
    else:
        skipped.update(
            "non-token price" for k, v in info.prices.__dict__.items()
            if v is not None and k not in BUCKET_OF_PRICE_KEY
        )
    for variant in info.price_variants or ():
        if _variant_tier(variant) is None and any(variant.prices.__dict__.values()):
            skipped["unsupported price variant"] += 1


def _cliffs(value, scale: int) -> Cliffs:
    from genai_prices import types

    if isinstance(value, types.TieredPrices):
        steps = {0: _price(value.base, scale)}
        for tier in value.tiers:
            steps[tier.start + 1] = _price(tier.price, scale)
        return tuple(sorted(steps.items()))
    return ((0, _price(value, scale)),)


def _price(value: Decimal, scale: int) -> Decimal:
    return money.round_price(value * scale)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
