"""The low-balance alerts page: the two levels and every notification sent."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.portal import org_view
from billing.alerts import selectors, services
from billing.portal.topup_forms import AlertLevelsForm


@require_http_methods(["GET", "POST"])
@org_view()
def alerts(request):
    levels = selectors.levels_of(request.org)
    if request.method == "POST":
        form = AlertLevelsForm(request.POST)
        if form.is_valid():
            try:
                services.update_levels(organization=request.org,
                                       warning_level=form.cleaned_data["warning_level"],
                                       critical_level=form.cleaned_data["critical_level"],
                                       actor=request.user)
            except services.AlertSettingsError as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, "Alert levels saved.")
                return redirect("alerts", slug=request.org.slug)
    else:
        form = AlertLevelsForm(initial={
            "warning_level": levels.warning_level if levels else None,
            "critical_level": levels.critical_level if levels else None})
        if not request.membership.is_admin:
            for field in form.fields.values():
                field.disabled = True
    return render(request, "billing/alerts.html", {
        "form": form, "notifications": selectors.notifications_of(request.org),
        "is_org_admin": request.membership.is_admin,
    })
