"""GET /o/<slug>/purchases/"""

import pytest

from billing.purchases import fulfilment
from billing.refunds import confirmed
from tests.billing.purchase_fixtures import pending_purchase
from tests.billing.stripe_stub import session_object

pytestmark = pytest.mark.django_db


def test_lists_date_package_amount_credits_status_buyer_receipt(member_client, org, admin_user,
                                                                package):
    paid = pending_purchase(org, package, admin_user)
    fulfilment.fulfil_checkout_session(session=session_object(paid, invoice={
        "id": "in_1", "hosted_invoice_url": "https://invoice.stripe.test/in_1"}))
    pending_purchase(org, package, admin_user)

    response = member_client.get("/o/acme/purchases/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("Growth") == 2
    assert "45.00 USD" in html
    assert "5,500.00" in html and "incl. 500.00 bonus" in html
    assert "Paid" in html and "Pending" in html
    assert "admin@acme.test" in html
    assert 'href="https://invoice.stripe.test/in_1"' in html
    assert "Continue payment" not in html  # members do not pay


def test_refunds_are_shown(admin_client, org, admin_user, package):
    paid = pending_purchase(org, package, admin_user)
    fulfilment.fulfil_checkout_session(session=session_object(paid))
    confirmed.apply_charge_refunded(charge={"id": "ch_1", "payment_intent": f"pi_{paid.pk}",
                                            "amount": 4500, "amount_refunded": 1000})
    html = admin_client.get("/o/acme/purchases/").content.decode()
    assert "Partially refunded" in html and "refunded 10.00 USD" in html


def test_only_this_orgs_purchases(admin_client, org, other_org, other_admin, package):
    pending_purchase(other_org, package, other_admin)
    html = admin_client.get("/o/acme/purchases/").content.decode()
    assert "No purchases yet" in html
    assert admin_client.get("/o/globex/purchases/").status_code == 404


def test_paginates(admin_client, org, admin_user, package):
    for _ in range(30):
        pending_purchase(org, package, admin_user)
    response = admin_client.get("/o/acme/purchases/?page=2")
    assert len(response.context["purchases"]) == 5
