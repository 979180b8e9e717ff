"""The balance as the API (and anyone else) reports it: balance, debt, alerts, runway.

Alert levels and auto-topup are owned by their own modules; until an org has
configured them they read as null and {"enabled": false} (design.md).
"""

from __future__ import annotations

from decimal import Decimal

from billing import money
from billing.ledger.selectors import account_of
from billing.usage.selectors import runway_days


def alert_levels(organization) -> tuple[Decimal | None, Decimal | None]:
    """(warning, critical) levels of the org; None when not configured.
    The alerts module replaces this body when it lands."""
    return None, None


def auto_topup(organization) -> dict:
    """The auto-topup settings as the API shows them; the topups module fills this in."""
    return {"enabled": False}


def for_api(organization) -> dict:
    balance = account_of(organization).balance
    warning, critical = alert_levels(organization)
    levels = [level for level in (warning, critical) if level is not None]
    runway = runway_days(organization, balance=balance)
    return {
        "organization": organization.slug,
        "balance": money.canonical(balance),
        "in_debt": balance < 0,
        "low_balance": any(balance < level for level in levels),
        "alert_levels": {
            "warning": None if warning is None else money.canonical(warning),
            "critical": None if critical is None else money.canonical(critical),
        },
        "auto_topup": auto_topup(organization),
        "runway_days": None if runway is None else f"{runway:.1f}",
    }
