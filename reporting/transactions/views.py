"""The transactions page, its CSV export and the entry detail; members read, nobody writes."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.portal import org_view
from accounts.selectors import api_keys_of, members_of
from billing.ledger.selectors import account_of
from billing.models import LedgerEntry
from reporting.csv_export import streaming_csv
from reporting.transactions import export, pages
from reporting.transactions.detail import entry_story
from reporting.transactions.filters import TransactionFilter
from reporting.transactions.tables import TransactionTable

CURSOR_PARAMS = ("after", "before")


def _filtered(request):
    account = account_of(request.org)
    base = LedgerEntry.objects.filter(account_id=account.pk)
    flt = TransactionFilter(
        request.GET, queryset=base, organization=request.org,
        members=members_of(request.org).order_by("user__email"),
        api_keys=api_keys_of(request.org).order_by("name"),
    )
    return account, flt


def _query_without(request, *names) -> str:
    params = request.GET.copy()
    for name in names:
        params.pop(name, None)
    return params.urlencode()


@require_GET
@org_view()
def transactions(request):
    account, flt = _filtered(request)
    sort = request.GET.get("sort") or pages.DEFAULT_SORT
    page = None
    table_html = None
    if flt.is_valid():
        page = pages.keyset_page(flt.qs, sort=sort, after=request.GET.get("after"),
                                 before=request.GET.get("before"), size=pages.PAGE_SIZE,
                                 parts=flt.page_parts())
        table_html = TransactionTable(page.rows, org_slug=request.org.slug,
                                      order_by=page.sort).as_html(request)
    return render(request, "reporting/transactions.html", {
        "filter": flt, "table_html": table_html, "page": page,
        "entry_count": account.entry_count,
        "filtered": any(v for k, v in request.GET.items() if k in flt.filters),
        "base_query": _query_without(request, *CURSOR_PARAMS),
        "filter_query": _query_without(request, *CURSOR_PARAMS, "sort"),
    })


@require_GET
@org_view()
def transactions_csv(request):
    _, flt = _filtered(request)
    qs = flt.qs if flt.is_valid() else flt.queryset.none()
    order = pages.SORTS.get(request.GET.get("sort") or "", pages.SORTS[pages.DEFAULT_SORT])
    return streaming_csv(f"transactions-{request.org.slug}.csv", export.HEADER,
                         export.transaction_rows(qs, order))


@require_GET
@org_view()
def entry_detail(request, entry_id):
    return render(request, "reporting/entry_detail.html",
                  {"story": entry_story(request.org, entry_id)})
