"""Choosing the month (and, for staff, the organisation) of a summary."""

from django import forms

from accounts.models import Organization
from reporting.summaries.months import BadMonth, Month, current_month, month_of

MONTH_CHOICES = [(m, Month(2000, m).first.strftime("%B")) for m in range(1, 13)]


class MonthForm(forms.Form):
    year = forms.IntegerField(label="Year", required=False)
    month = forms.TypedChoiceField(label="Month", choices=MONTH_CHOICES, coerce=int,
                                   required=False)

    def clean(self):
        data = super().clean()
        now = current_month()
        try:
            data["period"] = month_of(data.get("year") or now.year, data.get("month") or now.month)
        except BadMonth as error:
            raise forms.ValidationError(str(error)) from None
        return data

    @classmethod
    def bound(cls, params, **kwargs):
        """Bound to the query string, defaulting to this month."""
        now = current_month()
        data = {"year": now.year, "month": now.month, **params.dict()}
        return cls(data, **kwargs)


class StaffMonthForm(MonthForm):
    org = forms.ModelChoiceField(
        label="Organisation", required=False, empty_label="All organisations",
        queryset=Organization.objects.order_by("name"), to_field_name="slug",
    )
