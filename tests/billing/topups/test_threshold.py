"""Below the auto-topup threshold: strictly below, only while auto-topup is on."""

from decimal import Decimal

import pytest

from billing.models import AutoTopupSettings, CreditAccount
from billing.topups import threshold
from tests.billing.postings import grant
from tests.billing.topup_fixtures import turn_on


@pytest.mark.parametrize("balance, level, below", [
    ("999.999999", "1000", True),
    ("1000", "1000", False),  # equal is not below
    ("1000.000001", "1000", False),
    ("-5", "0", True),  # in debt with a zero threshold
    ("0", "0", False),
    ("-5", None, False),  # auto-topup off: never below
])
def test_is_below_is_strict_and_off_is_never_below(balance, level, below):
    assert threshold.is_below(balance=Decimal(balance),
                              threshold=None if level is None else Decimal(level)) is below


@pytest.mark.django_db
def test_the_threshold_counts_only_while_auto_topup_is_on(org, package):
    assert threshold.enabled_threshold(organization_id=org.pk) is None
    row = turn_on(org, package, threshold="1000")
    assert threshold.enabled_threshold(organization_id=org.pk) == Decimal("1000")
    row.enabled = False
    row.save()
    assert threshold.enabled_threshold(organization_id=org.pk) is None


@pytest.mark.django_db
@pytest.mark.parametrize("credits, level, on, due", [
    ("999", "1000", True, True),
    ("1000", "1000", True, False),
    ("1001", "1000", True, False),
    ("10", "1000", False, False),
])
def test_the_sweeps_query_agrees_with_is_below(org, package, credits, level, on, due):
    grant(org, credits, key="test:threshold")
    row = turn_on(org, package, threshold=level)
    AutoTopupSettings.objects.filter(pk=row.pk).update(enabled=on)
    balance = CreditAccount.objects.get(organization=org).balance
    level_if_on = threshold.enabled_threshold(organization_id=org.pk)
    assert threshold.is_below(balance=balance, threshold=level_if_on) is due
    assert list(threshold.settings_below_threshold()) == ([row] if due else [])
