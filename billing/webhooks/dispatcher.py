"""Stripe webhook events: verified, stored once, handled once.

The flow of one delivery:
1. the signature is checked on the raw body (bad -> 400, nothing written);
2. the event is stored by its Stripe id (a redelivery of a processed event -> 200, no work);
3. data Stripe did not embed (the receipt link) is fetched, outside any transaction;
4. the handler runs in one transaction that also marks the event processed, under the event
   row's lock, so concurrent deliveries of one event do the work once;
5. a handler error rolls that transaction back, is recorded on the event in a transaction
   of its own and answered 500, so Stripe delivers again and the work is retried;
6. a transient fault at any step (the database away, a lock or statement timeout) is
   answered 503 instead: nothing was half-written, and Stripe's redelivery does the work.
"""

import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from billing.disputes import chargebacks
from billing.faults.transient import describe, is_transient
from billing.models import PaymentProvider, Purchase, StripeEvent
from billing.payments import stripe_provider as stripe_gateway
from billing.purchases import fulfilment, refunds
from billing.topups import cards, settlement

logger = logging.getLogger(__name__)


@dataclass
class WebhookResult:
    status: int
    message: str


# -- handlers: one per event type, each given the event's object -------------------------------

def _session_completed(session: dict) -> None:
    if session.get("mode") == "setup":  # a card added for auto-topup
        cards.save_card_from_session(session)
        return
    _fulfil_and_keep_card(session)  # unpaid: waits for async_payment_*


def _session_async_succeeded(session: dict) -> None:
    _fulfil_and_keep_card(session)


def _fulfil_and_keep_card(session: dict) -> None:
    result = fulfilment.fulfil_checkout_session(session=session)
    if result.purchase is not None and session.get("payment_status") == "paid":
        cards.save_card_from_session(session, organization=result.purchase.organization)


def _session_async_failed(session: dict) -> None:
    fulfilment.mark_failed(session=session)


def _session_expired(session: dict) -> None:
    fulfilment.mark_expired(session=session)


def _charge_refunded(charge: dict) -> None:
    refunds.apply_charge_refunded(charge=charge)


def _refund_updated(refund: dict) -> None:
    refunds.apply_refund_failed(refund=refund)  # only a failed refund moves credits


def _dispute_created(dispute: dict) -> None:
    chargebacks.apply_dispute_created(dispute=dispute)


def _dispute_closed(dispute: dict) -> None:
    chargebacks.apply_dispute_closed(dispute=dispute)


def _payment_intent(intent: dict) -> None:
    if settlement.attempt_id_of(intent) is not None:  # only topup attempts' intents
        settlement.settle_intent(intent=intent)


HANDLERS = {
    "checkout.session.completed": _session_completed,
    "checkout.session.async_payment_succeeded": _session_async_succeeded,
    "checkout.session.async_payment_failed": _session_async_failed,
    "checkout.session.expired": _session_expired,
    "charge.refunded": _charge_refunded,
    "charge.refund.updated": _refund_updated,
    "charge.dispute.created": _dispute_created,
    "charge.dispute.closed": _dispute_closed,
    "payment_intent.succeeded": _payment_intent,
    "payment_intent.payment_failed": _payment_intent,
}
FULFILLING = {"checkout.session.completed", "checkout.session.async_payment_succeeded"}


# -- processing --------------------------------------------------------------------------------

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


def _with_receipt(event_type: str, obj: dict) -> dict:
    """A paid (or setup) session with its invoice, charge and card expanded, when Stripe
    answers; the embedded session otherwise (receipt link and card are then missed)."""
    if event_type not in FULFILLING:
        return obj
    if obj.get("mode") == "setup":  # the card details live on the expanded setup intent
        if obj.get("status") != "complete":
            return obj
    elif obj.get("payment_status") != "paid":
        return obj
    else:
        purchase = Purchase.objects.filter(stripe_checkout_session_id=obj.get("id")).first()
        if purchase is None or purchase.provider != PaymentProvider.STRIPE:
            return obj
    try:
        return stripe_gateway.retrieve_checkout_session(obj["id"])
    except stripe_gateway.PaymentError as error:
        logger.warning("receipt details for %s not fetched: %s", obj.get("id"), error)
        return obj


def process_event(event: dict) -> WebhookResult:
    """Handle one verified event; see the module docstring for the guarantees."""
    record = _store(event)
    if record.processed_at is not None:
        return WebhookResult(200, "already processed")
    handler = HANDLERS.get(event["type"])
    obj = (event.get("data") or {}).get("object") or {}
    if handler is not None:
        obj = _with_receipt(event["type"], obj)
    try:
        with transaction.atomic():
            locked = StripeEvent.objects.select_for_update().get(pk=record.pk)
            if locked.processed_at is not None:
                return WebhookResult(200, "already processed")
            if handler is not None:
                handler(obj)
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
    return WebhookResult(200, "processed" if handler else "ignored")


def receive(*, payload: bytes, signature_header: str | None) -> WebhookResult:
    try:
        event = stripe_gateway.construct_event(payload, signature_header)
    except stripe_gateway.InvalidSignature as error:
        logger.warning("Stripe webhook refused: %s", error)
        return WebhookResult(400, "invalid signature")
    try:
        return process_event(event)
    except Exception as error:
        if not is_transient(error):
            raise
        logger.warning("Stripe event %s answered 503: %s", event.get("id"), describe(error))
        return WebhookResult(503, "temporarily unavailable; Stripe will deliver again")
