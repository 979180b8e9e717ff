"""The monthly summary pages: an org's own (members read it) and staff's across orgs."""

from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.http import HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.portal import org_view
from reporting import charts
from reporting.csv_export import streaming_csv
from reporting.models import VIEW_ALL_ORGS
from reporting.summaries.export import HEADER, summary_filename, summary_rows
from reporting.summaries.forms import MonthForm, StaffMonthForm
from reporting.summaries.selectors import monthly_summary

TOP_RESOURCES = 8


def _charts(summary) -> dict:
    return {
        "daily": charts.column_chart(
            [(row["day"].strftime("%d %b"), row["credits"]) for row in summary.days],
            title=f"Credits a day, {summary.month.label}"),
        "by_type": charts.bar_chart(
            [(row["type_label"], row["credits"]) for row in summary.breakdowns["type"]],
            title="Credits by usage type"),
        "top_resources": charts.bar_chart(
            [(row["resource"], row["credits"])
             for row in summary.breakdowns["resource"][:TOP_RESOURCES]],
            title="Top models and meters"),
    }


def _page(request, form, organization, template):
    context = {"form": form}
    if form.is_valid():
        summary = monthly_summary(organization=organization, month=form.cleaned_data["period"])
        context.update(summary=summary, charts=_charts(summary),
                       csv_query=request.GET.urlencode())
    return render(request, template, context)


def _csv(form, organization):
    if not form.is_valid():
        return HttpResponseBadRequest(" ".join(form.errors.get("__all__", ["Bad month."])))
    summary = monthly_summary(organization=organization, month=form.cleaned_data["period"])
    return streaming_csv(summary_filename(summary), HEADER, summary_rows(summary))


@require_GET
@org_view()
def monthly(request):
    return _page(request, MonthForm.bound(request.GET), request.org, "reporting/monthly.html")


@require_GET
@org_view()
def monthly_csv(request):
    return _csv(MonthForm.bound(request.GET), request.org)


def _staff_form(request):
    form = StaffMonthForm.bound(request.GET)
    org = form.cleaned_data.get("org") if form.is_valid() else None
    return form, org


@require_GET
@staff_member_required
@permission_required(VIEW_ALL_ORGS, raise_exception=True)
def staff_monthly(request):
    form, org = _staff_form(request)
    return _page(request, form, org, "reporting/staff_monthly.html")


@require_GET
@staff_member_required
@permission_required(VIEW_ALL_ORGS, raise_exception=True)
def staff_monthly_csv(request):
    form, org = _staff_form(request)
    return _csv(form, org)
