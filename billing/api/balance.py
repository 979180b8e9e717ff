"""The balance as GET /api/v1/balance reports it: balance, debt, alert levels, runway,
auto-topup settings (docs/api.md)."""

from billing import money
from billing.alerts import selectors as alert_selectors
from billing.ledger.selectors import account_of
from billing.topups import configuration
from billing.topups import selectors as topup_selectors
from billing.usage.selectors import runway_days


def _level(value):
    return None if value is None else money.canonical(value)


def for_api(organization) -> dict:
    balance = account_of(organization).balance
    runway = runway_days(organization, balance=balance)
    levels = alert_selectors.levels_of(organization)
    return {
        "organization": organization.slug,
        "balance": money.canonical(balance),
        "in_debt": balance < 0,
        "low_balance": bool(alert_selectors.is_low(levels, balance)),
        "alert_levels": {"warning": _level(levels.warning_level if levels else None),
                         "critical": _level(levels.critical_level if levels else None)},
        "auto_topup": topup_selectors.for_api(configuration.settings_of(organization)),
        "runway_days": None if runway is None else f"{runway:.1f}",
    }
