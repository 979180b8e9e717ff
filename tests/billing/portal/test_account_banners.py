"""The low-balance banner under every portal page's header: figures and advice."""

from decimal import Decimal

import pytest

from billing.models import AlertSettings, AutoTopupSettings
from tests.billing.postings import grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def low_org(org):
    grant(org, "6459.106349", key="test:start")
    AlertSettings.objects.create(organization=org, warning_level=Decimal("9000"))
    return org


def banner(client, org) -> str:
    page = client.get(f"/o/{org.slug}/alerts/").content.decode()
    start = page.index('data-testid="banner-low-balance-warning"')
    return page[start : page.index("</div>", start)]


def test_the_balance_is_shown_as_the_header_shows_it(admin_client, low_org):
    text = banner(admin_client, low_org)
    assert "6,459.11 credits" in text
    assert "6,459.106349" not in text


def test_admins_without_auto_topup_are_told_to_buy_or_turn_it_on(admin_client, low_org):
    assert "Buy credits or turn on auto-topup." in banner(admin_client, low_org)


def test_admins_with_auto_topup_on_are_not_told_to_turn_it_on(admin_client, low_org):
    AutoTopupSettings.objects.create(organization=low_org, enabled=True, threshold=Decimal("9500"))
    text = banner(admin_client, low_org)
    assert "turn on auto-topup" not in text
    assert "Auto-topup is on" in text


def test_members_are_told_to_ask_an_admin(member_client, low_org):
    text = banner(member_client, low_org)
    assert "Ask an admin" in text
    assert "Buy credits" not in text and "turn on auto-topup" not in text
