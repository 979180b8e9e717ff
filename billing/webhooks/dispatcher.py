"""Stripe webhook events: verified, stored once, handled once.

The flow of one delivery:
1. the signature is checked on the raw body (bad -> 400, nothing written);
2. the event is stored by its Stripe id (a redelivery of a processed event -> 200, no work);
3. data Stripe did not embed (the receipt link, the card) is fetched by the handlers'
   `expand` functions, outside any transaction; a fetch that fails is recorded and
   answered 500 like a handler error, so the event is done on redelivery, whole;
4. the handlers registered for the type (registry.py) run in one transaction that also
   marks the event processed, under the event row's lock, so concurrent deliveries of
   one event do the work once;
5. a handler error rolls that back, is recorded on the event and answered 500 (Stripe
   delivers again); a transient fault (database away, lock or statement timeout) is 503.
"""

import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from billing.faults.transient import describe, is_transient
from billing.models import StripeEvent
from billing.payments import stripe_provider
from billing.webhooks.registry import handlers_for

logger = logging.getLogger(__name__)


@dataclass
class WebhookResult:
    status: int
    message: str


def _store(event: dict) -> StripeEvent:
    defaults = {"type": event["type"], "livemode": bool(event.get("livemode")),
                "payload": event}
    try:
        with transaction.atomic():
            record, _ = StripeEvent.objects.get_or_create(event_id=event["id"],
                                                          defaults=defaults)
    except IntegrityError:  # a concurrent delivery stored it first
        record = StripeEvent.objects.get(event_id=event["id"])
    return record


def _warn_of_another_api_version(event: dict) -> None:
    """An endpoint created with another API version sends objects of other shapes than the
    ones we read (docs/stripe.md, "The webhook endpoint"): said with both versions."""
    version = event.get("api_version")
    if version and version != stripe_provider.API_VERSION:
        logger.warning("Stripe event %s (%s) has API version %s, ours is pinned at %s: set "
                       "the webhook endpoint's version to ours (manage.py "
                       "stripe_webhook_setup)", event["id"], event["type"], version,
                       stripe_provider.API_VERSION)


def process_event(event: dict) -> WebhookResult:
    """Handle one verified event; see the module docstring for the guarantees."""
    _warn_of_another_api_version(event)
    record = _store(event)
    if record.processed_at is not None:
        return WebhookResult(200, "already processed")
    obj = (event.get("data") or {}).get("object") or {}
    try:
        calls = [(r.handle, r.expand(obj) if r.expand else obj)
                 for r in handlers_for(event["type"])]
        with transaction.atomic():
            locked = StripeEvent.objects.select_for_update().get(pk=record.pk)
            if locked.processed_at is not None:
                return WebhookResult(200, "already processed")
            for handle, given in calls:
                handle(given)
            locked.processed_at = timezone.now()
            locked.attempts = F("attempts") + 1
            locked.last_error = ""
            locked.save(update_fields=["processed_at", "attempts", "last_error"])
    except Exception as error:
        # With the database away this write fails too; receive() then answers 503.
        StripeEvent.objects.filter(pk=record.pk).update(
            attempts=F("attempts") + 1, last_error=f"{type(error).__name__}: {error}"[:2000]
        )
        if is_transient(error):
            raise
        logger.exception("Stripe event %s (%s) failed", event["id"], event["type"])
        return WebhookResult(500, "handler error; Stripe will retry")
    return WebhookResult(200, "processed" if calls else "ignored")


def receive(*, payload: bytes, signature_header: str | None) -> WebhookResult:
    try:
        event = stripe_provider.construct_event(payload, signature_header)
    except stripe_provider.InvalidSignature as error:
        logger.warning("Stripe webhook refused: %s", error)
        return WebhookResult(400, "invalid signature")
    try:
        return process_event(event)
    except Exception as error:
        if not is_transient(error):
            raise
        logger.warning("Stripe event %s answered 503: %s", event.get("id"), describe(error))
        return WebhookResult(503, "temporarily unavailable; Stripe will deliver again")
