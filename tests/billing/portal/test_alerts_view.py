"""/o/<slug>/alerts/: the two levels (admins change, members read) and the notifications."""

from decimal import Decimal

import pytest

from billing.models import AlertSettings
from tests.billing.postings import grant

pytestmark = pytest.mark.django_db


def url(org):
    return f"/o/{org.slug}/alerts/"


def test_an_admin_sets_the_levels(admin_client, org):
    response = admin_client.post(url(org), {"warning_level": "500", "critical_level": "100"})
    assert response.status_code == 302
    row = AlertSettings.objects.get(organization=org)
    assert (row.warning_level, row.critical_level) == (Decimal("500"), Decimal("100"))
    assert org.settings_changes.filter(area="alerts").exists()
    page = admin_client.get(url(org)).content.decode()
    assert 'value="500"' in page and 'value="100"' in page  # as typed, not 500.000000


def test_critical_above_warning_is_refused(admin_client, org):
    response = admin_client.post(url(org), {"warning_level": "100", "critical_level": "500"})
    assert response.status_code == 200
    assert "must not be above the warning level" in response.content.decode()
    assert not AlertSettings.objects.exists()


def test_notifications_are_listed_and_the_banner_shows(admin_client, org):
    grant(org, "50", key="test:start")
    admin_client.post(url(org), {"warning_level": "500", "critical_level": "100"})

    page = admin_client.get(url(org)).content.decode()

    assert 'data-testid="notification-warning"' in page
    assert 'data-testid="notification-critical"' in page
    assert 'data-testid="banner-low-balance-critical"' in page


def test_members_read_only(member_client, org):
    page = member_client.get(url(org)).content.decode()
    assert 'name="warning_level"' in page and "disabled" in page
    assert member_client.post(url(org), {"warning_level": "5"}).status_code == 403
