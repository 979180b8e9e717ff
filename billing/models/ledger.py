"""Credit accounts, grants and the append-only ledger.

The ledger table is protected three times: these model and queryset methods,
a PostgreSQL trigger (migration 0002) and a read-only admin. Every foreign key
into it, or into grants and accounts, is PROTECT so no cascade ever deletes.
"""

from datetime import UTC, datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from billing import money


class ImmutableLedgerError(Exception):
    """Ledger rows are written once and never changed or removed."""


class CreditAccount(models.Model):
    organization = models.OneToOneField(
        "accounts.Organization", on_delete=models.PROTECT, related_name="credit_account"
    )
    # The running balance and chain head, so posting never reads the ledger back.
    balance = models.DecimalField(default=0, **money.CREDITS_FIELD)
    last_hash = models.CharField(max_length=64, default="")
    entry_count = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)
    # The highest balance level a listener watches (billing/ledger/listeners.py); null: none.
    watch_level = models.DecimalField(null=True, blank=True, **money.CREDITS_FIELD)

    class Meta:
        ordering = ["organization__name"]
        permissions = [("post_adjustment", "Can post credit adjustments")]

    def __str__(self):
        return f"Credits of {self.organization}"

    @property
    def in_debt(self) -> bool:
        return self.balance < 0


class GrantKind(models.TextChoices):
    PROMOTIONAL = "promotional", "Promotional"
    BONUS = "bonus", "Bonus"
    ADJUSTMENT = "adjustment", "Adjustment"
    PAID = "paid", "Paid"


# Burn-down tie-break: free credits go before paid ones.
GRANT_KIND_RANK = {
    GrantKind.PROMOTIONAL: 0,
    GrantKind.BONUS: 1,
    GrantKind.ADJUSTMENT: 2,
    GrantKind.PAID: 3,
}
DEFAULT_PRIORITY = 100
NO_EXPIRY = datetime.max.replace(tzinfo=UTC)


class CreditGrant(models.Model):
    """A bucket of credits. `remaining` changes only through ledger allocations."""

    account = models.ForeignKey(CreditAccount, on_delete=models.PROTECT, related_name="grants")
    kind = models.CharField(max_length=20, choices=GrantKind.choices)
    amount = models.DecimalField(**money.CREDITS_FIELD)
    remaining = models.DecimalField(**money.CREDITS_FIELD)
    debt_repaid = models.DecimalField(default=0, **money.CREDITS_FIELD)
    priority = models.IntegerField(default=DEFAULT_PRIORITY)
    expires_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
        help_text="For a bonus grant: the paid grant it came with.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["account", "priority", "expires_at", "created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="grant_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=models.F("amount")),
                name="grant_remaining_within_amount",
            ),
        ]
        indexes = [
            models.Index(
                fields=["account"], name="grant_live_idx", condition=Q(expired_at__isnull=True)
            ),
            models.Index(
                fields=["expires_at"], name="grant_expiry_due_idx",
                condition=Q(expired_at__isnull=True, expires_at__isnull=False),
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} grant #{self.pk} ({self.remaining}/{self.amount})"

    @property
    def is_live(self) -> bool:
        return self.expired_at is None

    def burn_order_key(self):
        return (
            self.priority,
            self.expires_at is None,
            # Grants without expiry tie here, so kind decides before creation time.
            self.expires_at or NO_EXPIRY,
            GRANT_KIND_RANK[self.kind],
            self.created_at,
            self.pk,
        )


class EntryKind(models.TextChoices):
    PURCHASE = "purchase", "Purchase"
    BONUS = "bonus", "Bonus"
    USAGE = "usage", "Usage"
    REFUND = "refund", "Refund"
    ADJUSTMENT = "adjustment", "Adjustment"
    TOPUP = "topup", "Auto-topup"
    EXPIRY = "expiry", "Expiry"
    REVERSAL = "reversal", "Reversal"
    DISPUTE = "dispute", "Dispute (chargeback)"


class ActorType(models.TextChoices):
    USER = "user", "User"
    API_KEY = "api_key", "API key"
    SYSTEM = "system", "System job"


class LedgerQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ImmutableLedgerError("ledger rows cannot be updated")

    def delete(self):
        raise ImmutableLedgerError("ledger rows cannot be deleted")

    _raw_delete = delete

    def bulk_update(self, objs, fields, batch_size=None):
        raise ImmutableLedgerError("ledger rows cannot be updated")


class AppendOnlyModel(models.Model):
    objects = LedgerQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableLedgerError(f"{type(self).__name__} rows cannot be updated")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableLedgerError(f"{type(self).__name__} rows cannot be deleted")


class LedgerEntry(AppendOnlyModel):
    # No index of its own: the composite indexes below lead with account, and a lone
    # account index tempts the planner into scanning a whole account for one key.
    account = models.ForeignKey(CreditAccount, on_delete=models.PROTECT, related_name="entries",
                                db_index=False)
    seq = models.PositiveBigIntegerField(help_text="Position in the account's chain, from 1.")
    kind = models.CharField(max_length=20, choices=EntryKind.choices)
    amount = models.DecimalField(**money.CREDITS_FIELD)
    balance_after = models.DecimalField(**money.CREDITS_FIELD)
    actor_type = models.CharField(max_length=10, choices=ActorType.choices)
    # Reference data: no database constraint (verify_ledger checks they point somewhere);
    # indexed for the transactions page's user and API-key filters.
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="ledger_entries", db_constraint=False,
    )
    actor_api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, blank=True, on_delete=models.PROTECT,
        related_name="ledger_entries", db_constraint=False,
    )
    actor_label = models.CharField(max_length=254)
    reason = models.TextField(blank=True)
    idempotency_key = models.CharField(max_length=255)
    fingerprint = models.CharField(
        max_length=64, help_text="Digest of the request, to tell a replay from a conflict."
    )
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    key_id = models.CharField(
        max_length=32, blank=True, default="",
        help_text="Id of the chain key that signed this entry (empty: an unkeyed v1 entry).")
    # New entries: v3 (billing/ledger/chain.py). Rows written before the column hold ''
    # (v1 when unkeyed, else v2): the column came without rewriting the append-only table.
    chain_version = models.CharField(
        max_length=4, blank=True, default="v3", db_default="",
        help_text="The encoding its hash covers: v3; empty for entries written before it "
                  "(v1 when unkeyed, else v2).")
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "ledger entries"
        permissions = [("reverse_entry", "Can reverse ledger entries")]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "idempotency_key"], name="entry_idempotency_per_account"
            ),
            models.UniqueConstraint(fields=["account", "seq"], name="entry_seq_per_account"),
            models.CheckConstraint(
                condition=~Q(kind="usage") | Q(balance_after__gte=0),
                name="usage_never_overdraws",
            ),
            models.CheckConstraint(condition=~Q(amount=0), name="entry_amount_nonzero"),
        ]
        indexes = [
            models.Index(fields=["account", "-id"], name="entry_account_recent_idx"),
            models.Index(fields=["account", "kind", "-id"], name="entry_account_kind_idx"),
            models.Index(fields=["account", "created_at"], name="entry_account_created_idx"),
            # The transactions page's "by amount" order, both ways (id breaks ties).
            models.Index(fields=["account", "amount", "id"], name="entry_account_amount_idx"),
        ]

    def __str__(self):
        return f"#{self.pk} {self.kind} {self.amount}"


class GrantAllocation(AppendOnlyModel):
    """One change to one grant's remaining, caused by one entry.

    Positive when an entry fills a grant, negative when it draws on one, so a
    grant's remaining is always the sum of its allocations, and finance can
    tell paid credits consumed from bonus ones.
    """

    entry = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="allocations")
    grant = models.ForeignKey(CreditGrant, on_delete=models.PROTECT, related_name="allocations")
    amount = models.DecimalField(**money.CREDITS_FIELD)

    class Meta:
        ordering = ["entry_id", "id"]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="allocation_nonzero")]

    def __str__(self):
        return f"{self.amount} on grant #{self.grant_id} by entry #{self.entry_id}"
