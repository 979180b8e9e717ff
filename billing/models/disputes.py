"""Disputes (chargebacks) of a purchase's charge, as Stripe reports them.

A dispute takes back the purchase's credits the way a refund of the disputed
amount would; won, it gives them back; lost, they stay taken. Staff see each
dispute on the purchase and on the organisation.
"""

from django.db import models
from django.utils import timezone

from billing import money


class DisputeStatus(models.TextChoices):
    OPEN = "open", "Open"
    WON = "won", "Won (credits restored)"
    LOST = "lost", "Lost (credits kept taken)"


class Dispute(models.Model):
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="disputes"
    )
    purchase = models.ForeignKey(
        "billing.Purchase", on_delete=models.PROTECT, related_name="disputes"
    )
    dispute_id = models.CharField(max_length=255, unique=True, help_text="Stripe's dp_… id.")
    charge_id = models.CharField(max_length=255, blank=True)
    amount_minor = models.PositiveBigIntegerField(help_text="Disputed, in minor units.")
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=DisputeStatus.choices,
                              default=DisputeStatus.OPEN)
    credits_taken = models.DecimalField(default=0, **money.CREDITS_FIELD)
    taken_entry = models.OneToOneField(
        "billing.LedgerEntry", null=True, blank=True, on_delete=models.PROTECT,
        related_name="dispute_taken",
    )
    restored_entry = models.OneToOneField(
        "billing.LedgerEntry", null=True, blank=True, on_delete=models.PROTECT,
        related_name="dispute_restored",
    )
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "status"], name="dispute_org_status_idx")]

    def __str__(self):
        return f"Dispute {self.dispute_id} ({self.get_status_display()})"
