"""Running auto-topup: one org (the task the trigger enqueues) or all of them (the sweep).

`run_auto_topup` claims a try (attempts.claim), sends it outside any
transaction, and settles the answer (settlement.settle_intent). When Stripe
cannot be reached the try stays unsettled and the sweep repeats it later with
the same key. The sweep, every minute, runs it for every org with auto-topup on
and a balance below its threshold, or with an attempt pending: the backstop
for a lost trigger, a due retry and a dead worker's try.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone
from django_q.tasks import async_task

from billing.models import AutoTopupSettings, PaymentProvider, TopupAttempt, TopupStatus
from billing.payments import local_provider
from billing.payments import stripe_provider as stripe_gateway
from billing.topups import attempts, settlement

logger = logging.getLogger(__name__)


@dataclass
class Run:
    attempt_id: int | None
    outcome: str  # nothing to do, credited, failed, waiting, unreachable, ...


def _send(claim: attempts.Claim) -> dict:
    """The try's PaymentIntent: sent, or for a dead worker's try retrieved when its id was
    recorded, else sent again with the same key (Stripe returns the original intent)."""
    attempt = claim.attempt
    if attempt.provider == PaymentProvider.TEST:
        if settings.PAYMENTS_PROVIDER != PaymentProvider.TEST:  # never free credits
            return {"id": "", "status": "requires_payment_method",
                    "metadata": {"topup_attempt_id": str(attempt.pk),
                                 "try": str(claim.try_number)},
                    "last_payment_error": {"message": "A test card cannot be charged: "
                                                      "payments are live. Save a real card."}}
        return local_provider.off_session_intent(attempt=attempt, try_number=claim.try_number)
    if claim.resend and attempt.payment_intent_id:
        return stripe_gateway.retrieve_payment_intent(attempt.payment_intent_id)
    return stripe_gateway.charge_off_session(attempt=attempt, try_number=claim.try_number)


def run_auto_topup(*, organization, now=None) -> Run:
    claim = attempts.claim(organization=organization, now=now)
    if claim is None:
        return Run(None, "nothing to do")
    try:
        intent = _send(claim)
    except stripe_gateway.PaymentError as error:
        logger.warning("topup %s try %s unsettled: %s", claim.attempt.pk, claim.try_number,
                       error)
        TopupAttempt.objects.filter(pk=claim.attempt.pk).update(last_error=str(error)[:500])
        return Run(claim.attempt.pk, "unreachable")
    return Run(claim.attempt.pk, settlement.settle_intent(intent=intent, now=now))


def orgs_due():
    """Orgs the sweep visits: on and below the threshold, or with an attempt pending."""
    below = AutoTopupSettings.objects.filter(
        enabled=True, organization__credit_account__balance__lt=F("threshold"))
    pending = TopupAttempt.objects.filter(status=TopupStatus.PENDING)
    return (AutoTopupSettings.objects.filter(
        Q(pk__in=below.values("pk")) | Q(organization__in=pending.values("organization")))
        .select_related("organization").order_by("pk"))


def sweep(*, now=None) -> list[Run]:
    runs = []
    for row in orgs_due():
        try:
            runs.append(run_auto_topup(organization=row.organization, now=now or timezone.now()))
        except Exception:  # one org's trouble must not stop the others
            logger.exception("auto-topup of %s failed", row.organization.slug)
            runs.append(Run(None, "error"))
    return runs


def balance_changed(*, organization, before, after) -> None:
    """Ledger listener, after commit: enqueue the topup task when the balance fell below
    the threshold and no attempt is in flight (the task itself is safe to run twice)."""
    if after >= before:
        return
    threshold = (AutoTopupSettings.objects.filter(organization_id=organization.pk, enabled=True)
                 .values_list("threshold", flat=True).first())
    if threshold is None or after >= threshold:
        return
    if TopupAttempt.objects.filter(organization_id=organization.pk,
                                   status=TopupStatus.PENDING).exists():
        return
    async_task("billing.tasks.run_auto_topup_task", organization.pk,
               task_name=f"auto-topup {organization.slug}", group="auto_topup")
