"""Credit packages, purchases through Stripe Checkout, and the Stripe rows we keep.

A Purchase copies its package (name, credits, price) when it is created, so a
later edit of the package never changes what a past purchase bought or what a
refund takes back.
"""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from billing import money

# ISO 4217 exponents that differ from 2, as Stripe counts minor units.
ZERO_DECIMAL_CURRENCIES = frozenset({
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd",
    "vuv", "xaf", "xof", "xpf",
})
THREE_DECIMAL_CURRENCIES = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})


def currency_exponent(currency: str) -> int:
    code = currency.lower()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def minor_to_major(amount_minor: int, currency: str) -> Decimal:
    """Exact: 4900 usd -> Decimal('49.00'); no rounding is involved."""
    return Decimal(int(amount_minor)).scaleb(-currency_exponent(currency))


def major_to_minor(amount: str, currency: str) -> int:
    """Exact: '49.00' usd -> 4900, the inverse of major_text (ledger metadata keeps money
    as major text with its currency)."""
    return int(Decimal(amount).scaleb(currency_exponent(currency)))


def major_text(amount_minor: int, currency: str) -> str:
    """'49.00' for 4900 usd: exact, ungrouped, for metadata and messages."""
    return str(minor_to_major(amount_minor, currency))


def format_minor(amount_minor: int | None, currency: str) -> str:
    if amount_minor is None:
        return ""
    return f"{minor_to_major(amount_minor, currency):,} {currency.upper()}"


class CreditPackage(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    base_credits = models.DecimalField(**money.CREDITS_FIELD)
    bonus_credits = models.DecimalField(default=0, **money.CREDITS_FIELD)
    price_minor = models.PositiveIntegerField(
        help_text="Price in the currency's minor unit, as Stripe has it (4900 = 49.00 USD)."
    )
    currency = models.CharField(max_length=3, default="usd", help_text="ISO code, lower case.")
    active = models.BooleanField(default=True)
    sort_order = models.IntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["sort_order", "price_minor", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(base_credits__gt=0), name="package_base_positive"),
            models.CheckConstraint(condition=Q(bonus_credits__gte=0),
                                   name="package_bonus_not_negative"),
            models.CheckConstraint(condition=Q(price_minor__gt=0), name="package_price_positive"),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.currency = (self.currency or "").lower()
        super().save(*args, **kwargs)

    @property
    def total_credits(self) -> Decimal:
        return self.base_credits + self.bonus_credits

    @property
    def bonus_percent(self) -> Decimal:
        """The bonus as a share of the base, in percent (exact; the template formats it)."""
        return self.bonus_credits * 100 / self.base_credits

    @property
    def price(self) -> Decimal:
        return minor_to_major(self.price_minor, self.currency)

    @property
    def price_per_credit(self) -> Decimal:
        return self.price / self.total_credits

    @property
    def price_per_thousand_minor(self) -> int:
        """What 1,000 of its credits cost, in the currency's minor units (half up): the
        packages page compares packages by it, as money."""
        per_thousand = Decimal(self.price_minor) * 1000 / self.total_credits
        return int(per_thousand.quantize(Decimal(1), rounding=ROUND_HALF_UP))


class PurchaseStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PAID = "paid", "Paid"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"
    REFUNDED = "refunded", "Refunded"
    PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
    HELD = "held", "Held for staff (amount not explained)"


FULFILLED_STATUSES = frozenset({
    PurchaseStatus.PAID, PurchaseStatus.REFUNDED, PurchaseStatus.PARTIALLY_REFUNDED,
})


class PaymentProvider(models.TextChoices):
    STRIPE = "stripe", "Stripe"
    TEST = "test", "Test (no money moves)"


class Purchase(models.Model):
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="purchases"
    )
    package = models.ForeignKey(
        CreditPackage, null=True, blank=True, on_delete=models.PROTECT, related_name="purchases",
        help_text="The package sold (PROTECT: retire it instead); the snapshot is what was bought.",
    )
    # Snapshot of the package at purchase time.
    package_name = models.CharField(max_length=100)
    base_credits = models.DecimalField(**money.CREDITS_FIELD)
    bonus_credits = models.DecimalField(default=0, **money.CREDITS_FIELD)
    price_minor = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)

    status = models.CharField(
        max_length=20, choices=PurchaseStatus.choices, default=PurchaseStatus.PENDING
    )
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="purchases",
    )
    provider = models.CharField(max_length=10, choices=PaymentProvider.choices)
    stripe_checkout_session_id = models.CharField(
        max_length=255, null=True, blank=True, unique=True,
        help_text="Checkout Session id (cs_local_… for the test provider).",
    )
    checkout_url = models.TextField(blank=True)
    stripe_customer_id = models.CharField(max_length=255, blank=True)
    stripe_payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_charge_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_invoice_id = models.CharField(max_length=255, blank=True)
    receipt_url = models.TextField(blank=True, help_text="Hosted invoice page, else the receipt.")
    amount_paid_minor = models.PositiveBigIntegerField(null=True, blank=True)  # the total
    # What Checkout said makes up the total: subtotal - discount + tax (exclusive tax).
    amount_subtotal_minor = models.PositiveBigIntegerField(null=True, blank=True)
    amount_discount_minor = models.PositiveBigIntegerField(null=True, blank=True)
    amount_tax_minor = models.PositiveBigIntegerField(null=True, blank=True)
    amount_refunded_minor = models.PositiveBigIntegerField(default=0)
    credits_refunded = models.DecimalField(default=0, **money.CREDITS_FIELD)
    credits_disputed = models.DecimalField(
        default=0, **money.CREDITS_FIELD,
        help_text="Credits taken back by disputes not (yet) won.")
    failure_reason = models.CharField(max_length=500, blank=True)

    # Set once at fulfilment, never cleared: the ledger rows this purchase caused.
    entry = models.OneToOneField(
        "billing.LedgerEntry", null=True, blank=True, on_delete=models.PROTECT,
        related_name="purchase",
    )
    bonus_entry = models.OneToOneField(
        "billing.LedgerEntry", null=True, blank=True, on_delete=models.PROTECT,
        related_name="bonus_purchase",
    )
    paid_grant = models.OneToOneField(
        "billing.CreditGrant", null=True, blank=True, on_delete=models.PROTECT,
        related_name="purchase",
    )
    bonus_grant = models.OneToOneField(
        "billing.CreditGrant", null=True, blank=True, on_delete=models.PROTECT,
        related_name="bonus_purchase",
    )

    created_at = models.DateTimeField(default=timezone.now)
    paid_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("refund_purchase", "Can refund purchases"),
                       ("resolve_held_purchase", "Can grant or refund held purchases")]
        indexes = [models.Index(fields=["organization", "-created_at"],
                                name="purchase_org_recent_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(base_credits__gt=0),
                                   name="purchase_base_positive"),
            models.CheckConstraint(condition=Q(bonus_credits__gte=0),
                                   name="purchase_bonus_not_negative"),
            models.CheckConstraint(condition=Q(credits_refunded__gte=0) & Q(
                credits_refunded__lte=models.F("base_credits") + models.F("bonus_credits")),
                name="purchase_refund_within_granted"),
        ]

    def __str__(self):
        return f"Purchase #{self.pk} {self.package_name} ({self.get_status_display()})"

    @property
    def total_credits(self) -> Decimal:
        return self.base_credits + self.bonus_credits

    @property
    def is_fulfilled(self) -> bool:
        return self.entry_id is not None

    @property
    def amount_display(self) -> str:
        return format_minor(self.price_minor, self.currency)

    @property
    def refundable_minor(self) -> int:
        if not self.is_fulfilled and self.status != PurchaseStatus.HELD:
            return 0
        return (self.amount_paid_minor or self.price_minor) - self.amount_refunded_minor

    def save_fields(self, *fields: str) -> None:
        """Save just these fields, stamping updated_at."""
        self.updated_at = timezone.now()
        self.save(update_fields=[*fields, "updated_at"])


class StripeCustomer(models.Model):
    """The org's one Stripe Customer: created at the first checkout and reused."""

    organization = models.OneToOneField(
        "accounts.Organization", on_delete=models.PROTECT, related_name="stripe_customer"
    )
    customer_id = models.CharField(max_length=255, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.customer_id} ({self.organization})"


class StripeEvent(models.Model):
    """Every verified webhook event, stored once by its Stripe id."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    livemode = models.BooleanField(default=False)
    payload = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self):
        return f"{self.event_id} {self.type}"
