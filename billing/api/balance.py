"""The balance as GET /api/v1/balance reports it: balance, debt, alert levels, runway,
auto-topup settings (docs/api.md).

All of it in one query (`_snapshot`): the org row with its alert and auto-topup
settings joined, the balance and the last 7 days' burn as subqueries (the account
row, and a range of the daily rollup through its (organization, day) index).
The balance API is the hottest read there is; its time is mostly round trips,
and on a busy database each one waits its turn (bench/README.md).
"""

from django.db.models import OuterRef, Subquery, Sum

from accounts.models import Organization
from billing import money
from billing.alerts import selectors as alert_selectors
from billing.models import AutoTopupSettings, CreditAccount, DailyUsage
from billing.topups import selectors as topup_selectors
from billing.usage.selectors import BURN_DAYS, ZERO, burn_days, runway_at, today_utc


def _level(value):
    return None if value is None else money.canonical(value)


def _snapshot(organization) -> Organization:
    burn = (DailyUsage.objects.filter(organization=OuterRef("pk"), **burn_days(today_utc()))
            .order_by().values("organization").annotate(total=Sum("credits"))
            .values("total"))
    balance = CreditAccount.objects.filter(organization=OuterRef("pk")).values("balance")
    return (Organization.objects.filter(pk=organization.pk)
            .select_related("alert_settings", "auto_topup__package")
            .annotate(account_balance=Subquery(balance[:1]), burn_total=Subquery(burn))
            .get())


def for_api(organization) -> dict:
    row = _snapshot(organization)
    balance = row.account_balance if row.account_balance is not None else ZERO
    runway = runway_at(balance, (row.burn_total or ZERO) / BURN_DAYS)
    # None when the org has none: select_related caches the missing row as such.
    levels = getattr(row, "alert_settings", None)
    topup = getattr(row, "auto_topup", None) or AutoTopupSettings(organization=organization)
    return {
        "organization": organization.slug,
        "balance": money.canonical(balance),
        "in_debt": balance < 0,
        "low_balance": bool(alert_selectors.is_low(levels, balance)),
        "alert_levels": {"warning": _level(levels.warning_level if levels else None),
                         "critical": _level(levels.critical_level if levels else None)},
        "auto_topup": topup_selectors.for_api(topup),
        "runway_days": None if runway is None else f"{runway:.1f}",
    }
