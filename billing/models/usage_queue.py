"""The asynchronous usage queue (docs/api.md, "Asynchronous mode"): each accepted event as
sent, until a worker charges it, and then the result it got.

A row is written by the accept path (one INSERT for the whole request) and updated once,
by the worker that charged it, in the transaction of the charge itself: a row still
`queued` has not been charged, whatever happened to the worker that last tried. Rows
are not unique by key: a key sent again is queued again and the worker answers it the
way a synchronous batch would (duplicate, conflict, or a new charge after a rejection).
"""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q

from billing import money


class QueueStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    CHARGED = "charged", "Charged"
    DUPLICATE = "duplicate", "Duplicate"
    REJECTED = "rejected", "Rejected"


class QueuedUsageEvent(models.Model):
    # Indexed through the two indexes below, which lead with it.
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="queued_usage",
        db_index=False,
    )
    idempotency_key = models.CharField(max_length=200)
    # The event as the client sent it (validated; Decimals as strings), parsed again by the
    # worker with the same code as the synchronous path.
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        db_index=False,
    )
    received_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=QueueStatus.choices,
                              default=QueueStatus.QUEUED)
    credits = models.DecimalField(null=True, blank=True, **money.CREDITS_FIELD)
    balance_after = models.DecimalField(null=True, blank=True, **money.CREDITS_FIELD)
    error = models.JSONField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True,
                                        help_text="When a worker charged, or refused, it.")

    class Meta:
        ordering = ["-id"]
        verbose_name = "queued usage event"
        indexes = [
            # The workers' pick: an org's pending rows in arrival order (small: queued only).
            models.Index(fields=["organization", "id"], name="usage_queue_pending",
                         condition=Q(status="queued")),
            # GET /api/v1/usage-events/<key>: the latest send of a key.
            models.Index(fields=["organization", "idempotency_key", "-id"],
                         name="usage_queue_key"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="queued", processed_at__isnull=True)
                | (~Q(status="queued") & Q(processed_at__isnull=False)),
                name="usage_queue_processed_when_decided",
            ),
        ]

    def __str__(self):
        return f"{self.idempotency_key} ({self.status})"
