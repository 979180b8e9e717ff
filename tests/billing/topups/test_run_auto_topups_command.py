"""run_auto_topups: the sweep by hand, for every org or one."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from billing.models import TopupAttempt, TopupStatus
from billing.topups import cards
from tests.billing.purchase_fixtures import assert_ledger_ok, balance
from tests.billing.topup_fixtures import set_balance_below, turn_on
from tests.conftest import make_org

pytestmark = pytest.mark.django_db


@pytest.fixture
def low(org, package):
    set_balance_below(org)
    cards.save_test_card(organization=org, payment_method_id="pm_local_visa_ok")
    turn_on(org, package)
    return org


def test_it_tops_up_due_orgs_once_however_often_it_runs(low, capsys):
    call_command("run_auto_topups")
    call_command("run_auto_topups")

    out = capsys.readouterr().out
    assert "credited" in out and "1 attempts tried" in out and "0 attempts tried" in out
    assert TopupAttempt.objects.get().status == TopupStatus.SUCCEEDED
    assert balance(low) == Decimal("6000")
    assert_ledger_ok(low)


def test_only_the_named_org(low, package, capsys):
    other = make_org("other")
    set_balance_below(other, key="other")
    cards.save_test_card(organization=other, payment_method_id="pm_local_visa_ok")
    turn_on(other, package)

    call_command("run_auto_topups", org="other")

    assert list(TopupAttempt.objects.values_list("organization__slug", flat=True)) == ["other"]


def test_an_unknown_org_is_an_error_and_changes_nothing(low):
    with pytest.raises(CommandError, match="no organisation"):
        call_command("run_auto_topups", org="nope")
    assert not TopupAttempt.objects.exists()


def test_a_declining_test_card_fails_and_charges_nothing(low, capsys):
    cards.save_test_card(organization=low, payment_method_id="pm_local_visa_declined")
    call_command("run_auto_topups", org=low.slug)
    assert "failed" in capsys.readouterr().out
    assert balance(low) == Decimal("500")
