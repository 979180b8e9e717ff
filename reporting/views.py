"""The portal's usage page: the daily rollup, filtered (never raw events)."""

from datetime import timedelta

from django import forms
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.portal import org_view
from billing.models.usage import UsageType
from billing.usage.rollup.selectors import today_utc
from reporting import selectors

DEFAULT_DAYS = 30
MAX_DAYS = 366
NO_USER = "__none__"


class UsageFilterForm(forms.Form):
    type = forms.ChoiceField(required=False, label="Type",
                             choices=[("", "All types"), *UsageType.choices])
    resource = forms.ChoiceField(required=False, label="Model or meter")
    operation = forms.ChoiceField(required=False, label="Operation")
    user = forms.ChoiceField(required=False, label="User")
    start = forms.DateField(required=False, label="From",
                            widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, label="To",
                          widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, choices: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["resource"].choices = [("", "All"), *[(v, v) for v in choices["resource"]]]
        self.fields["operation"].choices = [("", "All"), *[(v, v) for v in choices["operation"]]]
        self.fields["user"].choices = [
            ("", "All"), (NO_USER, "(no user)"), *[(v, v) for v in choices["user_label"]]
        ]

    def clean(self):
        data = super().clean()
        today = today_utc()
        end = data.get("end") or today
        start = data.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise forms.ValidationError("The start date must not be after the end date.")
        if (end - start).days >= MAX_DAYS:
            raise forms.ValidationError(f"Choose at most {MAX_DAYS} days.")
        data["start"], data["end"] = start, end
        return data

    def to_filter(self) -> selectors.UsageFilter:
        data = self.cleaned_data
        user = data.get("user") or None
        return selectors.UsageFilter(
            start=data["start"], end=data["end"], usage_type=data.get("type") or "",
            resource=data.get("resource") or "", operation=data.get("operation") or "",
            user_label="" if user == NO_USER else user,
        )


@require_GET
@org_view()
def usage(request):
    today = today_utc()
    choices = selectors.filter_choices(request.org, since=today - timedelta(days=MAX_DAYS))
    form = UsageFilterForm(request.GET, choices=choices)
    context = {"form": form}
    if form.is_valid():
        flt = form.to_filter()
        by_day = selectors.usage_by_day(request.org, flt)
        peak = max((row["credits"] for row in by_day), default=0)
        for row in by_day:
            row["share"] = int(100 * row["credits"] / peak) if peak else 0
        context.update(
            filter=flt,
            totals=selectors.usage_totals(request.org, flt),
            by_resource=selectors.with_units(
                selectors.usage_breakdown(request.org, flt, by=("usage_type", "resource"))),
            by_operation=selectors.usage_breakdown(request.org, flt, by="operation"),
            by_user=selectors.usage_breakdown(request.org, flt, by="user_label"),
            by_day=by_day,
        )
    return render(request, "reporting/usage.html", context)
