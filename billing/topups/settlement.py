"""Settling a try from its PaymentIntent: credits once on success; a failure counted once.

The synchronous answer, the `payment_intent.succeeded` / `payment_failed`
webhooks and the sweep's reconciliation all end here, in any order and any
number of times. Locks: settings row, then attempt row, then the account
(the same order as `attempts.claim`). Credits are keyed `topup:<attempt id>`,
so a success is granted once; a failure counts only while its try is still
the attempt's current, unsettled one.
"""

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from billing import money
from billing.alerts.notify import notify_admins
from billing.ledger.actor import Actor
from billing.ledger.book import open_book
from billing.models import (
    AutoTopupSettings,
    EntryKind,
    GrantKind,
    NotificationKind,
    TopupAttempt,
    TopupStatus,
    TryState,
)
from billing.payments.interface import object_id

logger = logging.getLogger(__name__)

FAILURE_LIMIT = 3  # failed tries in a row that turn auto-topup off
BACKOFF = (timedelta(minutes=5), timedelta(minutes=30))  # before try 2, try 3, ...
FAILED_STATUSES = frozenset({"requires_payment_method", "requires_action", "canceled"})


def attempt_id_of(intent: dict) -> int | None:
    raw = (intent.get("metadata") or {}).get("topup_attempt_id")
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


def _try_of(intent: dict) -> int | None:
    try:
        return int((intent.get("metadata") or {}).get("try"))
    except (TypeError, ValueError):
        return None


def _credit(attempt: TopupAttempt, intent: dict, now: datetime) -> bool:
    if attempt.entry_id is not None:
        return False
    if int(intent.get("amount") or attempt.amount_minor) != attempt.amount_minor:
        raise ValueError(f"topup {attempt.pk}: intent amount {intent.get('amount')} is not "
                         f"{attempt.amount_minor}")
    package = attempt.package
    metadata = {"topup_attempt_id": attempt.pk, "payment_intent": intent.get("id", ""),
                "package": attempt.package_name, "units": attempt.units,
                "amount_paid": str(attempt.amount_minor), "currency": attempt.currency}
    actor = Actor.system("auto_topup")
    reason = f"Auto-topup: {attempt.package_name} x{attempt.units}"
    with open_book(organization=attempt.organization, now=now) as book:
        paid = book.grant(amount=package.base_credits * attempt.units, grant_kind=GrantKind.PAID,
                          entry_kind=EntryKind.TOPUP, actor=actor, reason=reason,
                          idempotency_key=f"topup:{attempt.pk}", metadata=metadata)
        if package.bonus_credits > 0:
            book.grant(amount=package.bonus_credits * attempt.units, grant_kind=GrantKind.BONUS,
                       entry_kind=EntryKind.BONUS, actor=actor, reason=f"Bonus with {reason}",
                       idempotency_key=f"topup:{attempt.pk}:bonus", parent=paid.grant,
                       metadata=metadata)
    attempt.entry = paid.entry
    return not paid.replayed


def _fail(row: AutoTopupSettings, attempt: TopupAttempt, intent: dict, now: datetime) -> None:
    error = intent.get("last_payment_error") or {}
    reason = (error.get("message") or error.get("code")
              or ("The card needs authentication." if intent.get("status") == "requires_action"
                  else "The payment failed."))
    attempt.last_error = reason[:500]
    row.consecutive_failures += 1
    balance = attempt.organization.credit_account.balance
    if row.consecutive_failures >= FAILURE_LIMIT:
        attempt.status, attempt.try_state, attempt.settled_at = (
            TopupStatus.FAILED, TryState.DONE, now)
        row.enabled = False
        row.disabled_reason = (f"Turned off after {row.consecutive_failures} failed payments in "
                               f"a row ({reason})")[:300]
        notify_admins(
            organization=row.organization, kind=NotificationKind.TOPUP_DISABLED,
            balance=balance, link_name="auto_topup",
            subject=f"{row.organization.name}: auto-topup turned off",
            text=f"Auto-topup failed {row.consecutive_failures} times in a row and is now off "
                 f"({reason}). Check the saved card, then turn auto-topup on again.")
    else:
        attempt.try_state = TryState.WAITING
        attempt.next_try_at = now + BACKOFF[min(row.consecutive_failures, len(BACKOFF)) - 1]
        notify_admins(
            organization=row.organization, kind=NotificationKind.TOPUP_FAILED,
            balance=balance, link_name="auto_topup",
            subject=f"{row.organization.name}: auto-topup payment failed",
            text=f"Charging {attempt.amount_display} for {attempt.package_name} failed "
                 f"({reason}). We try again at {attempt.next_try_at:%Y-%m-%d %H:%M} UTC; after "
                 f"{FAILURE_LIMIT} failures in a row auto-topup turns itself off. The balance "
                 f"is {money.display_rounded(balance)} credits.")
    row.save(update_fields=["consecutive_failures", "enabled", "disabled_reason"])


def settle_intent(*, intent: dict, now: datetime | None = None) -> str:
    """Apply one PaymentIntent (any source) to its attempt; returns what happened."""
    now = now or timezone.now()
    attempt_id = attempt_id_of(intent)
    organization_id = (TopupAttempt.objects.filter(pk=attempt_id)
                       .values_list("organization_id", flat=True).first())
    if organization_id is None:
        logger.warning("PaymentIntent %s names no topup attempt of ours", intent.get("id"))
        return "not ours"
    with transaction.atomic():
        row = (AutoTopupSettings.objects.select_for_update(of=("self",))
               .select_related("organization").get(organization_id=organization_id))
        attempt = (TopupAttempt.objects.select_for_update(of=("self",))
                   .select_related("organization", "package").get(pk=attempt_id))
        status = intent.get("status")
        if status == "succeeded":
            granted = _credit(attempt, intent, now)
            if attempt.status != TopupStatus.SUCCEEDED:
                if attempt.status == TopupStatus.FAILED:
                    logger.warning("topup %s was failed but its intent succeeded", attempt.pk)
                attempt.status, attempt.try_state = TopupStatus.SUCCEEDED, TryState.DONE
                attempt.settled_at, attempt.last_error = now, ""
                row.consecutive_failures = 0
                row.save(update_fields=["consecutive_failures"])
            attempt.payment_intent_id = intent.get("id", "")
            # Refunds and disputes name the charge (billing/payments/charges.py).
            attempt.stripe_charge_id = (object_id(intent.get("latest_charge"))
                                        or attempt.stripe_charge_id)
            attempt.save()
            return "credited" if granted else "already credited"
        current = (attempt.status == TopupStatus.PENDING and attempt.try_state == TryState.CHARGING
                   and _try_of(intent) == attempt.tries)
        if not current:
            return "stale"
        attempt.payment_intent_id = intent.get("id", "")
        if status in FAILED_STATUSES:
            _fail(row, attempt, intent, now)
            attempt.save()
            return "failed"
        attempt.save(update_fields=["payment_intent_id"])  # processing: settled later
        return "waiting"


def _locked_current(attempt_id: int, try_number: int):
    """The settings and attempt rows locked (in `claim`'s order), when the try is still the
    attempt's current, unsettled one; None otherwise (settled meanwhile by a webhook)."""
    organization_id = (TopupAttempt.objects.filter(pk=attempt_id)
                       .values_list("organization_id", flat=True).get())
    row = (AutoTopupSettings.objects.select_for_update(of=("self",))
           .select_related("organization").get(organization_id=organization_id))
    attempt = (TopupAttempt.objects.select_for_update(of=("self",))
               .select_related("organization").get(pk=attempt_id))
    current = (attempt.status == TopupStatus.PENDING and attempt.try_state == TryState.CHARGING
               and attempt.tries == try_number)
    return (row, attempt) if current else None


def fail_permanently(*, attempt_id: int, try_number: int, message: str, remedy: str,
                     now: datetime | None = None) -> str:
    """Stripe refused the try as made (a detached card, a key without permission): sending
    it again would fail the same way, so the attempt fails at once, auto-topup is turned
    off (nothing is sent again with that card or key), and the admins are told what to do."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = _locked_current(attempt_id, try_number)
        if locked is None:
            return "stale"
        row, attempt = locked
        attempt.status, attempt.try_state, attempt.settled_at = (
            TopupStatus.FAILED, TryState.DONE, now)
        attempt.last_error = message[:500]
        attempt.save(update_fields=["status", "try_state", "settled_at", "last_error"])
        row.enabled = False
        row.disabled_reason = f"Turned off: {remedy}"[:300]
        row.save(update_fields=["enabled", "disabled_reason"])
        notify_admins(
            organization=row.organization, kind=NotificationKind.TOPUP_DISABLED,
            balance=row.organization.credit_account.balance, link_name="auto_topup",
            subject=f"{row.organization.name}: auto-topup turned off",
            text=f"Charging {attempt.amount_display} for {attempt.package_name} was refused "
                 f"({message}). {remedy}")
    return "failed permanently"


def unanswered(*, attempt_id: int, try_number: int, message: str,
               now: datetime | None = None) -> str:
    """No answer to read (Stripe unreachable, a 5xx, a rate limit or lock timeout): the try
    stays unsettled and is sent again with the same key after a growing backoff
    (attempts.resend_after)."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = _locked_current(attempt_id, try_number)
        if locked is None:
            return "stale"
        _row, attempt = locked
        attempt.unanswered_sends += 1
        attempt.charging_since = now
        attempt.last_error = message[:500]
        attempt.save(update_fields=["unanswered_sends", "charging_since", "last_error"])
    return "unreachable"
