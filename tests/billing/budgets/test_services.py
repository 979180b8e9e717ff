"""Setting and clearing monthly budgets: bad input names its field and changes nothing;
each change is in the settings history; clearing forgets the budget's months."""

from decimal import Decimal

import pytest

from accounts.models import SettingsChange
from billing.budgets.services import (
    BudgetError,
    api_key_subject,
    clear_budget,
    set_budget,
    user_subject,
)
from billing.models import Budget, BudgetMonth
from tests.billing.usage_fixtures import api_key_for
from tests.conftest import make_member, make_org

pytestmark = pytest.mark.django_db


def test_a_budget_is_set_changed_and_recorded_with_who(org):
    admin = make_member(org, "admin@acme.test", role="admin")
    key = api_key_for(org, name="ci")
    subject = api_key_subject(organization=org, prefix=key.api_key.prefix)
    budget = set_budget(organization=org, subject=subject, monthly_limit="100.5", actor=admin)
    assert budget.monthly_limit == Decimal("100.5") and budget.api_key == key.api_key
    set_budget(organization=org, subject=subject, monthly_limit="100.50", actor=admin)  # same
    set_budget(organization=org, subject=subject, monthly_limit=Decimal(80), actor=admin)
    assert Budget.objects.get().monthly_limit == 80
    changes = SettingsChange.objects.filter(area="budgets").order_by("id")
    assert list(changes.values_list("area", "action", "summary")) == [
        ("budgets", "set", "Monthly budget of API key ci: 100.50 credits"),
        ("budgets", "changed", "Monthly budget of API key ci: 80.00 credits")]
    assert SettingsChange.objects.filter(area="budgets").first().actor == admin


def test_a_users_budget_is_kept_by_lower_case_email(org):
    set_budget(organization=org, subject=user_subject(" Ana@Acme.TEST "), monthly_limit=5,
               actor=None)
    assert Budget.objects.get().user_label == "ana@acme.test"


@pytest.mark.parametrize(("value", "field"), [
    ("-1", "monthly_limit"), ("1.0000001", "monthly_limit"), ("ten", "monthly_limit"),
    (1.5, "monthly_limit"), ("1e30", "monthly_limit")])
def test_a_bad_limit_names_its_field_and_changes_nothing(org, value, field):
    with pytest.raises(BudgetError) as refused:
        set_budget(organization=org, subject=user_subject("a@acme.test"), monthly_limit=value,
                   actor=None)
    assert refused.value.field == field
    assert not Budget.objects.exists() and not SettingsChange.objects.exists()


def test_an_unknown_subject_names_its_field(org):
    other = make_org("other")
    foreign = api_key_for(other)
    with pytest.raises(BudgetError) as refused:
        api_key_subject(organization=org, prefix=foreign.api_key.prefix)
    assert refused.value.field == "api_key"
    with pytest.raises(BudgetError) as refused:
        user_subject("not an email")
    assert refused.value.field == "user"


def test_clearing_removes_the_budget_and_its_months(org):
    subject = user_subject("ana@acme.test")
    budget = set_budget(organization=org, subject=subject, monthly_limit=5, actor=None)
    BudgetMonth.objects.create(organization=org, budget=budget, month="2026-12-01", credits=3)
    assert clear_budget(organization=org, subject=subject, actor=None) is True
    assert not Budget.objects.exists() and not BudgetMonth.objects.exists()
    assert clear_budget(organization=org, subject=subject, actor=None) is False
    assert SettingsChange.objects.filter(action="cleared").count() == 1
