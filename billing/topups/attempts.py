"""Claiming a try of an auto-topup attempt, under the org's settings row lock.

`claim` decides, in one short transaction, whether a charge should be sent now
and records that it is about to be (try_state CHARGING, tries + 1). Because it
holds the settings lock and at most one attempt per org may be pending (a
partial unique index), any number of workers, sweeps and triggers claim one try
once. What it decides (a new attempt, the monthly cap, a retry after backoff, a
try whose worker died): docs/architecture.md, "Claiming an auto-topup".
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from billing import money
from billing.alerts.notify import notify_admins
from billing.ledger.selectors import account_of
from billing.models import (
    AutoTopupSettings,
    NotificationKind,
    SavedCard,
    TopupAttempt,
    TopupMode,
    TopupStatus,
    TryState,
)
from billing.models.purchases import format_minor
from billing.payments.providers import configured_provider
from billing.topups.threshold import is_below

# A try unsettled this long was left by a dead worker (the task timeout is 120 s).
STALE_AFTER = timedelta(minutes=3)
# A try Stripe did not answer is sent again after 2, 4, 8 ... minutes, at most an hour.
LONGEST_RESEND_WAIT = timedelta(hours=1)


def resend_after(attempt: TopupAttempt) -> timedelta:
    """How long an unsettled try waits before it is sent again (same key)."""
    if not attempt.unanswered_sends:
        return STALE_AFTER
    return min(timedelta(minutes=2 ** min(attempt.unanswered_sends, 6)), LONGEST_RESEND_WAIT)


@dataclass
class Claim:
    attempt: TopupAttempt
    try_number: int
    resend: bool = False  # the same try again (same key): reconciling a dead worker's try


def month_start(now: datetime) -> datetime:
    now = now.astimezone(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def spent_this_month(organization, now: datetime) -> int:
    """Minor units charged or being charged by auto-topup this UTC month."""
    return (TopupAttempt.objects.filter(
        organization=organization, created_at__gte=month_start(now),
        status__in=[TopupStatus.SUCCEEDED, TopupStatus.PENDING],
    ).aggregate(total=Sum("amount_minor"))["total"] or 0)


def pending_credits(organization) -> Decimal:
    return (TopupAttempt.objects.filter(organization=organization, status=TopupStatus.PENDING)
            .aggregate(total=Sum("credits"))["total"] or Decimal(0))


def units_wanted(row: AutoTopupSettings, *, balance: Decimal, pending: Decimal) -> int:
    """Units of the package to buy: pending credits count toward the target."""
    per_unit = row.package.base_credits + row.package.bonus_credits
    if row.mode != TopupMode.TARGET:
        return 1 if is_below(balance=balance + pending, threshold=row.threshold) else 0
    short = row.target_balance - balance - pending
    if short <= 0:
        return 0
    return int((short / per_unit).to_integral_value(rounding=ROUND_CEILING))


def units_within_cap(row: AutoTopupSettings, units: int, *, spent: int) -> int:
    if row.monthly_cap_minor is None:
        return units
    room = row.monthly_cap_minor - spent
    return max(0, min(units, room // row.package.price_minor))


def _tell_cap(row: AutoTopupSettings, *, balance: Decimal, now: datetime) -> None:
    month = month_start(now).strftime("%Y-%m")
    if row.cap_notified_month == month:
        return
    row.cap_notified_month = month
    row.save(update_fields=["cap_notified_month"])
    cap = format_minor(row.monthly_cap_minor, row.package.currency)
    notify_admins(
        organization=row.organization, kind=NotificationKind.TOPUP_CAP, balance=balance,
        subject=f"{row.organization.name}: auto-topup reached its monthly cap",
        text=f"Auto-topup did not charge the card: another {row.package.name} would pass "
             f"this month's cap of {cap}. Raise the cap or buy credits by hand; the balance "
             f"is {money.display_rounded(balance)} credits.",
        link_name="auto_topup",
    )


def _next_try(attempt: TopupAttempt, now: datetime) -> Claim:
    card = SavedCard.objects.filter(organization_id=attempt.organization_id).first()
    if card is not None:  # a retry charges the card saved now (an admin may have replaced it)
        attempt.payment_method_id, attempt.customer_id = card.payment_method_id, card.customer_id
    attempt.tries += 1
    attempt.try_state = TryState.CHARGING
    attempt.charging_since = now
    attempt.save(update_fields=["tries", "try_state", "charging_since", "payment_method_id",
                                "customer_id"])
    return Claim(attempt=attempt, try_number=attempt.tries)


def _continue(row: AutoTopupSettings, attempt: TopupAttempt, now: datetime) -> Claim | None:
    if attempt.try_state == TryState.CHARGING:
        if attempt.charging_since and attempt.charging_since <= now - resend_after(attempt):
            attempt.charging_since = now  # one sweep reconciles it at a time
            attempt.save(update_fields=["charging_since"])
            return Claim(attempt=attempt, try_number=attempt.tries, resend=True)
        return None
    if not row.enabled:  # turned off while waiting for a retry: give the attempt up
        return _cancel(attempt, now, "auto-topup turned off")
    if attempt.next_try_at > now:
        return None
    if not is_below(balance=account_of(row.organization).balance,
                    threshold=row.threshold):  # refilled meanwhile
        return _cancel(attempt, now, "balance back above the threshold")
    return _next_try(attempt, now)


def _cancel(attempt: TopupAttempt, now: datetime, why: str) -> None:
    attempt.status, attempt.try_state = TopupStatus.CANCELLED, TryState.DONE
    attempt.last_error = f"{attempt.last_error} (cancelled: {why})".strip()[:500]
    attempt.settled_at = now
    attempt.save(update_fields=["status", "try_state", "last_error", "settled_at"])
    return None


def claim(*, organization, now: datetime | None = None) -> Claim | None:
    """The try to send now for this org, if any (see the module docstring)."""
    now = now or timezone.now()
    with transaction.atomic():
        row = (AutoTopupSettings.objects.select_for_update(of=("self",))
               .select_related("package", "organization")
               .filter(organization=organization).first())
        if row is None:
            return None
        pending = TopupAttempt.objects.filter(organization=organization,
                                              status=TopupStatus.PENDING).first()
        if pending is not None:
            return _continue(row, pending, now)
        if not row.enabled or row.package is None:
            return None
        card = SavedCard.objects.filter(organization=organization).first()
        balance = account_of(organization).balance
        if card is None or not is_below(balance=balance, threshold=row.threshold):
            return None
        if card.provider != configured_provider().name:  # a test card is never charged for
            return None  # real credits, nor a Stripe card by the test provider
        units = units_wanted(row, balance=balance, pending=pending_credits(organization))
        if units == 0:
            return None
        units = units_within_cap(row, units, spent=spent_this_month(organization, now))
        if units == 0:
            _tell_cap(row, balance=balance, now=now)
            return None
        package = row.package
        attempt = TopupAttempt.objects.create(
            organization=organization, provider=card.provider, package=package,
            package_name=package.name, units=units,
            credits=(package.base_credits + package.bonus_credits) * units,
            amount_minor=package.price_minor * units, currency=package.currency,
            balance_at_start=balance, payment_method_id=card.payment_method_id,
            customer_id=card.customer_id, created_at=now, next_try_at=now,
        )
        return _next_try(attempt, now)
