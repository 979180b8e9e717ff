"""The live fragment: the header's balance, the banners under it and, when asked, the
dashboard's cards, rendered by the same templates as the page, so static/js/live.js can
swap them in while the page stays open (docs/operate.md, "Live balance").

Cheap by design: the account row, the alert levels, the auto-topup state and (for the
dashboard) the daily rollup; no context processor runs. Never cached.
"""

from django.http import HttpResponse, HttpResponseBadRequest
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.portal import org_view
from billing.portal.account_banners import banners_for
from billing.portal.context_processors import header_status
from reporting.dashboard.views import cards

# What a page may ask for besides the header and banners: the dashboard asks for its cards.
PARTS = ("dashboard",)


@require_GET
@never_cache
@org_view()
def live(request):
    part = request.GET.get("part", "")
    if part and part not in PARTS:
        return HttpResponseBadRequest(f"part must be one of {', '.join(PARTS)} or absent",
                                      content_type="text/plain")
    is_admin = request.membership.is_admin
    context = {
        "org": request.org,
        "header": header_status(request.org),
        "account_banners": banners_for(request.org, is_admin=is_admin),
    }
    if part == "dashboard":
        context.update(cards(request.org, is_admin=is_admin), dashboard=True)
    # Rendered without the request: the page's context processors (memberships, the
    # header again) would double the queries of a view polled every few seconds.
    return HttpResponse(render_to_string("reporting/live.html", context))
