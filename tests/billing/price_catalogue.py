"""A hand-made price catalogue for the pricing tests (no genai-prices)."""

from datetime import UTC, datetime
from decimal import Decimal

from billing.models import AIModel, Meter
from billing.pricing.catalogue.changes import (
    change_credit_rate,
    change_meter_price,
    change_model_price,
    change_plan_markup,
)

T0 = datetime(2020, 1, 1, tzinfo=UTC)


def D(value) -> Decimal:
    return Decimal(str(value))


def rate_and_markup(*, rate="100", markup="1.2", plan="professional", starts_at=T0):
    return (change_credit_rate(credits_per_usd=D(rate), starts_at=starts_at, now=starts_at),
            change_plan_markup(plan=plan, multiplier=D(markup), starts_at=starts_at,
                               now=starts_at))


def ai_model(name="m1", provider="acme", prices=None, **rows):
    """prices: {bucket: price} or {(bucket, tier, min_input): price}, all from T0."""
    model = AIModel.objects.create(provider=provider, name=name)
    for key, price in (prices or {}).items():
        bucket, tier, low = key if isinstance(key, tuple) else (key, "", 0)
        change_model_price(model=model, bucket=bucket, service_tier=tier, min_input_tokens=low,
                           price_per_million_usd=D(price), starts_at=T0, now=T0)
    return model


def meter(code="compute.gpu_seconds", price="0.0007", starts_at=T0):
    m = Meter.objects.create(code=code, category=code.split(".")[0], unit="unit")
    change_meter_price(meter=m, price_per_unit_usd=D(price), starts_at=starts_at,
                       now=starts_at)
    return m
