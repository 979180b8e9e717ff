"""/o/<slug>/purchases/<id>/test-checkout/: the local payment page of PAYMENTS_PROVIDER=test."""

from decimal import Decimal

import pytest

from billing.models import PurchaseStatus
from billing.purchases import checkout
from tests.billing.purchase_fixtures import (
    assert_ledger_ok,
    balance,
    entries,
    pending_purchase,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def purchase(org, admin_user, package):
    return checkout.start_purchase(organization=org, package=package, buyer=admin_user,
                                    provider="test")


def url(purchase):
    return f"/o/{purchase.organization.slug}/purchases/{purchase.pk}/test-checkout/"


def test_page_is_clearly_marked_test_mode(admin_client, purchase):
    response = admin_client.get(url(purchase))
    assert response.status_code == 200
    html = response.content.decode()
    assert "TEST MODE" in html
    assert 'data-testid="test-pay"' in html and 'data-testid="test-cancel"' in html


def test_pay_runs_fulfilment_and_shows_success(admin_client, org, admin_user, purchase):
    response = admin_client.post(url(purchase), {"pay": "1"})
    assert response["Location"] == f"/o/acme/purchases/{purchase.pk}/success/"
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.PAID
    assert balance(org) == Decimal("5500")
    assert purchase.entry.actor_user == admin_user
    assert purchase.entry.idempotency_key == f"checkout:{purchase.stripe_checkout_session_id}"
    page = admin_client.get(response["Location"])
    assert b"5,500.00 credits" in page.content
    assert_ledger_ok(org)


def test_pay_twice_grants_once(admin_client, org, purchase):
    admin_client.post(url(purchase), {"pay": "1"})
    response = admin_client.post(url(purchase), {"pay": "1"}, follow=True)
    assert b"already Paid" in response.content
    assert balance(org) == Decimal("5500")


def test_cancel_expires_and_grants_nothing(admin_client, org, purchase):
    response = admin_client.post(url(purchase), {"cancel": "1"})
    assert response["Location"] == f"/o/acme/purchases/{purchase.pk}/cancel/"
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.EXPIRED
    assert not entries(org).exists()
    assert b"You were not charged" in admin_client.get(response["Location"]).content


def test_members_cannot_see_or_pay(member_client, org, purchase):
    assert member_client.get(url(purchase)).status_code == 403
    assert member_client.post(url(purchase), {"pay": "1"}).status_code == 403
    assert not entries(org).exists()


def test_off_when_the_provider_is_stripe(admin_client, settings, purchase):
    settings.PAYMENTS_PROVIDER = "stripe"
    assert admin_client.post(url(purchase), {"pay": "1"}).status_code == 404


def test_a_stripe_purchase_cannot_be_paid_here(admin_client, org, admin_user, package):
    purchase = pending_purchase(org, package, admin_user, provider="stripe")
    assert admin_client.post(url(purchase), {"pay": "1"}).status_code == 404
    assert not entries(org).exists()


def test_other_orgs_purchase_is_404(client, other_admin, purchase):
    client.force_login(other_admin)
    other_url = f"/o/globex/purchases/{purchase.pk}/test-checkout/"
    assert client.post(other_url, {"pay": "1"}).status_code == 404
