"""Changing an org's auto-topup settings: validated, recorded in the settings history.

Turning auto-topup on again after it was turned off by failures clears the
failure count: the admin has looked at the card.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.services import record_change
from billing import money
from billing.models import AutoTopupSettings, CreditPackage, SavedCard, TopupMode
from billing.models.purchases import format_minor


class TopupSettingsError(ValueError):
    """Settings that cannot be saved; the message is fit for the form."""


@dataclass
class TopupChoice:
    enabled: bool
    threshold: Decimal
    package: CreditPackage | None
    mode: str
    target_balance: Decimal | None
    monthly_cap_minor: int | None


def settings_of(organization) -> AutoTopupSettings:
    """The org's settings, or unsaved defaults (a read: nothing is created)."""
    return (AutoTopupSettings.objects.select_related("package")
            .filter(organization=organization).first()
            or AutoTopupSettings(organization=organization))


def validate(choice: TopupChoice, *, has_card: bool) -> None:
    if choice.threshold < 0:
        raise TopupSettingsError("The threshold cannot be negative.")
    if choice.mode not in TopupMode.values:
        raise TopupSettingsError("Choose fixed or target mode.")
    if choice.mode == TopupMode.TARGET:
        if choice.target_balance is None:
            raise TopupSettingsError("Target mode needs a target balance.")
        if choice.target_balance <= choice.threshold:
            raise TopupSettingsError("The target balance must be above the threshold.")
    if choice.enabled:
        if choice.package is None or not choice.package.active:
            raise TopupSettingsError("Choose a package on sale to turn auto-topup on.")
        if not has_card:
            raise TopupSettingsError("Save a card first: auto-topup charges the saved card.")
        if choice.monthly_cap_minor is not None and choice.monthly_cap_minor < \
                choice.package.price_minor:
            raise TopupSettingsError("The monthly cap is below the price of one package.")


def _summary(row: AutoTopupSettings) -> str:
    parts = [f"{'on' if row.enabled else 'off'}", f"threshold {money.display(row.threshold)}",
             f"package {row.package.name if row.package else 'none'}", f"mode {row.mode}"]
    if row.mode == TopupMode.TARGET and row.target_balance is not None:
        parts.append(f"target {money.display(row.target_balance)}")
    cap = (format_minor(row.monthly_cap_minor, row.package.currency)
           if row.monthly_cap_minor is not None and row.package else "none")
    parts.append(f"monthly cap {cap}")
    return "Auto-topup: " + ", ".join(parts)


def update_settings(*, organization, choice: TopupChoice, actor) -> AutoTopupSettings:
    validate(choice, has_card=SavedCard.objects.filter(organization=organization).exists())
    with transaction.atomic():
        row, _ = AutoTopupSettings.objects.select_for_update().get_or_create(
            organization=organization)
        turned_on = choice.enabled and not row.enabled
        row.enabled = choice.enabled
        row.threshold = choice.threshold
        row.package = choice.package
        row.mode = choice.mode
        row.target_balance = choice.target_balance
        row.monthly_cap_minor = choice.monthly_cap_minor
        if turned_on:
            row.consecutive_failures = 0
            row.disabled_reason = ""
        row.updated_at = timezone.now()
        row.save()
        record_change(organization=organization, actor=actor, area="auto_topup",
                      action="settings_changed", summary=_summary(row)[:500])
    return row
