"""Reads for the alert levels: the settings page, the banner and the balance API."""

from decimal import Decimal

from billing.models import AlertSettings, AutoTopupSettings, Notification


def levels_of(organization) -> AlertSettings | None:
    return AlertSettings.objects.filter(organization=organization).first()


def is_low(settings: AlertSettings | None, balance: Decimal) -> str:
    """'critical', 'warning' or '' for the balance against the org's levels."""
    if settings is None:
        return ""
    if settings.critical_level is not None and balance < settings.critical_level:
        return "critical"
    if settings.warning_level is not None and balance < settings.warning_level:
        return "warning"
    return ""


def notifications_of(organization, *, limit: int = 50):
    return Notification.objects.filter(organization=organization)[:limit]


def low_balance_advice(organization, *, is_admin: bool) -> str:
    """What the low-balance banner and email tell the reader to do, true to both the
    auto-topup state and what the reader may do (only admins buy and change settings)."""
    if not is_admin:
        return "Ask an admin of this organisation to buy credits."
    if AutoTopupSettings.objects.filter(organization=organization, enabled=True).exists():
        return "Auto-topup is on and will charge the saved card; you can also buy credits now."
    return "Buy credits or turn on auto-topup."
