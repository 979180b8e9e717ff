"""The org's home page: balance, runway, spend this month against last, the latest
transactions and a 30-day sparkline. Everything comes from the account row and the
daily rollup, so it costs the same few queries at any volume."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.portal import org_view
from billing.ledger import selectors as ledger
from billing.usage.rollup.selectors import runway_days
from reporting import charts
from reporting.dashboard.selectors import SPARK_DAYS, daily_spend, spend_comparison

LATEST = 10


def cards(organization, *, is_admin: bool) -> dict:
    """What the dashboard's cards show (templates/reporting/_dashboard_cards.html); the
    live fragment (reporting/dashboard/live.py) renders the same cards again."""
    account = ledger.account_of(organization)
    series = daily_spend(organization)
    return {
        "account": account,
        "runway_days": runway_days(organization, balance=account.balance),
        "spend": spend_comparison(organization),
        "sparkline": charts.sparkline([v for _, v in series],
                                      title=f"Credits a day, last {SPARK_DAYS} days"),
        "spark_days": SPARK_DAYS,
        "is_admin": is_admin,
    }


@require_GET
@org_view()
def dashboard(request):
    return render(request, "reporting/dashboard.html", {
        **cards(request.org, is_admin=request.membership.is_admin),
        "entries": ledger.recent_entries(request.org, limit=LATEST),
    })
