"""Low-balance alerts: one notification per downward crossing, re-armed by a rise.

Transactional: the checks run from the ledger's after-commit listener, as in production,
and the email goes through the real django-q2 task function (sync in tests).
"""

from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from billing.alerts import services
from billing.models import AlertSettings, AutoTopupSettings, Notification, NotificationKind
from tests.billing.postings import consume, grant
from tests.billing.usage_fixtures import rollup_row
from tests.conftest import make_member

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def levels(org, admin_user, member_user):
    grant(org, "1000", key="test:start")
    return services.update_levels(organization=org, warning_level=Decimal("500"),
                                  critical_level=Decimal("100"), actor=admin_user)


def kinds():
    return list(Notification.objects.order_by("id").values_list("kind", flat=True))


def test_crossing_down_twice_without_rising_sends_one_email(org, levels, admin_user):
    consume(org, "600", key="usage:1")  # 400: below the warning level
    consume(org, "50", key="usage:2")  # 350: still below, no rise between
    services.check_all()  # the sweep sees the same state

    assert kinds() == [NotificationKind.WARNING]
    [email] = mail.outbox
    assert email.to == [admin_user.email]  # admins only, not the member
    assert "warning level" in email.subject
    assert "350" not in email.body and "400.00" in email.body


def test_rising_above_and_crossing_again_sends_a_second(org, levels):
    consume(org, "600", key="usage:1")  # 400
    grant(org, "200", key="test:refill")  # 600: re-armed
    assert AlertSettings.objects.get(organization=org).warning_armed
    consume(org, "150", key="usage:2")  # 450: crossed again

    assert kinds() == [NotificationKind.WARNING, NotificationKind.WARNING]
    assert len(mail.outbox) == 2


def test_a_steep_drop_fires_warning_and_critical_once_each(org, levels):
    consume(org, "950", key="usage:1")  # 50: below both
    consume(org, "10", key="usage:2")
    services.check_all()

    assert sorted(kinds()) == [NotificationKind.CRITICAL, NotificationKind.WARNING]
    assert len(mail.outbox) == 2


def test_the_email_has_html_text_runway_and_site_url_links(org, levels):
    rollup_row(org, timezone.now().date(), 70)  # 10 credits a day over 7 days
    consume(org, "600", key="usage:1")  # 400 credits: 40 days

    [email] = mail.outbox
    html = email.alternatives[0][0]
    assert "40.0 days" in email.body and "40.0 days" in html
    assert f"http://testserver/o/{org.slug}/" in email.body
    assert f'href="http://testserver/o/{org.slug}/alerts/"' in html


def test_new_levels_above_the_balance_notify_at_once(org, admin_user):
    grant(org, "100", key="test:start")
    services.update_levels(organization=org, warning_level=Decimal("500"), critical_level=None,
                           actor=admin_user)
    assert kinds() == [NotificationKind.WARNING]


def test_critical_above_warning_is_refused_and_changes_nothing(org, levels, admin_user):
    with pytest.raises(services.AlertSettingsError):
        services.update_levels(organization=org, warning_level=Decimal("100"),
                               critical_level=Decimal("200"), actor=admin_user)
    row = AlertSettings.objects.get(organization=org)
    assert (row.warning_level, row.critical_level) == (Decimal("500"), Decimal("100"))


def test_levels_changes_go_to_the_settings_history(org, levels):
    change = org.settings_changes.get(area="alerts")
    assert "warning 500.00" in change.summary and change.actor_label == "admin@acme.test"


def test_every_admin_is_emailed(org, levels):
    make_member(org, "second@acme.test", "admin")
    consume(org, "600", key="usage:1")
    assert sorted(mail.outbox[0].to) == ["admin@acme.test", "second@acme.test"]


def test_the_email_shows_credits_to_two_places_and_fitting_advice(org, admin_user):
    grant(org, "6459.106349", key="test:start")
    AutoTopupSettings.objects.create(organization=org, enabled=True, threshold=Decimal("9500"))
    services.update_levels(organization=org, warning_level=Decimal("9000"),
                           critical_level=None, actor=admin_user)

    [email] = mail.outbox
    assert "6,459.11 credits" in email.body and "9,000.00" in email.body
    assert "6,459.106349" not in email.body
    assert "turn on auto-topup" not in email.body  # it is on
    assert "Auto-topup is on" in email.body
