"""The balance as GET /api/v1/balance reports it: balance, debt, alert levels, runway,
auto-topup settings, budgets (docs/api.md).

All of it in one statement (`SNAPSHOT`): the org's account row, its alert and
auto-topup settings (and package) joined, the last 7 days' burn as a subquery over
the daily rollup's (organization, day) range, and whether the org has budgets at all
(only then does a second query read them with this month's use). The balance API is
the hottest read there is: four ORM queries cost four round trips, and even one
ORM query with joins and subqueries costs more Python to build than the database
takes to answer it (bench/README.md, "Reporting pages at ten million rows").
"""

from decimal import Decimal

from django.db import connection

from billing import money
from billing.alerts import selectors as alert_selectors
from billing.budgets.selectors import budgets_of
from billing.models import (
    AlertSettings,
    AutoTopupSettings,
    Budget,
    CreditAccount,
    CreditPackage,
    DailyUsage,
)
from billing.topups import selectors as topup_selectors
from billing.usage.rollup.selectors import BURN_DAYS, ZERO, burn_days, runway_at, today_utc

SNAPSHOT = f"""
SELECT a.balance,
       (SELECT SUM(d.credits) FROM {DailyUsage._meta.db_table} d
        WHERE d.organization_id = %(org)s AND d.day > %(after)s AND d.day <= %(until)s),
       s.id, s.warning_level, s.critical_level,
       t.id, t.enabled, t.threshold, t.mode, t.target_balance, t.monthly_cap_minor,
       t.disabled_reason, p.id, p.name, p.currency,
       EXISTS (SELECT 1 FROM {Budget._meta.db_table} b WHERE b.organization_id = %(org)s)
FROM (SELECT CAST(%(org)s AS BIGINT) AS id) o
LEFT JOIN {CreditAccount._meta.db_table} a ON a.organization_id = o.id
LEFT JOIN {AlertSettings._meta.db_table} s ON s.organization_id = o.id
LEFT JOIN {AutoTopupSettings._meta.db_table} t ON t.organization_id = o.id
LEFT JOIN {CreditPackage._meta.db_table} p ON p.id = t.package_id
"""


def _credits(value) -> Decimal | None:
    """A credits column as read raw: Decimal on PostgreSQL, a float or int on SQLite
    (which the ORM would bring back through the same fifteen digits)."""
    if value is None:
        return None
    return money.round_credits(value if isinstance(value, Decimal) else Decimal(str(value)))


def _level(value):
    return None if value is None else money.canonical(value)


def _snapshot(organization) -> tuple:
    window = burn_days(today_utc())
    with connection.cursor() as cursor:
        cursor.execute(SNAPSHOT, {"org": organization.pk, "after": window["day__gt"],
                                  "until": window["day__lte"]})
        return cursor.fetchone()


def for_api(organization) -> dict:
    (balance, burn, levels_id, warning, critical, topup_id, enabled, threshold, mode, target,
     cap, disabled_reason, package_id, package_name, currency,
     has_budgets) = _snapshot(organization)
    balance = _credits(balance) if balance is not None else ZERO
    runway = runway_at(balance, (_credits(burn) or ZERO) / BURN_DAYS)
    levels = None
    if levels_id is not None:
        levels = AlertSettings(pk=levels_id, organization=organization,
                               warning_level=_credits(warning), critical_level=_credits(critical))
    topup = AutoTopupSettings(organization=organization)
    if topup_id is not None:
        package = (CreditPackage(pk=package_id, name=package_name, currency=currency)
                   if package_id is not None else None)
        topup = AutoTopupSettings(
            pk=topup_id, organization=organization, enabled=bool(enabled),
            threshold=_credits(threshold), mode=mode, target_balance=_credits(target),
            monthly_cap_minor=cap, disabled_reason=disabled_reason, package=package)
    return {
        "organization": organization.slug,
        "balance": money.canonical(balance),
        "in_debt": balance < 0,
        "low_balance": bool(alert_selectors.is_low(levels, balance)),
        "alert_levels": {"warning": _level(levels.warning_level if levels else None),
                         "critical": _level(levels.critical_level if levels else None)},
        "auto_topup": topup_selectors.for_api(topup),
        "runway_days": None if runway is None else f"{runway:.1f}",
        "budgets": [use.as_json() for use in budgets_of(organization)] if has_budgets else [],
    }
