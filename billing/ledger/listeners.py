"""Who hears of a balance change (auto-topup's trigger, the low-balance check), and the
watch level below which anyone listens (docs/ledger.md, "Listeners").

Listeners are called after the commit of every book that changed the balance, with
(organization=, before=, after=); they connect in billing/apps.py, run outside the
transaction, and one that fails does not stop the others. The account row keeps the
highest level any listener watches (the alert levels, an enabled auto-topup's
threshold), read for free with the account lock: a fall that stays at or above it is
not announced. It is recomputed when those settings are saved, in the same transaction.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from billing.models import AlertSettings, AutoTopupSettings, CreditAccount

BALANCE_LISTENERS: list = []


def announce(organization, before: Decimal, after: Decimal,
             watch_level: Decimal | None) -> None:
    """`watch_level`: the account's, as read with its lock."""
    if not worth_announcing(before=before, after=after, watch_level=watch_level):
        return
    for listener in BALANCE_LISTENERS:
        transaction.on_commit(
            lambda listener=listener: listener(organization=organization, before=before,
                                               after=after),
            robust=True,
        )


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
