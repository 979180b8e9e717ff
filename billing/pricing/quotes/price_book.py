"""Usage -> cost: pure functions over Decimal, and a per-batch PriceBook cache.

Cost in credits = provider cost in USD x plan markup x credits per USD, each
taken from the rows in force at the event's occurred_at (starts_at <= t <
ends_at, or still open). Lines are summed unrounded; money.round_credits
rounds the event's credits once (at least a millionth for a positive cost); zero prices
are guarded by billing.pricing.quotes.zero_prices. Nothing here writes.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from billing import money
from billing.models.pricing import (
    AIModel,
    CreditRate,
    Meter,
    ModelPrice,
    PlanMarkup,
    ServiceTier,
    UsageBucket,
)
from billing.pricing.catalogue.daily_windows import window_contains
from billing.pricing.catalogue.resolution import (
    Catalogue,
    UnknownModel,
    catalogue_version,
    current_catalogue,
)
from billing.pricing.quotes import zero_prices
from billing.pricing.quotes.breakdown_text import breakdown_json, plain
from billing.pricing.quotes.price_cache import PriceTables, tables_for
from billing.pricing.quotes.row_choice import RowChoices

TOKENS_PER = 1_000_000
METER_PER = 1
# input, cached_input, cache_write, output, reasoning (the request fee is not a token bucket)
TOKEN_BUCKETS = tuple(b for b in UsageBucket.values if b != UsageBucket.REQUEST)
SERVICE_TIERS = frozenset(ServiceTier.values)  # "", batch, flex, priority

# A bucket the model has no price for is billed at its parent's price, as
# genai-prices does: it subtracts only *priced* sub-buckets from input_tokens
# and output_tokens, so unpriced cached, cache-write or reasoning tokens stay
# in their parent and pay its rate.
FALLBACK_BUCKET = {
    UsageBucket.CACHED_INPUT: UsageBucket.INPUT,
    UsageBucket.CACHE_WRITE: UsageBucket.INPUT,
    UsageBucket.REASONING: UsageBucket.OUTPUT,
}


# The event field that carries each bucket's tokens (for error messages).
TOKEN_FIELD_OF_BUCKET = {
    UsageBucket.INPUT: "input_tokens",
    UsageBucket.CACHED_INPUT: "cached_input_tokens",
    UsageBucket.CACHE_WRITE: "cache_write_tokens",
    UsageBucket.OUTPUT: "output_tokens",
    UsageBucket.REASONING: "reasoning_tokens",
}


class PricingError(Exception):
    """An event that cannot be priced.

    code: unknown_model, unknown_meter, no_price or invalid_tokens; field: the event's field.
    """

    def __init__(self, code: str, field: str = "", message: str = ""):
        self.code = code
        self.field = field
        self.message = message or code.replace("_", " ")
        super().__init__(self.message)


class TokenCounts(NamedTuple):
    """Totals include their parts, as OpenAI and genai-prices report them."""

    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0


class PricedLine(NamedTuple):  # NamedTuple, not a frozen dataclass: cheaper to make
    bucket: str  # a token bucket, or the meter code
    quantity: Decimal
    unit_price_usd: Decimal  # per `per` units
    per: int  # 1_000_000 for tokens, 1 for meters
    price_id: int  # the ModelPrice or MeterPrice row used
    cost_usd: Decimal  # unrounded

    def as_dict(self) -> dict:
        return {
            "bucket": self.bucket,
            "quantity": plain(self.quantity),
            "unit_price_usd": plain(self.unit_price_usd),
            "per": self.per,
            "price_id": self.price_id,
            "cost_usd": plain(self.cost_usd),
        }


class Quote(NamedTuple):
    lines: tuple[PricedLine, ...]
    cost_usd: Decimal  # unrounded sum of the lines
    markup: Decimal
    markup_id: int
    credits_per_usd: Decimal
    rate_id: int
    credits: Decimal  # money.round_charge(cost_usd * markup * credits_per_usd)

    def breakdown(self) -> dict:
        """JSON-able record of what drove the charge; every Decimal as a string."""
        return {
            "lines": [line.as_dict() for line in self.lines],
            "cost_usd": plain(self.cost_usd),
            "markup": plain(self.markup),
            "markup_id": self.markup_id,
            "credits_per_usd": plain(self.credits_per_usd),
            "rate_id": self.rate_id,
            "credits": str(self.credits),
        }

    def breakdown_json(self) -> str:
        """The breakdown in jsonb's own text (usage_charges.jsonb_text), without a dict."""
        return breakdown_json(self)


# --- pure functions ----------------------------------------------------------------------------


def split_tokens(t: TokenCounts) -> dict[str, int]:
    """Billable count per bucket: the totals minus the parts priced on their own."""
    for field in ("input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens",
                  "reasoning_tokens"):
        value = getattr(t, field)
        if type(value) is not int and (not isinstance(value, int) or isinstance(value, bool)):
            raise PricingError("invalid_tokens", field, f"{field} must be a whole number")
        if value < 0:
            raise PricingError("invalid_tokens", field, f"{field} must not be negative")
    if t.cached_input_tokens > t.input_tokens:
        raise PricingError("invalid_tokens", "cached_input_tokens",
                           "cached_input_tokens cannot exceed input_tokens")
    if t.cache_write_tokens > t.input_tokens - t.cached_input_tokens:
        raise PricingError("invalid_tokens", "cache_write_tokens",
                           "cached_input_tokens + cache_write_tokens cannot exceed input_tokens")
    if t.reasoning_tokens > t.output_tokens:
        raise PricingError("invalid_tokens", "reasoning_tokens",
                           "reasoning_tokens cannot exceed output_tokens")
    return {
        UsageBucket.INPUT: t.input_tokens - t.cached_input_tokens - t.cache_write_tokens,
        UsageBucket.CACHED_INPUT: t.cached_input_tokens,
        UsageBucket.CACHE_WRITE: t.cache_write_tokens,
        UsageBucket.OUTPUT: t.output_tokens - t.reasoning_tokens,
        UsageBucket.REASONING: t.reasoning_tokens,
    }


def in_force(rows: Iterable, at: datetime) -> list:
    """The rows whose period contains `at` (start inclusive, end exclusive)."""
    return [r for r in rows if r.starts_at <= at and (r.ends_at is None or at < r.ends_at)]


def single_in_force(rows: Iterable, at: datetime):
    """The one row of a series in force at `at`, or None."""
    found = in_force(rows, at)
    return max(found, key=lambda r: r.starts_at) if found else None


def select_model_price(rows: Sequence[ModelPrice], *, bucket: str, service_tier: str,
                       input_tokens: int, at: datetime | None = None) -> ModelPrice | None:
    """The price row for one bucket, or None when the model has none for it.

    The service tier's own row when there is one for this bucket, else the
    default tier; a row whose daily window contains `at` before the all-day
    rows; among cliff rows, the largest min_input_tokens <= input_tokens.
    `rows` must already be the rows in force at the event's time (see in_force).
    """
    tiers = (service_tier, "") if service_tier else ("",)
    for tier in tiers:
        cliffs = [
            r for r in rows
            if r.bucket == bucket and r.service_tier == tier and r.min_input_tokens <= input_tokens
        ]
        windowed = [r for r in cliffs if r.daily_window and at is not None
                    and window_contains(r.daily_window, at)]
        cliffs = windowed or [r for r in cliffs if not r.daily_window]
        if cliffs:
            return max(cliffs, key=lambda r: r.min_input_tokens)
    return None


def price_tokens(rows: Sequence[ModelPrice], *, tokens: TokenCounts, service_tier: str,
                 at: datetime, model_label: str = "the model",
                 current: Sequence[ModelPrice] | None = None,
                 chosen: Mapping[str, ModelPrice | None] | None = None) -> tuple[PricedLine, ...]:
    """One line per bucket with tokens, plus the model's per-request fee when it has one.

    Tokens in a bucket the model does not price (nor its parent bucket: output tokens of
    an embedding model) are refused with PricingError("no_price"), never charged at zero.
    `current`: in_force(rows, at), when the caller has it already; `chosen`: the row
    select_model_price picks per bucket for this event (row_choice.RowChoices).
    """
    counts = split_tokens(tokens)
    current = in_force(rows, at) if current is None else current
    if not current:
        raise PricingError("no_price", "model",
                           f"{model_label} has no token price in force at {at.isoformat()} "
                           "(genai-prices prices it only in units events cannot report, or "
                           "not yet): it cannot be charged")
    if chosen is None:
        def pick(bucket):
            return select_model_price(current, bucket=bucket, service_tier=service_tier,
                                      input_tokens=tokens.input_tokens, at=at)
    else:
        pick = chosen.__getitem__
    lines = []
    for bucket, count in counts.items():
        if count == 0:
            continue
        row = pick(bucket)
        if row is None and bucket in FALLBACK_BUCKET:
            row = pick(FALLBACK_BUCKET[bucket])
        if row is None:
            raise PricingError("no_price", TOKEN_FIELD_OF_BUCKET[bucket], _unpriced(
                model_label, bucket, current, at))
        quantity, unit_price = Decimal(count), row.price_per_million_usd
        lines.append(PricedLine(bucket, quantity, unit_price, TOKENS_PER, row.pk,
                                quantity * unit_price / TOKENS_PER))  # as line() does
    fee = pick(UsageBucket.REQUEST)
    if fee is not None:
        lines.append(line(bucket=UsageBucket.REQUEST, quantity=Decimal(1),
                          unit_price=fee.price_per_million_usd, per=TOKENS_PER, price_id=fee.pk))
    return tuple(lines)


def _unpriced(model_label: str, bucket: str, current: Sequence[ModelPrice], at: datetime) -> str:
    priced = sorted({r.bucket for r in current if r.bucket != UsageBucket.REQUEST})
    field = TOKEN_FIELD_OF_BUCKET[bucket]
    return (f"{model_label} does not price {UsageBucket(bucket).label.lower()} tokens "
            f"(it prices {', '.join(priced) or 'nothing'} at {at:%Y-%m-%d}): "
            f"send {field} 0 for it, or ask for a price to be added")


def line(*, bucket: str, quantity: Decimal, unit_price: Decimal, per: int,
         price_id: int) -> PricedLine:
    return PricedLine(
        bucket=bucket, quantity=quantity, unit_price_usd=unit_price, per=per, price_id=price_id,
        cost_usd=quantity * unit_price / per,
    )


def make_quote(lines: Sequence[PricedLine], *, markup: PlanMarkup, rate: CreditRate) -> Quote:
    cost = Decimal(0)
    for ln in lines:
        cost += ln.cost_usd
    return Quote(tuple(lines), cost, markup.multiplier, markup.pk, rate.credits_per_usd,
                 rate.pk, money.round_charge(cost * markup.multiplier * rate.credits_per_usd))


# --- the per-batch cache -----------------------------------------------------------------------


class PriceBook:
    """Prices for one batch of events of one plan: the process's price tables and model
    rules (billing.pricing.quotes.price_cache), checked current by one query when first needed,
    and each name, model or meter resolved once per batch.

    Not shared between batches: a price change is seen by the next batch.
    """

    def __init__(self, *, plan: str, organization_id: int | None = None):
        self.plan = plan
        self._zero_guard = zero_prices.ZeroPriceGuard(organization_id)
        self._catalogue: Catalogue | None = None
        self._tables: PriceTables | None = None
        self._models: dict[tuple[str, str], AIModel | PricingError] = {}
        self._meters: dict[str, Meter | PricingError] = {}
        self._term_bounds: list[datetime] | None = None
        self._term_memo: dict[int, dict] = {}

    def _current(self) -> PriceTables:
        if self._tables is None:
            version = catalogue_version()  # one read validates the rules and the prices
            self._tables = tables_for(version)
            self._catalogue = current_catalogue(version=version)
        return self._tables

    # resources

    def resolve_model(self, *, name: str, provider: str = "") -> AIModel:
        """The model a name resolves to (pricing.catalogue.resolution); no query once cached."""
        key = ((name or "").strip().lower(), (provider or "").strip().lower())
        if key not in self._models:
            self._current()
            try:
                model = self._catalogue.resolve(*key)
            except UnknownModel as error:
                self._models[key] = PricingError("unknown_model", "model", str(error))
            else:
                self._models[key] = model if model.active else PricingError(
                    "unknown_model", "model", f"model {model.name!r} is no longer available")
        return _or_raise(self._models[key])

    def resolve_meter(self, *, code: str) -> Meter:
        code = (code or "").strip()
        if code not in self._meters:
            meter = self._current().meter(code)
            if meter is None or not meter.active:
                state = "unknown" if meter is None else "inactive"
                self._meters[code] = PricingError("unknown_meter", "meter",
                                                  f"{state} meter {code!r}")
            else:
                self._meters[code] = meter
        return _or_raise(self._meters[code])

    def quote_tokens(self, *, model: AIModel, tokens: TokenCounts, occurred_at: datetime,
                     service_tier: str = "") -> Quote:
        _check_moment(occurred_at)
        if service_tier not in SERVICE_TIERS:
            raise ValueError(f"service_tier must be one of {sorted(SERVICE_TIERS)}")
        rows = self._current().model_prices(model.pk)
        choices = self._in_force(model.pk, rows, occurred_at)
        chosen = choices.current and choices.for_event(
            service_tier=service_tier, input_tokens=tokens.input_tokens, at=occurred_at)
        lines = price_tokens(rows, tokens=tokens, service_tier=service_tier, at=occurred_at,
                             model_label=f"model {model.name!r}", current=choices.current,
                             chosen=chosen or None)
        if message := self._zero_guard.refusal(model, lines, at=occurred_at,
                                               catalogue=self._catalogue, tables=self._tables):
            raise PricingError("zero_price_provider", "provider", message)
        return make_quote(lines, **self._terms(occurred_at))

    def quote_meter(self, *, meter: Meter, quantity: Decimal, occurred_at: datetime) -> Quote:
        _check_moment(occurred_at)
        if not isinstance(quantity, Decimal) or not quantity.is_finite() or quantity < 0:
            raise ValueError("quantity must be a finite, non-negative Decimal")
        row = single_in_force(self._current().meter_prices(meter.pk), occurred_at)
        if row is None:
            raise PricingError("no_price", "meter",
                               f"no price for {meter.code} in force at {occurred_at.isoformat()}")
        priced = line(bucket=meter.code, quantity=quantity, unit_price=row.price_per_unit_usd,
                      per=METER_PER, price_id=row.pk)
        return make_quote([priced], **self._terms(occurred_at))

    def _in_force(self, model_id: int, rows: list[ModelPrice], at: datetime) -> RowChoices:
        """in_force(rows, at) and its row choices, memoised per price period: between two
        start or end times of the rows the same rows are in force (a handful per batch)."""
        memo = self._tables.periods.get(model_id)
        if memo is None:
            bounds = {r.starts_at for r in rows} | {r.ends_at for r in rows if r.ends_at}
            memo = self._tables.periods[model_id] = (sorted(bounds), {})
        bounds, by_period = memo
        period = bisect_right(bounds, at)
        current = by_period.get(period)
        if current is None:
            current = by_period[period] = RowChoices(in_force(rows, at), select_model_price)
        return current

    def _terms(self, at: datetime) -> dict:
        """The markup and rate in force at `at`, memoised per period like _in_force."""
        if self._term_bounds is None:
            rows = [*self._current().rates(), *self._current().markups(self.plan)]
            self._term_bounds = sorted({r.starts_at for r in rows}
                                       | {r.ends_at for r in rows if r.ends_at})
        period = bisect_right(self._term_bounds, at)
        terms = self._term_memo.get(period)
        if terms is None:
            terms = self._term_memo[period] = {"markup": self._markup(at), "rate": self._rate(at)}
        return terms

    def _rate(self, at: datetime) -> CreditRate:
        rate = single_in_force(self._current().rates(), at)
        if rate is None:
            raise PricingError("no_price", "", f"no credit rate in force at {at.isoformat()}")
        return rate

    def _markup(self, at: datetime) -> PlanMarkup:
        markup = single_in_force(self._current().markups(self.plan), at)
        if markup is None:
            raise PricingError("no_price", "",
                               f"no markup for the {self.plan} plan in force at {at.isoformat()}")
        return markup


def _or_raise(value):
    if isinstance(value, PricingError):
        raise PricingError(value.code, value.field, value.message)
    return value


def _check_moment(moment: datetime) -> None:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ValueError("occurred_at must be a timezone-aware datetime")
