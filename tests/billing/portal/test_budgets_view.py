"""/o/<slug>/budgets/: every key and user with its budget and this month's use; admins set
and clear budgets (errors at their fields, nothing changed), members read."""

from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import Budget, BudgetMonth
from billing.usage.ingestion.budgets import month_of
from tests.billing.usage_fixtures import api_key_for
from tests.conftest import make_member, make_org

pytestmark = pytest.mark.django_db


def url(org):
    return f"/o/{org.slug}/budgets/"


def set_form(kind, subject, limit):
    return {"kind": kind, "subject": subject, "action": "set", "monthly_limit": limit}


def test_the_page_lists_keys_and_users_with_budget_and_use(admin_client, org, member_user):
    key = api_key_for(org, name="ci")
    admin_client.post(url(org), set_form("api_key", key.api_key.prefix, "100"))
    budget = Budget.objects.get()

    BudgetMonth.objects.create(organization=org, budget=budget, month=month_of(timezone.now()),
                               credits=Decimal("25.5"))
    page = admin_client.get(url(org)).content.decode()
    assert f'data-testid="budget-api_key-{key.api_key.prefix}"' in page
    assert "100.00" in page and "25.50" in page and "74.50" in page and "(25%)" in page
    assert 'data-testid="budget-user-member@acme.test"' in page  # a member without budget
    assert 'data-testid="budget-user-admin@acme.test"' in page


def test_an_admin_sets_and_clears_a_users_budget(admin_client, org):
    response = admin_client.post(url(org), set_form("user", "Ana@Acme.test", "40"))
    assert response.status_code == 302
    assert Budget.objects.get().user_label == "ana@acme.test"
    page = admin_client.get(url(org)).content.decode()
    assert 'data-testid="budget-user-ana@acme.test"' in page and "not a member" in page
    assert "Budget of ana@acme.test saved." in page
    response = admin_client.post(url(org), {"kind": "user", "subject": "ana@acme.test",
                                            "action": "clear"})
    assert response.status_code == 302 and not Budget.objects.exists()
    assert org.settings_changes.filter(area="budgets", action="cleared").exists()


@pytest.mark.parametrize(("limit", "message"), [
    ("-3", "greater than or equal to 0"), ("", "Type the credits a month"),
    ("1.0000001", "no more than 6 decimal places"), ("lots", "Enter a number")])
def test_a_bad_limit_is_shown_at_its_line_and_changes_nothing(admin_client, org, limit,
                                                              message):
    key = api_key_for(org, name="ci")
    response = admin_client.post(url(org), set_form("api_key", key.api_key.prefix, limit))
    assert response.status_code == 200
    page = response.content.decode()
    assert message in page and 'aria-invalid="true"' in page
    assert not Budget.objects.exists()


def test_a_bad_email_is_shown_at_the_email_field(admin_client, org):
    response = admin_client.post(url(org), set_form("user", "not-an-email", "5"))
    assert response.status_code == 200
    assert "is not an email address" in response.content.decode()
    assert not Budget.objects.exists()


def test_another_orgs_key_cannot_be_budgeted_here(admin_client, org):
    other = api_key_for(make_org("other"))
    response = admin_client.post(url(org), set_form("api_key", other.api_key.prefix, "5"))
    assert response.status_code == 200 and not Budget.objects.exists()


def test_a_member_reads_but_cannot_change(member_client, org):
    page = member_client.get(url(org)).content.decode()
    assert "Only admins of this organisation can change budgets." in page
    assert 'name="monthly_limit"' not in page
    response = member_client.post(url(org), set_form("user", "ana@acme.test", "40"))
    assert response.status_code == 403 and not Budget.objects.exists()


def test_another_orgs_page_is_a_404(client, org):
    stranger = make_member(make_org("other"), "x@other.test", role="admin")
    client.force_login(stranger)
    assert client.get(url(org)).status_code == 404
