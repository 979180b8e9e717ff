"""Low-balance alerts: one notification per downward crossing of each level.

A level is armed until the balance falls below it. The crossing disarms it and
records one notification (emailed to the org's admins after commit); it is
re-armed only when the balance is seen at or above the level again. The
transition runs under the settings row lock against the balance as committed,
so concurrent checks, the per-posting check and the sweep notify once.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.services import record_change
from billing import money
from billing.alerts.notify import notify_admins
from billing.alerts.selectors import low_balance_advice
from billing.ledger.selectors import account_of
from billing.models import AlertSettings, Notification, NotificationKind
from billing.usage.rollup.selectors import runway_days

LEVELS = (  # (kind, level field, armed field), highest level first
    (NotificationKind.WARNING, "warning_level", "warning_armed"),
    (NotificationKind.CRITICAL, "critical_level", "critical_armed"),
)


class AlertSettingsError(ValueError):
    """Levels that cannot be saved; the message is fit for the form."""


def update_levels(*, organization, warning_level: Decimal | None,
                  critical_level: Decimal | None, actor) -> AlertSettings:
    if warning_level is not None and critical_level is not None and critical_level > warning_level:
        raise AlertSettingsError("The critical level must not be above the warning level.")
    for value in (warning_level, critical_level):
        if value is not None and value < 0:
            raise AlertSettingsError("Levels cannot be negative.")
    with transaction.atomic():
        row, _ = AlertSettings.objects.select_for_update().get_or_create(organization=organization)
        before = (row.warning_level, row.critical_level)
        row.warning_level, row.critical_level = warning_level, critical_level
        if before != (warning_level, critical_level):
            # New levels start armed: the next check notifies if the balance is already below.
            row.warning_armed = row.critical_armed = True
            row.updated_at = timezone.now()
            row.save()
            record_change(organization=organization, actor=actor, area="alerts",
                          action="levels_changed",
                          summary=f"Low-balance levels: warning {_text(warning_level)}, "
                                  f"critical {_text(critical_level)}")
    check_levels(organization=organization)
    return row


def _text(value: Decimal | None) -> str:
    return "none" if value is None else money.display(value)


@dataclass
class Check:
    notified: list[Notification]
    rearmed: list[str]


def check_levels(*, organization) -> Check:
    """Compare the committed balance with each level and notify the crossings once."""
    notified, rearmed = [], []
    with transaction.atomic():
        row = AlertSettings.objects.select_for_update().filter(organization=organization).first()
        if row is None:
            return Check(notified, rearmed)
        balance = account_of(organization).balance
        changed = []
        for kind, level_field, armed_field in LEVELS:
            level = getattr(row, level_field)
            if level is None:
                continue
            armed = getattr(row, armed_field)
            if armed and balance < level:
                setattr(row, armed_field, False)
                changed.append(armed_field)
                notified.append(_notify(organization, kind, balance, level))
            elif not armed and balance >= level:
                setattr(row, armed_field, True)
                changed.append(armed_field)
                rearmed.append(kind)
        if changed:
            row.save(update_fields=changed)
    return Check(notified, rearmed)


def _notify(organization, kind: str, balance: Decimal, level: Decimal) -> Notification:
    runway = runway_days(organization, balance=balance)
    word = "critical" if kind == NotificationKind.CRITICAL else "warning"
    runway_text = (f"At the last 7 days' usage it lasts about {runway} days."
                   if runway is not None else "There was no usage in the last 7 days.")
    return notify_admins(
        organization=organization, kind=kind, balance=balance, level=level,
        runway_days=runway,
        subject=f"{organization.name}: credit balance below the {word} level",
        text=f"The credit balance of {organization.name} fell to "
             f"{money.display_rounded(balance)} credits, below the {word} level of "
             f"{money.display_rounded(level)}. {runway_text} "
             + low_balance_advice(organization, is_admin=True),  # mailed to admins only
    )


def check_all() -> int:
    """The sweep and send_low_balance_alerts: check every org that has levels set."""
    count = 0
    for row in AlertSettings.objects.select_related("organization").order_by("pk"):
        count += len(check_levels(organization=row.organization).notified)
    return count


def balance_changed(*, organization, before: Decimal, after: Decimal) -> None:
    """Ledger listener, after commit: check only when a level may have been crossed."""
    row = (AlertSettings.objects.filter(organization_id=organization.pk)
           .values("warning_level", "critical_level", "warning_armed", "critical_armed").first())
    if row is None:
        return
    for _kind, level_field, armed_field in LEVELS:
        level = row[level_field]
        if level is None:
            continue
        if (row[armed_field] and after < level) or (not row[armed_field] and after >= level):
            check_levels(organization=organization)
            return
