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


@require_GET
@org_view()
def dashboard(request):
    account = ledger.account_of(request.org)
    series = daily_spend(request.org)
    return render(request, "reporting/dashboard.html", {
        "account": account,
        "runway_days": runway_days(request.org, balance=account.balance),
        "spend": spend_comparison(request.org),
        "sparkline": charts.sparkline([v for _, v in series],
                                      title=f"Credits a day, last {SPARK_DAYS} days"),
        "spark_days": SPARK_DAYS,
        "entries": ledger.recent_entries(request.org, limit=LATEST),
        "is_admin": request.membership.is_admin,
    })
