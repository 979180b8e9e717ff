"""Low-balance levels per org, and every notification sent to its admins.

Each level is armed until the balance falls below it; then one notification is
sent and the level stays disarmed until the balance rises back to it or above.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from billing import money


class AlertSettings(models.Model):
    organization = models.OneToOneField(
        "accounts.Organization", on_delete=models.PROTECT, related_name="alert_settings"
    )
    warning_level = models.DecimalField(null=True, blank=True, **money.CREDITS_FIELD)
    critical_level = models.DecimalField(null=True, blank=True, **money.CREDITS_FIELD)
    warning_armed = models.BooleanField(default=True)
    critical_armed = models.BooleanField(default=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "low-balance alert settings"
        verbose_name_plural = "low-balance alert settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(warning_level__isnull=True) | Q(critical_level__isnull=True)
                | Q(critical_level__lte=models.F("warning_level")),
                name="alert_critical_not_above_warning"),
        ]

    def __str__(self):
        return f"Alert levels of {self.organization}"


class NotificationKind(models.TextChoices):
    WARNING = "warning", "Balance below the warning level"
    CRITICAL = "critical", "Balance below the critical level"
    TOPUP_FAILED = "topup_failed", "Auto-topup payment failed"
    TOPUP_DISABLED = "topup_disabled", "Auto-topup turned off after failures"
    TOPUP_CAP = "topup_cap", "Auto-topup stopped by the monthly cap"
    BUDGET_WARNING = "budget_warning", "A monthly budget reached 80%"
    BUDGET_EXHAUSTED = "budget_exhausted", "A monthly budget is used up"


class Notification(models.Model):
    """One message to an org's admins (email), kept for the settings page."""

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="billing_notifications"
    )
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    subject = models.CharField(max_length=200)
    text = models.TextField()
    link_name = models.CharField(max_length=50, default="dashboard")  # the portal page linked
    balance = models.DecimalField(**money.CREDITS_FIELD)
    level = models.DecimalField(null=True, blank=True, **money.CREDITS_FIELD)
    runway_days = models.DecimalField(null=True, blank=True, max_digits=10, decimal_places=1)
    recipients = models.TextField(blank=True)  # comma-separated emails
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"],
                                name="notification_org_recent_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.organization})"
