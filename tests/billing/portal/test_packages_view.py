"""GET /o/<slug>/credits/packages/"""

from decimal import Decimal

import pytest

from billing.models import CreditPackage
from tests.billing.purchase_fixtures import pending_purchase

pytestmark = pytest.mark.django_db


@pytest.fixture
def packages(db):
    return [
        CreditPackage.objects.create(name="Starter", base_credits=Decimal("1000"),
                                     price_minor=1000, sort_order=1),
        CreditPackage.objects.create(name="Growth", base_credits=Decimal("5000"),
                                     bonus_credits=Decimal("500"), price_minor=4500,
                                     sort_order=2),
        CreditPackage.objects.create(name="Scale", base_credits=Decimal("20000"),
                                     bonus_credits=Decimal("4000"), price_minor=16000,
                                     sort_order=3),
        CreditPackage.objects.create(name="Retired", base_credits=Decimal("1"),
                                     price_minor=1, active=False),
    ]


def url(org):
    return f"/o/{org.slug}/credits/packages/"


def test_admin_sees_offers_with_totals_bonus_price_per_credit_and_buy(admin_client, org,
                                                                      packages):
    response = admin_client.get(url(org))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Retired" not in html
    assert "5,500.00" in html  # Growth in total
    assert "500.00 bonus" in html and "(10% extra)" in html
    assert "(20% extra)" in html
    assert "45.00 USD" in html
    # Price comparisons as money, in the currency's minor units: 160.00 / 24 thousands.
    assert "6.67 USD per 1,000 credits" in html and "8.18 USD per 1,000 credits" in html
    assert "per credit" not in html
    assert html.count("Best value") == 1
    offers = response.context["offers"]
    assert [o.package.name for o in offers if o.best_value] == ["Scale"]
    assert html.count('data-testid="buy-') == 3


def test_member_sees_packages_without_buy_buttons(member_client, org, packages):
    response = member_client.get(url(org))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Growth" in html
    assert 'data-testid="buy-' not in html
    assert "Only admins" in html


def test_pending_purchases_are_shown(admin_client, org, admin_user, packages):
    pending_purchase(org, packages[1], admin_user)
    response = admin_client.get(url(org))
    assert b"Awaiting payment" in response.content


def test_plan_without_billing_sees_an_upgrade_notice_and_no_buy(admin_client, org, packages):
    org.plan = "free"
    org.save()
    html = admin_client.get(url(org)).content.decode()
    assert "Upgrade to buy credits" in html
    assert 'data-testid="buy-' not in html


def test_other_orgs_page_is_404(admin_client, other_org, packages):
    assert admin_client.get(url(other_org)).status_code == 404


def test_anonymous_is_sent_to_login(client, org):
    response = client.get(url(org))
    assert response.status_code == 302 and "/login/" in response["Location"]
