"""The watch level: the highest balance anyone listens below (docs/ledger.md, "Listeners").

The account row keeps the highest level any balance listener watches (the alert
levels, an enabled auto-topup's threshold), read for free with the account lock, so a
posting that leaves the balance at or above it tells no one. It is recomputed when
alert or auto-topup settings are saved, in the same transaction (billing/apps.py).
"""

from __future__ import annotations

from decimal import Decimal

from billing.models import AlertSettings, AutoTopupSettings, CreditAccount


def watch_level_of(*, organization_id: int) -> Decimal | None:
    alerts = (AlertSettings.objects.filter(organization_id=organization_id)
              .values_list("warning_level", "critical_level").first()) or ()
    threshold = (AutoTopupSettings.objects.filter(organization_id=organization_id, enabled=True)
                 .values_list("threshold", flat=True).first())
    levels = [level for level in (*alerts, threshold) if level is not None]
    return max(levels) if levels else None


def refresh_watch_level(*, organization_id: int) -> None:
    CreditAccount.objects.filter(organization_id=organization_id).update(
        watch_level=watch_level_of(organization_id=organization_id))


def settings_saved(sender, instance, raw=False, **kwargs) -> None:
    """post_save receiver for AlertSettings and AutoTopupSettings."""
    if not raw:
        refresh_watch_level(organization_id=instance.organization_id)


def worth_announcing(*, before: Decimal, after: Decimal, watch_level: Decimal | None) -> bool:
    """Whether the listeners can have anything to do after a move from `before` to `after`."""
    if after >= before:
        return True
    return watch_level is not None and after < watch_level
