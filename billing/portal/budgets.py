"""The budgets page: every API key and user of the org with its monthly budget and what
it used this month; admins set or clear a budget per line, or give any email one."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.portal import org_view
from billing.budgets import selectors, services
from billing.models import BudgetKind
from billing.portal.topup_forms import CREDITS, CreditsField

SET, CLEAR = "set", "clear"


class BudgetForm(forms.Form):
    kind = forms.ChoiceField(choices=BudgetKind.choices, widget=forms.HiddenInput)
    subject = forms.CharField(max_length=254, label="User's email")
    monthly_limit = CreditsField(required=False, label="Monthly budget (credits)", **CREDITS)
    action = forms.ChoiceField(choices=[(SET, SET), (CLEAR, CLEAR)], widget=forms.HiddenInput,
                               initial=SET)

    def clean(self):
        data = super().clean()
        if data.get("action") == SET and data.get("monthly_limit") is None \
                and "monthly_limit" not in self.errors:
            self.add_error("monthly_limit", "Type the credits a month (0 or more).")
        return data


@require_http_methods(["GET", "POST"])
@org_view()
def budgets(request):
    failed = None  # the form that was refused, shown again on its line with its errors
    if request.method == "POST":
        form = BudgetForm(request.POST)
        if form.is_valid() and _apply(request, form):
            return redirect("budgets", slug=request.org.slug)
        failed = form
    keys, users = selectors.budget_rows(request.org)
    return render(request, "billing/budgets.html", {
        "keys": keys, "users": users, "month": selectors.this_month(), "failed": failed,
        "new_user_form": failed if _is_new_user(failed, users) else BudgetForm(
            initial={"kind": BudgetKind.USER, "action": SET}),
        "is_org_admin": request.membership.is_admin,
    })


def _is_new_user(form, users) -> bool:
    """A refused form from the "any email" form (not from one of the listed lines)."""
    if form is None or form.data.get("kind") != BudgetKind.USER:
        return False
    return form.data.get("subject", "").strip().lower() not in {u.subject for u in users}


def _apply(request, form) -> bool:
    data = form.cleaned_data
    try:
        if data["kind"] == BudgetKind.API_KEY:
            subject = services.api_key_subject(organization=request.org, prefix=data["subject"])
        else:
            subject = services.user_subject(data["subject"])
        if data["action"] == CLEAR:
            services.clear_budget(organization=request.org, subject=subject, actor=request.user)
            messages.success(request, f"Budget of {subject.describe()} cleared.")
        else:
            services.set_budget(organization=request.org, subject=subject,
                                monthly_limit=data["monthly_limit"], actor=request.user)
            messages.success(request, f"Budget of {subject.describe()} saved.")
    except services.BudgetError as error:
        form.add_error("subject" if error.field in ("api_key", "user") else error.field,
                       error.message)
        return False
    return True
