"""send_low_balance_alerts: the alert check by hand, for every org or one."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from billing.models import AlertSettings, Notification
from tests.billing.postings import consume, grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def crossed(org, admin_user):
    grant(org, "1000", key="test:start")
    AlertSettings.objects.create(organization=org, warning_level=Decimal("500"))
    consume(org, "700", key="usage:1")  # no commit hook in this test: nothing checked yet
    return org


def test_it_notifies_a_crossing_once_however_often_it_runs(crossed, capsys):
    call_command("send_low_balance_alerts")
    call_command("send_low_balance_alerts", org=crossed.slug)

    out = capsys.readouterr().out
    assert "1 notifications sent" in out and "0 notifications sent" in out
    assert Notification.objects.count() == 1


def test_an_unknown_org_is_an_error(crossed):
    with pytest.raises(CommandError, match="no organisation"):
        call_command("send_low_balance_alerts", org="nope")
    assert not Notification.objects.exists()
