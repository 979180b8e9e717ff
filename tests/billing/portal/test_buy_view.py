"""POST /o/<slug>/credits/packages/<id>/buy/"""

import pytest

from billing.models import PurchaseStatus

pytestmark = pytest.mark.django_db


def url(org, package):
    return f"/o/{org.slug}/credits/packages/{package.pk}/buy/"


def test_buy_with_stripe_redirects_to_checkout(admin_client, org, package, stripe_stub):
    response = admin_client.post(url(org, package))
    purchase = org.purchases.get()
    assert response.status_code == 302
    assert response["Location"] == purchase.checkout_url
    assert response["Location"].startswith("https://checkout.stripe.test/")
    assert purchase.status == PurchaseStatus.PENDING
    assert len(stripe_stub.requests_to("POST", "/v1/checkout/sessions")) == 1


def test_buy_in_test_mode_redirects_to_the_local_page(admin_client, org, package):
    response = admin_client.post(url(org, package))
    purchase = org.purchases.get()
    assert response["Location"] == f"/o/acme/purchases/{purchase.pk}/test-checkout/"
    assert purchase.provider == "test"
    assert purchase.stripe_checkout_session_id.startswith("cs_local_")


def test_stripe_error_is_shown_to_the_admin(admin_client, org, package, stripe_stub):
    stripe_stub.fail_next = (401, "Invalid API Key provided")
    response = admin_client.post(url(org, package), follow=True)
    assert b"The purchase could not be started" in response.content
    assert b"STRIPE_SECRET_KEY" in response.content
    assert org.purchases.get().status == PurchaseStatus.FAILED


def test_member_cannot_buy(member_client, org, package):
    assert member_client.post(url(org, package)).status_code == 403
    assert not org.purchases.exists()


def test_get_is_not_allowed(admin_client, org, package):
    assert admin_client.get(url(org, package)).status_code == 405


def test_inactive_package_is_404(admin_client, org, package):
    package.active = False
    package.save()
    assert admin_client.post(url(org, package)).status_code == 404


def test_other_org_is_404(admin_client, other_org, package):
    assert admin_client.post(url(other_org, package)).status_code == 404
    assert not other_org.purchases.exists()
