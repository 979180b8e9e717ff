"""Disputes (chargebacks) of a charge we made (a purchase or a topup), as Stripe reports them.

Credits are taken while Stripe holds the disputed funds (not during an inquiry)
and given back when the funds are reinstated (won, also on appeal). Staff see
each dispute on the purchase and on the organisation. docs/stripe.md, "Disputes".
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from billing import money


class DisputeStatus(models.TextChoices):
    INQUIRY = "inquiry", "Inquiry (no funds withdrawn)"
    OPEN = "open", "Open"
    APPEAL = "appeal", "Appealed (credits kept taken)"
    WON = "won", "Won (credits restored)"
    LOST = "lost", "Lost (credits kept taken)"
    CLOSED = "closed", "Closed with no funds withdrawn"


# Still in Stripe's hands: the org is flagged for staff.
UNSETTLED_DISPUTES = (DisputeStatus.INQUIRY, DisputeStatus.OPEN, DisputeStatus.APPEAL)
# The statuses in which Stripe holds the disputed amount away from us.
FUNDS_WITHDRAWN = frozenset({DisputeStatus.OPEN, DisputeStatus.LOST, DisputeStatus.APPEAL})


class Dispute(models.Model):
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="disputes"
    )
    # The charge disputed: a purchase's, or an auto-topup's (exactly one of the two).
    purchase = models.ForeignKey(
        "billing.Purchase", null=True, blank=True, on_delete=models.PROTECT,
        related_name="disputes"
    )
    topup_attempt = models.ForeignKey(
        "billing.TopupAttempt", null=True, blank=True, on_delete=models.PROTECT,
        related_name="disputes"
    )
    dispute_id = models.CharField(max_length=255, unique=True, help_text="Stripe's dp_… id.")
    charge_id = models.CharField(max_length=255, blank=True)
    amount_minor = models.PositiveBigIntegerField(help_text="Disputed, in minor units.")
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=DisputeStatus.choices,
                              default=DisputeStatus.OPEN)
    stripe_status = models.CharField(max_length=30, blank=True,
                                     help_text="Stripe's status of the dispute, as last applied.")
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
        constraints = [models.CheckConstraint(
            condition=(Q(purchase__isnull=False) & Q(topup_attempt__isnull=True))
            | (Q(purchase__isnull=True) & Q(topup_attempt__isnull=False)),
            name="dispute_of_one_charge")]

    def __str__(self):
        return f"Dispute {self.dispute_id} ({self.get_status_display()})"
