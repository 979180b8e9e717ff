"""Reads for auto-topup: recent attempts, the banner's state, the balance API's view."""

from billing import money
from billing.models import AutoTopupSettings, TopupAttempt, TopupMode
from billing.models.purchases import major_text


def recent_attempts(organization, *, limit: int = 20):
    return TopupAttempt.objects.filter(organization=organization)[:limit]


def turned_off_by_failures(organization) -> str:
    """The reason auto-topup turned itself off, or '' (an admin turning it off is not this)."""
    row = (AutoTopupSettings.objects.filter(organization=organization, enabled=False)
           .exclude(disabled_reason="").values_list("disabled_reason", flat=True).first())
    return row or ""


def for_api(row: AutoTopupSettings | None) -> dict:
    if row is None or row.pk is None:
        return {"enabled": False}
    return {
        "enabled": row.enabled,
        "threshold": money.canonical(row.threshold),
        "package": row.package.name if row.package else None,
        "mode": row.mode,
        "target_balance": (money.canonical(row.target_balance)
                           if row.mode == TopupMode.TARGET and row.target_balance is not None
                           else None),
        "monthly_cap": (major_text(row.monthly_cap_minor, row.package.currency)
                        if row.monthly_cap_minor is not None and row.package else None),
        "currency": row.package.currency if row.package else None,
        "disabled_reason": row.disabled_reason or None,
    }
