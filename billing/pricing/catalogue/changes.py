"""Staff changes to prices, the credit rate and plan markups.

A change never edits a price: in one transaction it locks the row in force,
closes it (ends_at = the new starts_at) and opens the new row, so an event is
always priced by what was in force at its occurred_at.
"""

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Model, QuerySet
from django.utils import timezone

from accounts.models import Plan
from billing import money
from billing.models.pricing import (
    AIModel,
    CreditRate,
    Meter,
    MeterPrice,
    ModelPrice,
    PlanMarkup,
    PriceSource,
    ServiceTier,
    UsageBucket,
)
from billing.pricing.catalogue.daily_windows import InvalidWindow, parse_window
from billing.pricing.catalogue.resolution import catalogue_changed


class PriceChangeError(ValueError):
    """A change that would break the price history; nothing was written."""


# A form shown with "now" as its start is submitted a little later: a start this
# recent is moved to the moment of the change; anything older is refused.
SUBMIT_GRACE = timedelta(minutes=15)


def effective_start(starts_at: datetime, *, now: datetime | None = None) -> datetime:
    """When a change starting at `starts_at` takes effect: never in the past (docs/ledger.md).

    An event already charged keeps the price it was charged at, so a change starts now at
    the earliest; a start older than SUBMIT_GRACE is refused with PriceChangeError.
    """
    if not isinstance(starts_at, datetime) or starts_at.tzinfo is None:
        raise PriceChangeError("starts_at must be a timezone-aware datetime")
    now = now or timezone.now()
    if starts_at >= now:
        return starts_at
    if starts_at >= now - SUBMIT_GRACE:
        return now
    raise PriceChangeError(
        f"a price change cannot start in the past ({starts_at.isoformat()}): events already "
        "charged keep their price; start it now or later")


def change_model_price(*, model: AIModel, bucket: str, price_per_million_usd: Decimal,
                       starts_at: datetime, service_tier: str = "", min_input_tokens: int = 0,
                       daily_window: str = "", created_by=None,
                       source: str = PriceSource.STAFF,
                       now: datetime | None = None) -> ModelPrice:
    if daily_window:
        try:
            parse_window(daily_window)
        except InvalidWindow as error:
            raise PriceChangeError(str(error)) from None
    if bucket not in UsageBucket.values:
        raise PriceChangeError(f"unknown bucket {bucket!r}")
    if service_tier not in ServiceTier.values:
        raise PriceChangeError(f"unknown service tier {service_tier!r}")
    if not isinstance(min_input_tokens, int) or min_input_tokens < 0:
        raise PriceChangeError("min_input_tokens must be a whole number, 0 or more")
    _check_amount(price_per_million_usd, allow_zero=True, field=money.PRICE_FIELD)
    series = ModelPrice.objects.filter(model=model, bucket=bucket, service_tier=service_tier,
                                       min_input_tokens=min_input_tokens,
                                       daily_window=daily_window)
    return _close_and_open(series, ModelPrice(
        model=model, bucket=bucket, service_tier=service_tier, min_input_tokens=min_input_tokens,
        daily_window=daily_window, price_per_million_usd=price_per_million_usd,
        starts_at=starts_at, source=source, created_by=created_by,
    ), now=now)


def change_meter_price(*, meter: Meter, price_per_unit_usd: Decimal, starts_at: datetime,
                       created_by=None, source: str = PriceSource.STAFF,
                       now: datetime | None = None) -> MeterPrice:
    _check_amount(price_per_unit_usd, allow_zero=True, field=money.PRICE_FIELD)
    return _close_and_open(MeterPrice.objects.filter(meter=meter), MeterPrice(
        meter=meter, price_per_unit_usd=price_per_unit_usd, starts_at=starts_at, source=source,
        created_by=created_by,
    ), now=now)


def change_credit_rate(*, credits_per_usd: Decimal, starts_at: datetime,
                       created_by=None, now: datetime | None = None) -> CreditRate:
    _check_amount(credits_per_usd, allow_zero=False, field=money.RATE_FIELD)
    return _close_and_open(CreditRate.objects.all(), CreditRate(
        credits_per_usd=credits_per_usd, starts_at=starts_at, created_by=created_by,
    ), now=now)


def change_plan_markup(*, plan: str, multiplier: Decimal, starts_at: datetime,
                       created_by=None, now: datetime | None = None) -> PlanMarkup:
    if plan not in Plan.values:
        raise PriceChangeError(f"unknown plan {plan!r}")
    _check_amount(multiplier, allow_zero=False, field=money.RATE_FIELD)
    return _close_and_open(PlanMarkup.objects.filter(plan=plan), PlanMarkup(
        plan=plan, multiplier=multiplier, starts_at=starts_at, created_by=created_by,
    ), now=now)


def check_change(series: QuerySet, *, starts_at: datetime) -> None:
    """Raise PriceChangeError unless a row starting at `starts_at` may follow `series`.

    Also used by admin forms to show the error beside the field before saving.
    """
    if not isinstance(starts_at, datetime) or starts_at.tzinfo is None:
        raise PriceChangeError("starts_at must be a timezone-aware datetime")
    latest = series.order_by("-starts_at").first()
    if latest is None:
        return
    if starts_at <= latest.starts_at:
        raise PriceChangeError(
            f"the new price must start after the current one ({latest.starts_at.isoformat()})"
        )
    if latest.ends_at is not None and latest.ends_at > starts_at:
        raise PriceChangeError(
            f"the previous row runs until {latest.ends_at.isoformat()}: start then or later"
        )


def _close_and_open(series: QuerySet, new: Model, *, now: datetime | None) -> Model:
    """`now` is the moment of the change (the clock, for tests that build a history)."""
    new.starts_at = effective_start(new.starts_at, now=now)
    with transaction.atomic():
        # Lock the whole series (a handful of rows) so two changes serialise; always in
        # id order, or two changers can each hold a row the other needs (deadlock).
        list(series.select_for_update().order_by("pk").only("pk"))
        check_change(series, starts_at=new.starts_at)
        series.filter(ends_at__isnull=True).update(ends_at=new.starts_at)
        new.save(force_insert=True)  # its post_save signal bumps the price caches' version
    return new


def _check_amount(value, *, allow_zero: bool, field: dict) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise PriceChangeError("amounts must be finite Decimals, never floats")
    if value < 0 or (value == 0 and not allow_zero):
        raise PriceChangeError(f"{value} must be {'0 or more' if allow_zero else 'above 0'}")
    places = field["decimal_places"]
    if value.normalize().as_tuple().exponent < -places:
        raise PriceChangeError(f"{value} has more than {places} decimal places")
    if value >= Decimal(10) ** (field["max_digits"] - places):
        raise PriceChangeError(f"{value} is too large")


def end_model_price(*, model: AIModel, bucket: str, ends_at: datetime, service_tier: str = "",
                    min_input_tokens: int = 0, daily_window: str = "") -> int:
    """Close the open row of one series at `ends_at` with no successor (a cliff tier that
    upstream dropped); returns the rows closed (0 or 1)."""
    if not isinstance(ends_at, datetime) or ends_at.tzinfo is None:
        raise PriceChangeError("ends_at must be a timezone-aware datetime")
    series = ModelPrice.objects.filter(model=model, bucket=bucket, service_tier=service_tier,
                                       min_input_tokens=min_input_tokens,
                                       daily_window=daily_window)
    with transaction.atomic():
        list(series.select_for_update().order_by("pk").only("pk"))
        open_row = series.filter(ends_at__isnull=True).first()
        if open_row is None:
            return 0
        if open_row.starts_at >= ends_at:
            raise PriceChangeError(
                f"the open row starts at {open_row.starts_at.isoformat()}: end it later"
            )
        closed = series.filter(pk=open_row.pk).update(ends_at=ends_at)
        catalogue_changed()  # update() sends no signal: tell the price caches
        return closed
