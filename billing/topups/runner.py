"""Running auto-topup: one org (the task the trigger enqueues) or all of them (the sweep).

`run_auto_topup` claims a try (attempts.claim), sends it outside any
transaction, and settles the answer (settlement.settle_intent). A refusal that
sending again cannot change fails the attempt at once (settlement.fail_permanently);
when Stripe does not answer, the try stays unsettled and the sweep sends it again
with the same key after a growing backoff. The sweep, every minute, runs it for
every org with auto-topup on and a balance below its threshold, or with an attempt
pending: the backstop for a lost trigger, a due retry and a dead worker's try.
"""

import logging
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone
from django_q.tasks import async_task

from billing.models import AutoTopupSettings, TopupAttempt, TopupStatus
from billing.payments.interface import PaymentError, PermanentPaymentError
from billing.payments.providers import provider_named
from billing.topups import attempts, settlement, threshold

logger = logging.getLogger(__name__)


@dataclass
class Run:
    attempt_id: int | None
    outcome: str  # nothing to do, credited, failed, waiting, unreachable, ...


def _send(claim: attempts.Claim) -> dict:
    """The try's PaymentIntent, from the provider recorded on the attempt: sent, or for a
    dead worker's try retrieved when its id was recorded, else sent again with the same
    key (Stripe returns the original intent)."""
    return provider_named(claim.attempt.provider).send_off_session_charge(
        attempt=claim.attempt, try_number=claim.try_number, resend=claim.resend)


def run_auto_topup(*, organization, now=None) -> Run:
    claim = attempts.claim(organization=organization, now=now)
    if claim is None:
        return Run(None, "nothing to do")
    attempt_id, try_number = claim.attempt.pk, claim.try_number
    try:
        intent = _send(claim)
    except PermanentPaymentError as error:
        logger.warning("topup %s try %s refused: %s", attempt_id, try_number, error)
        return Run(attempt_id, settlement.fail_permanently(
            attempt_id=attempt_id, try_number=try_number, message=str(error),
            remedy=error.remedy, now=now))
    except PaymentError as error:
        logger.warning("topup %s try %s unsettled: %s", attempt_id, try_number, error)
        return Run(attempt_id, settlement.unanswered(
            attempt_id=attempt_id, try_number=try_number, message=str(error), now=now))
    if claim.attempt.unanswered_sends:
        TopupAttempt.objects.filter(pk=attempt_id).update(unanswered_sends=0)
    return Run(attempt_id, settlement.settle_intent(intent=intent, now=now))


def orgs_due():
    """Orgs the sweep visits: on and below the threshold, or with an attempt pending."""
    below = threshold.settings_below_threshold()
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
    level = threshold.enabled_threshold(organization_id=organization.pk)
    if not threshold.is_below(balance=after, threshold=level):
        return
    if TopupAttempt.objects.filter(organization_id=organization.pk,
                                   status=TopupStatus.PENDING).exists():
        return
    async_task("billing.tasks.run_auto_topup_task", organization.pk,
               task_name=f"auto-topup {organization.slug}", group="auto_topup")
