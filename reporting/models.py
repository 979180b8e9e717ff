"""The daily usage rollup: what reports, charts and runway read instead of raw events.

One row per org, UTC day of occurred_at and dimension values; updated in the
same transaction as the charges it sums (billing.usage.ingestion). Dimensions are never
NULL (an empty string for none) so the unique constraint really is unique.
"""

from django.db import models
from django.db.models import Q

CREDITS = {"max_digits": 20, "decimal_places": 6}
USD = {"max_digits": 30, "decimal_places": 16}
QUANTITY = {"max_digits": 26, "decimal_places": 6}


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
    quantity = models.DecimalField(default=0, **QUANTITY)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cost_usd = models.DecimalField(default=0, **USD)
    credits = models.DecimalField(default=0, **CREDITS)

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
