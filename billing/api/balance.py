"""The balance as GET /api/v1/balance reports it: balance, debt, alert levels, runway.

Low-balance alerts and auto-topup do not exist yet, so every organisation
reads as not having configured them, which docs/api.md specifies as null
alert levels, low_balance false and auto_topup {"enabled": false}.
"""

from billing import money
from billing.ledger.selectors import account_of
from billing.usage.selectors import runway_days


def for_api(organization) -> dict:
    balance = account_of(organization).balance
    runway = runway_days(organization, balance=balance)
    return {
        "organization": organization.slug,
        "balance": money.canonical(balance),
        "in_debt": balance < 0,
        "low_balance": False,
        "alert_levels": {"warning": None, "critical": None},
        "auto_topup": {"enabled": False},
        "runway_days": None if runway is None else f"{runway:.1f}",
    }
