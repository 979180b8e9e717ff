"""Auto-topup: the org's saved card, its settings and every attempt to charge it.

At most one attempt per org is pending at a time (a partial unique index), so
nothing is ever stacked. An attempt has up to MAX_TRIES tries; each try is one
off-session PaymentIntent with its own idempotency key. See docs/stripe.md.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from billing import money
from billing.models.purchases import PaymentProvider, format_minor


class SavedCard(models.Model):
    """The card auto-topup charges: a payment method reference, never a card number."""

    organization = models.OneToOneField(
        "accounts.Organization", on_delete=models.PROTECT, related_name="saved_card"
    )
    provider = models.CharField(max_length=10, choices=PaymentProvider.choices)
    customer_id = models.CharField(max_length=255, blank=True)
    payment_method_id = models.CharField(max_length=255)
    brand = models.CharField(max_length=30, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "auto-topup card"

    def __str__(self):
        return f"{self.brand or 'card'} ending {self.last4 or '????'}"

    @property
    def expiry(self) -> str:
        if not self.exp_month or not self.exp_year:
            return ""
        return f"{self.exp_month:02d}/{self.exp_year}"


class TopupMode(models.TextChoices):
    FIXED = "fixed", "One unit of the package"
    TARGET = "target", "As many units as reach a target balance"


class AutoTopupSettings(models.Model):
    organization = models.OneToOneField(
        "accounts.Organization", on_delete=models.PROTECT, related_name="auto_topup"
    )
    enabled = models.BooleanField(default=False)
    threshold = models.DecimalField(default=0, **money.CREDITS_FIELD)
    package = models.ForeignKey("billing.CreditPackage", null=True, blank=True,
                                on_delete=models.PROTECT, related_name="+")
    mode = models.CharField(max_length=10, choices=TopupMode.choices, default=TopupMode.FIXED)
    target_balance = models.DecimalField(null=True, blank=True, **money.CREDITS_FIELD)
    monthly_cap_minor = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Most auto-topup may charge in a UTC month, in the "
        "package currency's minor units (empty: no cap).")
    # Failed tries in a row, reset by a success; at FAILURE_LIMIT auto-topup turns off.
    consecutive_failures = models.PositiveSmallIntegerField(default=0)
    disabled_reason = models.CharField(max_length=300, blank=True)
    cap_notified_month = models.CharField(max_length=7, blank=True)  # "2026-11": told once
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "auto-topup settings"
        verbose_name_plural = "auto-topup settings"
        constraints = [
            models.CheckConstraint(condition=Q(threshold__gte=0),
                                   name="topup_threshold_not_negative"),
            models.CheckConstraint(
                condition=~Q(mode="target") | Q(target_balance__isnull=False),
                name="topup_target_mode_has_target"),
        ]

    def __str__(self):
        return f"Auto-topup of {self.organization} ({'on' if self.enabled else 'off'})"

    @property
    def cap_display(self) -> str:
        if self.monthly_cap_minor is None or self.package is None:
            return ""
        return format_minor(self.monthly_cap_minor, self.package.currency)


class TopupStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"  # a retry no longer wanted: turned off, or refilled


class TryState(models.TextChoices):
    WAITING = "waiting", "Waiting for its next try"
    CHARGING = "charging", "PaymentIntent sent, answer not settled"
    DONE = "done", "Settled"


class TopupAttempt(models.Model):
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="topup_attempts"
    )
    status = models.CharField(max_length=10, choices=TopupStatus.choices,
                              default=TopupStatus.PENDING)
    try_state = models.CharField(max_length=10, choices=TryState.choices,
                                 default=TryState.WAITING)
    provider = models.CharField(max_length=10, choices=PaymentProvider.choices)
    package = models.ForeignKey("billing.CreditPackage", on_delete=models.PROTECT,
                                related_name="+")
    package_name = models.CharField(max_length=100)
    units = models.PositiveIntegerField()
    credits = models.DecimalField(**money.CREDITS_FIELD)  # base + bonus, all units
    amount_minor = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    balance_at_start = models.DecimalField(**money.CREDITS_FIELD)
    tries = models.PositiveSmallIntegerField(default=0)
    payment_method_id = models.CharField(max_length=255)
    customer_id = models.CharField(max_length=255, blank=True)
    payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    # Refunds and disputes of the charge that paid it (billing/payments/charges.py).
    stripe_charge_id = models.CharField(max_length=255, blank=True, db_index=True)
    amount_refunded_minor = models.PositiveBigIntegerField(default=0)
    credits_refunded = models.DecimalField(default=0, **money.CREDITS_FIELD)
    credits_disputed = models.DecimalField(
        default=0, **money.CREDITS_FIELD,
        help_text="Credits taken back by disputes not (yet) won.")
    # Tries Stripe could not answer in a row (connection, 5xx, rate limit): the backoff.
    unanswered_sends = models.PositiveSmallIntegerField(default=0)
    next_try_at = models.DateTimeField(default=timezone.now)
    charging_since = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    entry = models.OneToOneField("billing.LedgerEntry", null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="topup_attempt")
    created_at = models.DateTimeField(default=timezone.now)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"],
                                name="topup_org_recent_idx")]
        constraints = [
            models.UniqueConstraint(fields=["organization"], condition=Q(status="pending"),
                                    name="one_pending_topup_per_org"),
            models.CheckConstraint(condition=Q(units__gt=0), name="topup_units_positive"),
        ]

    def __str__(self):
        return f"Auto-topup #{self.pk} {self.package_name} x{self.units} ({self.status})"

    @property
    def amount_display(self) -> str:
        return format_minor(self.amount_minor, self.currency)

    def key_for_try(self, number: int) -> str:
        """The idempotency key of one try: Stripe replays a declined answer for a reused key."""
        return f"topup-{self.pk}-try-{number}"
