"""Reads for the alert levels: the settings page, the banner and the balance API."""

from decimal import Decimal

from billing.models import AlertSettings, Notification


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
