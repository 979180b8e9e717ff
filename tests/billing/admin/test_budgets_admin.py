"""Budgets in the admin: staff see them and their months, read only."""

import pytest

from billing.budgets.services import set_budget, user_subject
from billing.models import BudgetMonth

pytestmark = pytest.mark.django_db


def test_budgets_are_listed_with_their_months_read_only(staff_client, org):
    budget = set_budget(organization=org, subject=user_subject("ana@acme.test"),
                        monthly_limit=50, actor=None)
    BudgetMonth.objects.create(organization=org, budget=budget, month="2026-12-01", credits=7)
    listing = staff_client.get("/admin/billing/budget/")
    assert listing.status_code == 200 and "ana@acme.test" in listing.content.decode()
    page = staff_client.get(f"/admin/billing/budget/{budget.pk}/change/").content.decode()
    assert "Dec. 1, 2026" in page or "2026-12-01" in page
    assert "Save" not in page
    assert staff_client.post(f"/admin/billing/budget/{budget.pk}/delete/").status_code == 403
    assert staff_client.get("/admin/billing/budget/add/").status_code == 403
