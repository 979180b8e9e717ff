"""The dashboard and the ledger entry detail page."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.portal import org_view
from billing.ledger import selectors
from billing.usage.selectors import usage_stats


@require_GET
@org_view()
def dashboard(request):
    account = selectors.account_of(request.org)
    return render(
        request,
        "billing/dashboard.html",
        {"account": account, "entries": selectors.recent_entries(request.org),
         "usage_stats": usage_stats(request.org, balance=account.balance)},
    )


@require_GET
@org_view()
def entry_detail(request, entry_id):
    entry = selectors.entry_for(request.org, entry_id)
    return render(request, "billing/entry_detail.html", {
        "entry": entry,
        "allocations": selectors.allocations_of(entry),
        "reversed_by": selectors.reversal_of(entry),
    })
