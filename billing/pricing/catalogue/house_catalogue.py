"""Our own side of the price list: the meters, the credit rate and the plan markups.

Seeded once with the values below, then changed by staff through
billing.pricing.catalogue.changes (effective-dated, never edited in place). Seeding
only adds what is missing, so staff changes are never overwritten.
"""

from decimal import Decimal

from accounts.models import Plan
from billing.models.pricing import (
    EPOCH,
    CreditRate,
    Meter,
    MeterCategory,
    MeterPrice,
    PlanMarkup,
    PriceSource,
)
from billing.pricing.catalogue.resolution import catalogue_changed

# 1 credit = 1 US cent of marked-up cost: easy to read on an invoice, and six
# decimal places still resolve a single cheap token.
INITIAL_CREDITS_PER_USD = Decimal("100")
# Markup on provider cost: Professional pays list + 20%; Enterprise + 10%
# (volume commitment); Free + 50% (it has no usage billing today, but a row
# keeps every plan priceable should that change).
INITIAL_MARKUPS = {
    Plan.FREE: Decimal("1.50"),
    Plan.PROFESSIONAL: Decimal("1.20"),
    Plan.ENTERPRISE: Decimal("1.10"),
}
# The five seeded meters, with list prices in line with the big clouds (USD per unit).
INITIAL_METERS = (
    ("compute.vcpu_seconds", MeterCategory.COMPUTE, "vCPU-second", Decimal("0.000012"),
     "CPU time: one vCPU for one second (about $0.043 per vCPU-hour)."),
    ("compute.gpu_seconds", MeterCategory.COMPUTE, "GPU-second", Decimal("0.0007"),
     "Accelerator time: one data-centre GPU for one second (about $2.52 per GPU-hour)."),
    ("storage.gb_hours", MeterCategory.STORAGE, "GB-hour", Decimal("0.00004"),
     "Stored data: one GB kept for one hour (about $0.029 per GB-month)."),
    ("bandwidth.egress_gb", MeterCategory.BANDWIDTH, "GB", Decimal("0.09"),
     "Data sent out of the platform to the internet."),
    ("data_ops.requests", MeterCategory.DATA_OPS, "request", Decimal("0.0000004"),
     "Data API operations (reads, writes, lists): $0.40 per million."),
)


def seed_meters() -> tuple[int, int]:
    """Add the meters and first prices that are missing: (meters added, prices added)."""
    meters = {m.code: m for m in Meter.objects.all()}
    new = [
        Meter(code=code, category=category, unit=unit, description=text)
        for code, category, unit, _, text in INITIAL_METERS if code not in meters
    ]
    Meter.objects.bulk_create(new)
    meters = {m.code: m for m in Meter.objects.filter(code__in=[m[0] for m in INITIAL_METERS])}
    priced = set(MeterPrice.objects.values_list("meter_id", flat=True))
    prices = [
        MeterPrice(meter=meters[code], price_per_unit_usd=price, starts_at=EPOCH,
                   source=PriceSource.STAFF)
        for code, _, _, price, _ in INITIAL_METERS if meters[code].pk not in priced
    ]
    MeterPrice.objects.bulk_create(prices)
    if new or prices:  # bulk_create sends no signal: tell the price caches
        catalogue_changed()
    return len(new), len(prices)


def seed_rate_and_markups() -> tuple[int, int]:
    """Add the credit rate and plan markups when missing: (rates added, markups added)."""
    rates_added = 0
    if not CreditRate.objects.exists():
        CreditRate.objects.create(credits_per_usd=INITIAL_CREDITS_PER_USD, starts_at=EPOCH)
        rates_added = 1
    have = set(PlanMarkup.objects.values_list("plan", flat=True))
    markups = [
        PlanMarkup(plan=plan, multiplier=multiplier, starts_at=EPOCH)
        for plan, multiplier in INITIAL_MARKUPS.items() if plan not in have
    ]
    PlanMarkup.objects.bulk_create(markups)
    if markups:  # bulk_create sends no signal: tell the price caches
        catalogue_changed()
    return rates_added, len(markups)
