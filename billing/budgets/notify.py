"""Telling an org's admins that a budget reached 80% or 100% of its month (docs/budgets.md).

Called after the commit of a charge that reached a level (BUDGET_LISTENERS). Each
notification is claimed on the budget's month row by a compare-and-set, in the same
transaction that records it, so a listener run twice (a retry, two racing charges that
both saw the level) sends it once per month. Reaching 100% claims the 80% one too: a
warning after the limit would say less than what the admins already know.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from billing import money
from billing.alerts.notify import notify_admins
from billing.models import BudgetKind, BudgetMonth, CreditAccount, NotificationKind
from billing.usage.ingestion.budgets import EXHAUSTED, Crossing


def budget_crossed(*, organization, crossings: list[Crossing]) -> None:
    """Ledger-side listener: notify each crossing not yet claimed this month."""
    for crossing in crossings:
        notify_once(organization=organization, crossing=crossing)


def _subject(crossing: Crossing) -> str:
    return (f"API key {crossing.name}" if crossing.kind == BudgetKind.API_KEY
            else f"user {crossing.name}")


def notify_once(*, organization, crossing: Crossing) -> bool:
    """Claim and record the crossing's notification; False when it was already sent."""
    now = timezone.now()
    try:
        with transaction.atomic():
            # A budget refused at zero has no month row yet: make it (a charge's upsert
            # adds to it all the same).
            BudgetMonth.objects.bulk_create(
                [BudgetMonth(organization=organization, month=crossing.month,
                             budget_id=crossing.budget_id)], ignore_conflicts=True)
            month = BudgetMonth.objects.filter(organization=organization, month=crossing.month,
                                               budget_id=crossing.budget_id)
            if crossing.level == EXHAUSTED:
                claimed = month.filter(exhausted_at__isnull=True).update(
                    exhausted_at=now, warned_at=Coalesce("warned_at", now))
            else:
                claimed = month.filter(Q(warned_at__isnull=True)).update(warned_at=now)
            if not claimed:
                return False
            _record(organization, crossing)
    except IntegrityError:  # the budget was cleared meanwhile: nothing to tell
        return False
    return True


def _record(organization, crossing: Crossing) -> None:
    subject, limit = _subject(crossing), money.display_rounded(crossing.monthly_limit)
    if crossing.level == EXHAUSTED:
        kind = NotificationKind.BUDGET_EXHAUSTED
        title = f"The monthly budget of {subject} is used up"
        left = money.display_rounded(max(crossing.monthly_limit - crossing.used, 0))
        text = (f"The monthly budget of {subject} ({limit} credits) is used up: {left} "
                f"credits are left this month, and its usage events that do not fit are "
                f"refused (budget_exceeded) until the month ends or an admin raises or "
                f"clears the budget.")
    else:
        kind = NotificationKind.BUDGET_WARNING
        title = f"The monthly budget of {subject} is 80% used"
        text = (f"{subject[0].upper()}{subject[1:]} has used "
                f"{money.display_rounded(crossing.used)} of its {limit} credits this month.")
    balance = (CreditAccount.objects.filter(organization=organization)
               .values_list("balance", flat=True).first())
    notify_admins(organization=organization, kind=kind, subject=title, text=text,
                  balance=balance if balance is not None else 0, level=crossing.monthly_limit,
                  link_name="budgets")
