"""Prices: AI models and meters, the credit rate and plan markups.

Every price is effective-dated. A change closes the row in force (ends_at =
the new row's starts_at) and opens a new one, through billing.pricing.catalogue.changes;
a price is never edited in place, so a past event can always be re-explained
by the rows that were in force at its occurred_at. Each table keeps at most
one open row per series (a partial unique index).
"""

import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Plan
from billing import money

# Where a price with no start date starts (genai-prices' convention).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class PriceSource(models.TextChoices):
    GENAI_PRICES = "genai-prices", "genai-prices"
    STAFF = "staff", "Staff"


class UsageBucket(models.TextChoices):
    """Billable token buckets; see billing.pricing.quotes.price_book.split_tokens."""

    INPUT = "input", "Input (uncached)"
    CACHED_INPUT = "cached_input", "Cached input"
    CACHE_WRITE = "cache_write", "Cache write"
    OUTPUT = "output", "Output"
    REASONING = "reasoning", "Reasoning"
    # A fee per request (genai-prices' requests_kcount), stored per million requests like
    # every other bucket, so one event costs price_per_million_usd / 1,000,000.
    REQUEST = "request", "Per request"


class ServiceTier(models.TextChoices):
    DEFAULT = "", "Default"
    BATCH = "batch", "Batch"
    FLEX = "flex", "Flex"
    PRIORITY = "priority", "Priority"


class MeterCategory(models.TextChoices):
    COMPUTE = "compute", "Compute"
    STORAGE = "storage", "Storage"
    BANDWIDTH = "bandwidth", "Bandwidth"
    DATA_OPS = "data_ops", "Data operations"


def _period_constraints(prefix: str) -> list:
    return [
        models.CheckConstraint(
            condition=Q(ends_at__isnull=True) | Q(ends_at__gt=F("starts_at")),
            name=f"{prefix}_ends_after_start",
        ),
    ]


class EffectiveDated(models.Model):
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True, help_text="Empty while in force.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True

    def in_force_at(self, moment) -> bool:
        return self.starts_at <= moment and (self.ends_at is None or moment < self.ends_at)


class AIProvider(models.Model):
    """A provider as genai-prices describes it, for resolving model names (docs/api.md).

    Providers are tried in `position` order: with no provider on the event, the first whose
    `model_match` matches the name is searched; `provider_match` says which provider names
    sent by clients mean this one; `fallback_providers` are searched after its own models
    (Azure serves OpenAI's models, for one).
    """

    slug = models.CharField(max_length=50, unique=True)
    name = models.CharField(max_length=200, blank=True)
    position = models.PositiveIntegerField(default=0)
    model_match = models.JSONField(
        null=True, blank=True, help_text="Match rule on the model name (see AIModel.match_rule)."
    )
    provider_match = models.JSONField(
        null=True, blank=True, help_text="Match rule on the provider an event names."
    )
    fallback_providers = models.JSONField(
        default=list, blank=True, help_text="Slugs whose models this provider also serves."
    )

    class Meta:
        ordering = ["position", "slug"]
        verbose_name = "AI provider"

    def __str__(self):
        return self.slug

    def save(self, *args, **kwargs):
        self.slug = self.slug.strip().lower()
        super().save(*args, **kwargs)


class ModelCatalogueVersion(models.Model):
    """One row whose `version` changes with every change to providers, models or rules.

    Each process caches the resolution rules and checks this one value per batch. The value
    is fresh on every change (a UUID, never an incremented number), so a change that was
    rolled back can never leave a cache believing it is current.
    """

    version = models.UUIDField(default=uuid.uuid4)

    def __str__(self):
        return str(self.version)


class AIModel(models.Model):
    """A model as events name it. Names are stored lower-case and matched that way."""

    provider = models.CharField(max_length=50)
    name = models.CharField(max_length=200)
    display_name = models.CharField(max_length=200, blank=True)
    active = models.BooleanField(default=True, help_text="Inactive models are refused.")
    default_for_name = models.BooleanField(
        default=False,
        help_text="Used when an event names this model without a provider and several "
        "providers offer a model of this name (one per name).",
    )
    match_rule = models.JSONField(
        null=True, blank=True,
        help_text='Which names mean this model, as genai-prices writes it: {"equals": "..."}, '
        '{"starts_with": "..."}, {"ends_with": "..."}, {"contains": "..."}, {"regex": "..."}, '
        '{"or": [rules]} or {"and": [rules]}. Empty: the exact name only.',
    )
    position = models.PositiveIntegerField(
        default=0, help_text="Rules are tried in this order within the provider (smallest first)."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["provider", "name"]
        verbose_name = "AI model"
        constraints = [
            models.UniqueConstraint(fields=["provider", "name"], name="aimodel_provider_name"),
            models.UniqueConstraint(
                fields=["name"], condition=Q(default_for_name=True),
                name="aimodel_one_default_per_name",
            ),
        ]
        indexes = [models.Index(fields=["name"], name="aimodel_name_idx")]

    def __str__(self):
        return f"{self.provider}/{self.name}"

    def save(self, *args, **kwargs):
        self.name = self.name.strip().lower()
        self.provider = self.provider.strip().lower()
        super().save(*args, **kwargs)


class ModelPrice(EffectiveDated):
    """USD per million tokens of one bucket, optionally for a service tier and an input size.

    Cliff tiers: the row with the largest min_input_tokens not above the event's
    total input tokens prices all of that bucket's tokens.
    """

    model = models.ForeignKey(AIModel, on_delete=models.PROTECT, related_name="prices")
    bucket = models.CharField(max_length=20, choices=UsageBucket.choices)
    service_tier = models.CharField(
        max_length=10, choices=ServiceTier.choices, default=ServiceTier.DEFAULT, blank=True
    )
    min_input_tokens = models.PositiveBigIntegerField(default=0)
    daily_window = models.CharField(
        max_length=11, blank=True, default="",
        help_text="UTC time of day when this row replaces the all-day row, e.g. 00:30-16:30 "
        "(peak prices); empty: all day.",
    )
    price_per_million_usd = models.DecimalField(
        **money.PRICE_FIELD,
        help_text="USD per million tokens; for the per-request bucket, per million requests "
        "($0.005 a request is 5000).",
    )
    source = models.CharField(max_length=20, choices=PriceSource.choices, default=PriceSource.STAFF)

    class Meta:
        ordering = ["model", "bucket", "service_tier", "min_input_tokens", "-starts_at"]
        constraints = [
            # Zero is a real price (free models); negative never is.
            models.CheckConstraint(
                condition=Q(price_per_million_usd__gte=0), name="modelprice_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(bucket__in=UsageBucket.values), name="modelprice_bucket_valid"
            ),
            models.CheckConstraint(
                condition=Q(service_tier__in=ServiceTier.values), name="modelprice_tier_valid"
            ),
            *_period_constraints("modelprice"),
            models.UniqueConstraint(
                fields=["model", "bucket", "service_tier", "min_input_tokens", "daily_window"],
                condition=Q(ends_at__isnull=True), name="modelprice_one_open_row",
            ),
            models.UniqueConstraint(
                fields=["model", "bucket", "service_tier", "min_input_tokens", "daily_window",
                        "starts_at"],
                name="modelprice_one_row_per_start",
            ),
        ]

    def __str__(self):
        tier = f" {self.service_tier}" if self.service_tier else ""
        cliff = f" from {self.min_input_tokens} input" if self.min_input_tokens else ""
        window = f" {self.daily_window} UTC" if self.daily_window else ""
        return (f"{self.model} {self.bucket}{tier}{cliff}{window}: "
                f"${self.price_per_million_usd:f}/M")


class Meter(models.Model):
    code = models.CharField(max_length=100, unique=True, help_text="e.g. compute.gpu_seconds")
    category = models.CharField(max_length=20, choices=MeterCategory.choices)
    unit = models.CharField(max_length=50, help_text="What one unit of quantity is.")
    description = models.TextField(blank=True)
    active = models.BooleanField(default=True, help_text="Inactive meters are refused.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(category__in=MeterCategory.values), name="meter_category_valid"
            ),
        ]

    def __str__(self):
        return self.code


class MeterPrice(EffectiveDated):
    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="prices")
    price_per_unit_usd = models.DecimalField(**money.PRICE_FIELD)
    source = models.CharField(max_length=20, choices=PriceSource.choices, default=PriceSource.STAFF)

    class Meta:
        ordering = ["meter", "-starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(price_per_unit_usd__gte=0), name="meterprice_not_negative"
            ),
            *_period_constraints("meterprice"),
            models.UniqueConstraint(
                fields=["meter"], condition=Q(ends_at__isnull=True), name="meterprice_one_open_row"
            ),
        ]

    def __str__(self):
        return f"{self.meter} ${self.price_per_unit_usd}/{self.meter.unit}"


class CreditRate(EffectiveDated):
    """How many credits one USD of (marked-up) cost is worth."""

    # A constant column so the one-open-row rule can be a plain partial unique index.
    scope = models.CharField(max_length=10, default="global", editable=False)
    credits_per_usd = models.DecimalField(**money.RATE_FIELD)

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(condition=Q(credits_per_usd__gt=0), name="creditrate_positive"),
            models.CheckConstraint(condition=Q(scope="global"), name="creditrate_scope_global"),
            *_period_constraints("creditrate"),
            models.UniqueConstraint(
                fields=["scope"], condition=Q(ends_at__isnull=True), name="creditrate_one_open_row"
            ),
        ]

    def __str__(self):
        return f"{self.credits_per_usd} credits per USD from {self.starts_at:%Y-%m-%d %H:%M}"


class PlanMarkup(EffectiveDated):
    """Multiplier on provider cost for one plan (1.20 = cost plus 20%)."""

    plan = models.CharField(max_length=20, choices=Plan.choices)
    multiplier = models.DecimalField(**money.RATE_FIELD)

    class Meta:
        ordering = ["plan", "-starts_at"]
        constraints = [
            models.CheckConstraint(condition=Q(multiplier__gt=0), name="planmarkup_positive"),
            models.CheckConstraint(condition=Q(plan__in=Plan.values), name="planmarkup_plan_valid"),
            *_period_constraints("planmarkup"),
            models.UniqueConstraint(
                fields=["plan"], condition=Q(ends_at__isnull=True), name="planmarkup_one_open_row"
            ),
        ]

    def __str__(self):
        return f"{self.plan} x{self.multiplier} from {self.starts_at:%Y-%m-%d %H:%M}"


class ZeroPriceAllowance(models.Model):
    """Staff let this org use a provider whose price is zero for a model other providers
    charge for (docs/api.md, "Zero prices"). Without one, such an event is refused."""

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+"
    )
    provider = models.CharField(max_length=50, help_text="A provider slug: github-copilot")
    reason = models.CharField(max_length=200)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "zero-price allowance"
        constraints = [
            models.UniqueConstraint(fields=["organization", "provider"],
                                    name="zero_price_allowance_per_org_provider"),
        ]

    def __str__(self):
        return f"{self.organization_id}: {self.provider}"
