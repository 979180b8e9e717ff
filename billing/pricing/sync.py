"""The price sync: AI models and their prices from the pinned genai-prices package, plus
(through house_catalogue) our meters, credit rate and plan markups.

It only adds. A price series (model, bucket, service tier) that already has
rows is never touched, whoever wrote them: when genai-prices disagrees with
what is in force, the difference is reported for staff to apply through the
admin (a close-and-open change). A second run adds nothing.

How genai-prices data becomes rows:
- Its conditional prices (start-date constraints) and price variants become
  effective-dated rows: one run per change of value, starting at UTC midnight
  of the start date, as genai-prices applies them. A price with no start date
  starts at the epoch.
- Variants `processing=batch`, `service_tier=flex|priority` become service tier
  rows, holding only the prices the variant overrides (other buckets fall back
  to the default tier when quoting, as genai-prices does).
- Tiered prices are cliffs: genai-prices applies a tier when the input is
  *above* its start, so a tier starting at 200,000 becomes min_input_tokens
  200,001.
- Not representable, so skipped and counted: time-of-day prices (off-peak),
  other variants (speed, route), and non-token prices (images, audio, searches,
  requests). A model with no token price at all is not created.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from billing import money
from billing.models.pricing import (
    EPOCH,
    AIModel,
    ModelPrice,
    PriceSource,
    ServiceTier,
    UsageBucket,
)
from billing.pricing.house_catalogue import seed_meters, seed_rate_and_markups

BUCKET_OF_PRICE_KEY = {
    "input_mtok": UsageBucket.INPUT,
    "cache_read_mtok": UsageBucket.CACHED_INPUT,
    "cache_write_mtok": UsageBucket.CACHE_WRITE,
    "output_mtok": UsageBucket.OUTPUT,
    "output_reasoning_mtok": UsageBucket.REASONING,
}
TIER_OF_VARIANT = {
    ("processing", "batch"): ServiceTier.BATCH,
    ("service_tier", "batch"): ServiceTier.BATCH,
    ("service_tier", "flex"): ServiceTier.FLEX,
    ("service_tier", "priority"): ServiceTier.PRIORITY,
}
# When several providers offer a model of the same name, an event naming the
# model alone means the maker's own API (AIModel.default_for_name).
FIRST_PARTY = (
    "openai", "anthropic", "google", "mistral", "x-ai", "deepseek", "cohere", "meta",
    "moonshotai", "minimax", "zai", "zhipuai", "perplexity", "voyageai", "elevenlabs",
)

Cliffs = tuple[tuple[int, Decimal], ...]  # (min_input_tokens, price per million), ascending


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
        return (f"{self.model} {self.bucket}{tier} at {self.at:%Y-%m-%d}: in force "
                f"{_show(self.current)} ({self.source or 'none'}), "
                f"genai-prices {_show(self.upstream)}")


@dataclass
class SyncReport:
    models_added: int = 0
    prices_added: int = 0
    meters_added: int = 0
    meter_prices_added: int = 0
    rates_added: int = 0
    markups_added: int = 0
    differences: list[PriceDifference] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)


@dataclass(frozen=True)
class _Row:
    min_input_tokens: int
    price: Decimal
    starts_at: datetime
    ends_at: datetime | None


def sync_prices(*, now: datetime | None = None, providers: Iterable[str] | None = None,
                upstream: list | None = None) -> SyncReport:
    """Add what is missing; report what differs. `upstream`: genai-prices providers (tests)."""
    now = now or timezone.now()
    if upstream is None:
        from genai_prices.data import providers as upstream
    wanted = {p.lower() for p in providers} if providers else None
    report = SyncReport()
    with transaction.atomic():
        _sync_models(upstream, wanted, now=now, report=report)
        report.meters_added, report.meter_prices_added = seed_meters()
        report.rates_added, report.markups_added = seed_rate_and_markups()
    return report


# --- AI models ---------------------------------------------------------------------------------


def _sync_models(upstream, wanted, *, now: datetime, report: SyncReport) -> None:
    desired: dict[tuple[str, str], tuple[str, dict]] = {}  # (provider, name) -> display, groups
    for provider in upstream:
        if wanted is not None and provider.id.lower() not in wanted:
            continue
        for info in provider.models:
            key = (provider.id.lower(), info.id.strip().lower())
            if key in desired:
                report.skipped["duplicate model name"] += 1
                continue
            if len(key[1]) > 200:
                report.skipped["model name too long"] += 1
                continue
            groups = model_timeline(info, skipped=report.skipped)
            if not groups:
                report.skipped["model without token prices"] += 1
                continue
            desired[key] = ((info.name or info.id)[:200], groups)

    existing = {(m.provider, m.name): m for m in AIModel.objects.all()}
    new_models = [
        AIModel(provider=provider, name=name, display_name=display)
        for (provider, name), (display, _) in desired.items() if (provider, name) not in existing
    ]
    AIModel.objects.bulk_create(new_models, batch_size=1000)
    report.models_added = len(new_models)
    if new_models:
        existing = {(m.provider, m.name): m for m in AIModel.objects.all()}
        _choose_defaults({m.name for m in new_models})

    stored: dict[tuple[int, str, str], list[ModelPrice]] = defaultdict(list)
    for row in ModelPrice.objects.order_by():
        stored[(row.model_id, row.bucket, row.service_tier)].append(row)

    rows = []
    for key, (_, groups) in desired.items():
        model = existing[key]
        for (bucket, tier), upstream_rows in groups.items():
            current = stored.get((model.pk, bucket, tier))
            if current:
                report.differences += _compare(model, bucket, tier, upstream_rows, current,
                                               now=now)
                continue
            rows += [
                ModelPrice(model=model, bucket=bucket, service_tier=tier,
                           min_input_tokens=row.min_input_tokens, price_per_million_usd=row.price,
                           starts_at=row.starts_at, ends_at=row.ends_at,
                           source=PriceSource.GENAI_PRICES)
                for row in upstream_rows
            ]
    ModelPrice.objects.bulk_create(rows, batch_size=1000)
    report.prices_added = len(rows)


def model_timeline(info, *, skipped: Counter) -> dict[tuple[str, str], list[_Row]]:
    """(bucket, service tier) -> effective-dated cliff rows of one genai-prices model."""
    points = sorted({EPOCH, *(_midnight(d) for d in _start_dates(info))})
    _count_skipped(info, skipped)
    series: dict[tuple[str, str, int], list] = defaultdict(lambda: [None] * len(points))
    for i, moment in enumerate(points):
        for tier, prices in _prices_at(info, moment).items():
            for price_key, value in prices.items():
                bucket = BUCKET_OF_PRICE_KEY.get(price_key)
                if bucket is None or value is None:
                    continue
                for low, price in _cliffs(value):
                    series[(bucket, tier, low)][i] = price
    groups = defaultdict(list)
    for (bucket, tier, low), prices in series.items():
        # One row per run of an unchanged price, ending where the price changes or stops.
        for i, price in enumerate(prices):
            if price is None or (i and prices[i - 1] == price):
                continue
            end = next((points[j] for j in range(i + 1, len(points)) if prices[j] != price), None)
            groups[(bucket, tier)].append(_Row(low, price, points[i], end))
    return dict(groups)


def _prices_at(info, moment: datetime) -> dict[str, dict]:
    """Tier -> {price key: value} in force at `moment`; a tier holds only its overrides."""
    from genai_prices import types

    if isinstance(info.prices, types.ModelPrice):
        standard = info.prices
    else:
        usable = [
            c for c in info.prices if not isinstance(c.constraint, types.TimeOfDateConstraint)
        ]
        # genai-prices: the last active conditional price wins, else the first one.
        active = [c for c in usable if c.constraint is None or c.constraint.active(moment)]
        standard = (active or usable or info.prices)[-1 if active else 0].prices
    result = {"": dict(standard.__dict__)}
    for variant in info.price_variants or ():
        tier = _variant_tier(variant)
        if tier is None:
            continue
        if variant.constraint is not None and (
            isinstance(variant.constraint, types.TimeOfDateConstraint)
            or not variant.constraint.active(moment)
        ):
            continue
        overrides = result.setdefault(tier, {})
        for key, value in variant.prices.__dict__.items():
            if value is not None:
                overrides.setdefault(key, value)  # the first matching variant wins, per key
    return result


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
            if isinstance(c.constraint, types.TimeOfDateConstraint):
                skipped["time-of-day price"] += 1
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


def _cliffs(value) -> Cliffs:
    from genai_prices import types

    if isinstance(value, types.TieredPrices):
        steps = {0: _price(value.base)}
        for tier in value.tiers:
            steps[tier.start + 1] = _price(tier.price)
        return tuple(sorted(steps.items()))
    return ((0, _price(value)),)


def _price(value: Decimal) -> Decimal:
    return money.round_price(value)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _compare(model, bucket, tier, upstream: list[_Row], rows: list[ModelPrice], *,
             now: datetime) -> list[PriceDifference]:
    """Differences now, and at each later upstream change, between genai-prices and the rows."""
    moments = sorted({now, *(row.starts_at for row in upstream if row.starts_at > now)})
    found = []
    for moment in moments:
        wanted = _cliffs_at(upstream, moment)
        in_force = [row for row in rows if row.in_force_at(moment)]
        current = tuple(sorted((r.min_input_tokens, r.price_per_million_usd) for r in in_force))
        if current != wanted:
            sources = "+".join(sorted({r.source for r in in_force}))
            found.append(
                PriceDifference(str(model), bucket, tier, moment, current, wanted, sources)
            )
    return found


def _cliffs_at(rows: list[_Row], moment: datetime) -> Cliffs:
    return tuple(sorted(
        (row.min_input_tokens, row.price) for row in rows
        if row.starts_at <= moment and (row.ends_at is None or moment < row.ends_at)
    ))


def _choose_defaults(names: set[str]) -> None:
    """For names offered by several providers, mark the maker's own model, unless one is marked."""
    by_name = defaultdict(list)
    for model in AIModel.objects.filter(name__in=names):
        by_name[model.name].append(model)
    chosen = []
    for models in by_name.values():
        if len(models) < 2 or any(m.default_for_name for m in models):
            continue
        ranked = [m for m in models if m.provider in FIRST_PARTY]
        if ranked:
            chosen.append(min(ranked, key=lambda m: FIRST_PARTY.index(m.provider)).pk)
    AIModel.objects.filter(pk__in=chosen).update(default_for_name=True)


def _show(cliffs: Cliffs) -> str:
    if not cliffs:
        return "no price"
    return ", ".join(f"${p}/M" + (f" from {low} input" if low else "") for low, p in cliffs)
