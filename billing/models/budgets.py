"""Monthly budgets in credits, per API key or per user (the event's `user`), and what each
has used in each UTC calendar month (docs/budgets.md).

A budget's months are kept by the charge that spends them, under the account lock, as
totals (one row per budget and month, credits added); the rows also remember which
notifications (80% and 100%) have been claimed that month, so each is sent once.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from billing import money


class BudgetKind(models.TextChoices):
    API_KEY = "api_key", "API key"
    USER = "user", "User"


class Budget(models.Model):
    # Indexed through the unique constraints below, which lead with it.
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="budgets",
        db_index=False,
    )
    api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, blank=True, on_delete=models.PROTECT,
        related_name="budgets", db_index=False,
    )
    user_label = models.CharField(
        max_length=254, blank=True, help_text="The user's email as events send it (lower case).")
    monthly_limit = models.DecimalField(**money.CREDITS_FIELD)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["api_key_id", "user_label"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(api_key__isnull=False, user_label="")
                           | (Q(api_key__isnull=True) & ~Q(user_label=""))),
                name="budget_one_subject"),
            models.UniqueConstraint(fields=["organization", "api_key"],
                                    condition=Q(api_key__isnull=False),
                                    name="budget_per_api_key"),
            models.UniqueConstraint(fields=["organization", "user_label"],
                                    condition=~Q(user_label=""), name="budget_per_user"),
            models.CheckConstraint(condition=Q(monthly_limit__gte=0),
                                   name="budget_limit_not_negative"),
        ]

    def __str__(self):
        subject = f"API key {self.api_key.name}" if self.api_key_id else self.user_label
        return f"Monthly budget of {subject}"

    @property
    def kind(self) -> str:
        return BudgetKind.API_KEY if self.api_key_id else BudgetKind.USER


class BudgetMonth(models.Model):
    """What one budget used in one month: written only as totals by the charges."""

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="+", db_index=False,
    )
    month = models.DateField(help_text="The first day of the UTC month.")
    # Clearing a budget forgets its months (docs/budgets.md).
    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="months")
    credits = models.DecimalField(default=0, **money.CREDITS_FIELD)
    # When the 80% and the 100% notifications were claimed (once each per month).
    warned_at = models.DateTimeField(null=True, blank=True)
    exhausted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-month"]
        constraints = [
            # The charges' upsert target, and the index of their reads under the lock.
            models.UniqueConstraint(fields=["organization", "month", "budget"],
                                    name="budget_month_per_budget"),
        ]

    def __str__(self):
        return f"{self.budget} in {self.month:%Y-%m}: {self.credits}"
