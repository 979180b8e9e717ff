"""The account's watch level: listeners hear of every fall below it and of every rise,
and nothing else; alerts and auto-topup still act exactly at their crossings."""

from decimal import Decimal

import pytest

from billing.alerts import services as alerts
from billing.ledger import listeners
from billing.ledger.listeners import worth_announcing
from billing.models import CreditAccount, Notification, NotificationKind, TopupAttempt
from tests.billing.postings import consume, grant
from tests.billing.topup_fixtures import save_stripe_card, topup_entries, turn_on

D = Decimal


def watch_level(org):
    return CreditAccount.objects.get(organization=org).watch_level


@pytest.fixture
def heard(monkeypatch):
    """Every (before, after) the listeners are told of, the real listeners kept."""
    calls = []
    monkeypatch.setattr(listeners, "BALANCE_LISTENERS", [
        lambda *, organization, before, after: calls.append((before, after)),
        *listeners.BALANCE_LISTENERS,
    ])
    return calls


@pytest.mark.parametrize(("before", "after", "level", "told"), [
    ("100", "90", None, False),  # nothing watched
    ("100", "90", "50", False),  # stays above
    ("100", "50", "50", False),  # at the level is not below it
    ("100", "49.999999", "50", True),
    ("40", "30", "50", True),  # already below: auto-topup may still need a trigger
    ("40", "60", None, True),  # a rise is always told (it re-arms alerts)
])
def test_worth_announcing(before, after, level, told):
    assert worth_announcing(before=D(before), after=D(after),
                            watch_level=None if level is None else D(level)) is told


@pytest.mark.django_db
def test_the_watch_level_follows_alert_and_topup_settings(org, admin_user, package):
    assert watch_level(org) is None
    alerts.update_levels(organization=org, warning_level=D("500"), critical_level=D("100"),
                         actor=admin_user)
    assert watch_level(org) == D("500")
    row = turn_on(org, package, threshold="1000")
    assert watch_level(org) == D("1000")
    row.enabled = False
    row.save()
    assert watch_level(org) == D("500")  # a disabled auto-topup watches nothing
    alerts.update_levels(organization=org, warning_level=None, critical_level=D("100"),
                         actor=admin_user)
    assert watch_level(org) == D("100")
    alerts.update_levels(organization=org, warning_level=None, critical_level=None,
                         actor=admin_user)
    assert watch_level(org) is None


@pytest.mark.django_db(transaction=True)
def test_falls_above_the_level_are_not_announced(org, admin_user, heard):
    grant(org, "1000", key="test:start")
    consume(org, "100", key="usage:1")  # nothing watched
    assert heard == [(D("0"), D("1000"))]  # only the grant (a rise)
    alerts.update_levels(organization=org, warning_level=D("500"), critical_level=None,
                         actor=admin_user)
    consume(org, "300", key="usage:2")  # 600: above 500
    assert heard == [(D("0"), D("1000"))]
    consume(org, "150", key="usage:3")  # 450: below
    consume(org, "50", key="usage:4")  # 400: still below
    assert heard[1:] == [(D("600"), D("450")), (D("450"), D("400"))]


@pytest.mark.django_db(transaction=True)
def test_alerts_fire_at_each_crossing_when_levels_change_between_postings(org, admin_user):
    grant(org, "1000", key="test:start")
    consume(org, "100", key="usage:1")  # 900, no levels yet
    alerts.update_levels(organization=org, warning_level=D("800"), critical_level=None,
                         actor=admin_user)
    consume(org, "50", key="usage:2")  # 850: above
    assert not Notification.objects.exists()
    alerts.update_levels(organization=org, warning_level=D("860"), critical_level=D("100"),
                         actor=admin_user)  # the balance is already below: notified at once
    assert Notification.objects.count() == 1
    alerts.update_levels(organization=org, warning_level=D("700"), critical_level=D("100"),
                         actor=admin_user)  # new levels re-arm; 850 is above 700
    consume(org, "140", key="usage:3")  # 710: above
    assert Notification.objects.count() == 1
    consume(org, "20", key="usage:4")  # 690: crosses 700
    consume(org, "595", key="usage:5")  # 95: crosses 100
    assert list(Notification.objects.order_by("id").values_list("kind", flat=True)) == [
        NotificationKind.WARNING, NotificationKind.WARNING, NotificationKind.CRITICAL]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_topup_turned_on_between_postings_triggers_on_the_next_fall(org, admin_user, package,
                                                                      stripe_stub):
    grant(org, "1500", key="test:start")
    save_stripe_card(org)
    consume(org, "600", key="usage:1")  # 900: nothing is watched yet
    assert not TopupAttempt.objects.exists()
    turn_on(org, package, threshold="1000")
    consume(org, "10", key="usage:2")  # 890 < 1000: the on-commit trigger runs the task
    assert topup_entries(org).count() == 1
