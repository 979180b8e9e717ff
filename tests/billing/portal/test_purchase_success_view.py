"""/o/<slug>/purchases/<id>/success/ and /cancel/"""

from decimal import Decimal

import pytest

from billing.models import PurchaseStatus
from tests.billing.purchase_fixtures import balance, pending_purchase
from tests.billing.stripe_stub import session_object

pytestmark = pytest.mark.django_db


def success_url(purchase, session_id=None):
    sid = session_id or purchase.stripe_checkout_session_id
    return f"/o/{purchase.organization.slug}/purchases/{purchase.pk}/success/?session_id={sid}"


def test_success_confirms_a_paid_session_with_stripe(admin_client, org, admin_user, package,
                                                     stripe_stub):
    purchase = pending_purchase(org, package, admin_user)
    stripe_stub.set_session(purchase.stripe_checkout_session_id, **session_object(
        purchase, invoice={"id": "in_5", "hosted_invoice_url": "https://invoice.stripe.test/5"}))
    response = admin_client.get(success_url(purchase))
    assert response.status_code == 200
    assert b"5,500.00 credits" in response.content
    assert b"https://invoice.stripe.test/5" in response.content
    assert balance(org) == Decimal("5500")


def test_success_with_an_unpaid_session_waits(admin_client, org, admin_user, package,
                                              stripe_stub):
    purchase = pending_purchase(org, package, admin_user)
    stripe_stub.set_session(purchase.stripe_checkout_session_id,
                            **session_object(purchase, payment_status="unpaid"))
    response = admin_client.get(success_url(purchase))
    assert b"being confirmed" in response.content
    assert balance(org) == 0


def test_success_with_another_session_id_does_not_ask_stripe(admin_client, org, admin_user,
                                                             package, stripe_stub):
    purchase = pending_purchase(org, package, admin_user)
    admin_client.get(success_url(purchase, "cs_forged"))
    assert stripe_stub.requests == []
    assert balance(org) == 0


def test_stripe_down_on_success_shows_a_message(admin_client, org, admin_user, package,
                                                stripe_stub):
    purchase = pending_purchase(org, package, admin_user)
    response = admin_client.get(success_url(purchase))  # the stub does not know the session
    assert b"could not confirm the payment yet" in response.content
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.PENDING


def test_other_orgs_purchase_is_404(client, other_admin, org, admin_user, package):
    purchase = pending_purchase(org, package, admin_user)
    client.force_login(other_admin)
    assert client.get(f"/o/globex/purchases/{purchase.pk}/success/").status_code == 404
    assert client.get(f"/o/acme/purchases/{purchase.pk}/success/").status_code == 404
    assert client.get(f"/o/globex/purchases/{purchase.pk}/cancel/").status_code == 404


def test_cancel_page(admin_client, org, admin_user, package):
    purchase = pending_purchase(org, package, admin_user)
    response = admin_client.get(f"/o/acme/purchases/{purchase.pk}/cancel/")
    assert b"You were not charged" in response.content
