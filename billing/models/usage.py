"""Usage events (what a platform reported, what it cost, the entry that charged it) and
the daily rollup of them.

A row exists only for a recorded event (charged); a rejected event leaves no
trace, so its key can be sent again. Every foreign key is PROTECT: a usage
event is evidence for a ledger entry and must outlive whatever it points at. Those to
reference data (model, meter, user, API key) are checked by verify_ledger, not by a
database constraint checked at every insert (docs/decisions.md, "One entry per charge").
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from billing import money

# A meter quantity is held like credits: 14 digits before the point and six after.
QUANTITY_FIELD = money.CREDITS_FIELD
# The rollup sums many events' quantities, hence more room before the point.
QUANTITY_SUM_FIELD = {"max_digits": 26, "decimal_places": money.CREDIT_PLACES}


class UsageType(models.TextChoices):
    AI_TOKENS = "ai_tokens", "AI tokens"
    INFRASTRUCTURE = "infrastructure", "Infrastructure"


class UsageEvent(models.Model):
    # No index of its own: the unique (organization, idempotency_key) index leads with it.
    # A second, organization-only index tempts the planner into scanning a whole org when
    # its statistics are stale; the key lookups of every batch must use the unique one.
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="usage_events",
        db_index=False,
    )
    # The client's key as sent; the ledger entry carries it as `usage:<key>`.
    idempotency_key = models.CharField(max_length=200)
    type = models.CharField(max_length=20, choices=UsageType.choices)
    # No index: reports and filters go by `resource`, through usage_org_resource_idx.
    ai_model = models.ForeignKey(
        "billing.AIModel", null=True, blank=True, on_delete=models.PROTECT,
        related_name="usage_events", db_constraint=False, db_index=False,
    )
    meter = models.ForeignKey(
        "billing.Meter", null=True, blank=True, on_delete=models.PROTECT,
        related_name="usage_events", db_constraint=False, db_index=False,
    )
    # The model or meter the event was priced as (the resolved model's name, the meter's code):
    # what reports group by. `name_sent` keeps the model name exactly as the client sent it.
    resource = models.CharField(max_length=200)
    name_sent = models.CharField(
        max_length=200, blank=True, default="",
        help_text="The model name as sent, e.g. gpt-4o-2024-08-06 for the model gpt-4o.",
    )
    provider = models.CharField(max_length=50, blank=True)
    service_tier = models.CharField(max_length=20, blank=True)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cached_input_tokens = models.BigIntegerField(default=0)
    cache_write_tokens = models.BigIntegerField(default=0)
    reasoning_tokens = models.BigIntegerField(default=0)
    # Meter units for infrastructure; all tokens (input + output) for AI.
    quantity = models.DecimalField(**QUANTITY_FIELD)
    operation = models.CharField(max_length=100, blank=True)
    # Indexed: the transactions page's user filter finds the user's events by it.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="usage_events", db_constraint=False,
    )
    user_label = models.CharField(max_length=254, blank=True, help_text="The user as sent.")
    # No index: the API-key filter goes by the entry's actor, which carries the key.
    api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, blank=True, on_delete=models.PROTECT,
        related_name="usage_events", db_constraint=False, db_index=False,
    )
    occurred_at = models.DateTimeField()
    occurred_at_sent = models.BooleanField(
        default=True, help_text="False when the client left occurred_at out (then not compared)."
    )
    received_at = models.DateTimeField(default=timezone.now)
    fingerprint = models.CharField(
        max_length=64, help_text="Digest of the normalised event, occurred_at excluded."
    )
    breakdown = models.JSONField(
        default=dict, help_text="Quantities, price rows, USD cost, markup, rate and credits."
    )
    cost_usd = models.DecimalField(**money.USD_FIELD)
    markup = models.DecimalField(**money.RATE_FIELD)
    credits_per_usd = models.DecimalField(**money.RATE_FIELD)
    credits = models.DecimalField(**money.CREDITS_FIELD)
    balance_after = models.DecimalField(**money.CREDITS_FIELD)
    # The usage entry of the charge that took this event's credits: one entry per charge
    # (older entries: one per event). Null only for an event that cost nothing (no ledger
    # entry can be zero). Indexed: the entry page lists its events, verify_ledger reads them.
    entry = models.ForeignKey(
        "billing.LedgerEntry", null=True, blank=True, on_delete=models.PROTECT,
        related_name="usage_events",
    )

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"], name="usage_key_per_org"
            ),
            models.CheckConstraint(
                condition=(
                    Q(type="ai_tokens", ai_model__isnull=False, meter__isnull=True)
                    | Q(type="infrastructure", meter__isnull=False, ai_model__isnull=True)
                ),
                name="usage_resource_matches_type",
            ),
            models.CheckConstraint(condition=Q(credits__gte=0), name="usage_credits_not_negative"),
            models.CheckConstraint(
                condition=Q(credits=0) | Q(entry__isnull=False), name="usage_charge_has_entry"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-occurred_at"], name="usage_org_recent_idx"),
            # The transactions page's model-or-meter filter: without it, a name with few
            # or no events reads every event of the org.
            models.Index(fields=["organization", "resource"], name="usage_org_resource_idx"),
        ]

    def __str__(self):
        return f"{self.idempotency_key} ({self.resource}, {self.credits} credits)"


# The daily rollup: what runway, summaries and charts read instead of raw events. One row
# per org, UTC day of occurred_at and dimension values, written by billing.usage.rollup.totals in
# the transaction that charges the events it sums. Dimensions are never NULL (an empty
# string for none) so the unique constraint really is unique.
class DailyUsage(models.Model):
    # Indexed through the unique constraint below, which leads with it.
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="daily_usage",
        db_index=False,
    )
    day = models.DateField(help_text="UTC date of occurred_at.")
    usage_type = models.CharField(max_length=20)
    resource = models.CharField(max_length=200, help_text="Model or meter code.")
    operation = models.CharField(max_length=100, blank=True, default="")
    user_label = models.CharField(max_length=254, blank=True, default="")
    event_count = models.BigIntegerField(default=0)
    quantity = models.DecimalField(default=0, **QUANTITY_SUM_FIELD)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cost_usd = models.DecimalField(default=0, **money.USD_FIELD)
    credits = models.DecimalField(default=0, **money.CREDITS_FIELD)

    class Meta:
        ordering = ["-day", "usage_type", "resource", "operation", "user_label"]
        verbose_name_plural = "daily usage"
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "day", "usage_type", "resource", "operation",
                        "user_label"],
                name="daily_usage_dimensions",
            ),
            models.CheckConstraint(condition=Q(event_count__gte=0), name="daily_usage_count"),
        ]
        # The unique index leads with (organization, day): it serves every report's range scan.

    def __str__(self):
        return f"{self.day} {self.resource} {self.operation or '-'}: {self.credits}"
