"""Checkout amounts (finding 7): discounts and tax explain the total and the package's
credits are granted; an amount nothing explains holds the purchase for staff, who grant
it or refund it; no_payment_required grants."""

from decimal import Decimal

import pytest

from billing.models import EntryKind, PurchaseStatus
from billing.purchases import held
from billing.purchases.errors import PurchaseError
from billing.webhooks import dispatcher as webhooks
from tests.billing.purchase_fixtures import assert_ledger_ok, balance, entries, pending_purchase
from tests.billing.stripe_stub import charge_object, event, session_object

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stripe_stub")]  # offline


@pytest.fixture
def purchase(org, admin_user, package):
    return pending_purchase(org, package, admin_user)


def completed(purchase, *, total, subtotal=4500, discount=0, tax=0, **extra):
    return session_object(purchase, amount_total=total, amount_subtotal=subtotal,
                          total_details={"amount_discount": discount, "amount_tax": tax,
                                         "amount_shipping": 0}, **extra)


def deliver(kind, obj):
    result = webhooks.process_event(event(kind, obj))
    assert result.status == 200, result.message


@pytest.mark.parametrize(("total", "discount", "tax"), [
    (4050, 450, 0),  # a promotion code
    (4950, 0, 450),  # tax on top (exclusive)
    (4500, 0, 409),  # tax included in the price (inclusive)
    (4455, 450, 405),  # both
])
def test_discount_and_tax_explain_the_total_and_the_package_is_granted(
        org, purchase, total, discount, tax):
    deliver("checkout.session.completed", completed(purchase, total=total, discount=discount,
                                                    tax=tax))
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.PAID and balance(org) == Decimal("5500")
    assert (purchase.amount_subtotal_minor, purchase.amount_discount_minor,
            purchase.amount_tax_minor, purchase.amount_paid_minor) == (4500, discount, tax,
                                                                       total)
    assert_ledger_ok(org)


def test_no_payment_required_grants_the_package(org, purchase):
    deliver("checkout.session.completed", completed(
        purchase, total=0, discount=4500, payment_status="no_payment_required"))
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.PAID and balance(org) == Decimal("5500")


@pytest.mark.parametrize("session", [
    {"total": 4950, "subtotal": 4500},  # 4,950 that nothing explains
    {"total": 4500, "subtotal": 9000, "discount": 4500},  # not the package's price
    {"total": 4500, "currency": "eur"},
])
def test_an_amount_nothing_explains_is_held_for_staff_and_answers_200(org, purchase, session):
    deliver("checkout.session.completed", completed(purchase, **session))
    deliver("checkout.session.completed", completed(purchase, **session))  # again: 200
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.HELD and purchase.failure_reason.startswith("Held")
    assert balance(org) == 0 and not entries(org).exists()


def test_staff_grant_a_held_purchase_once(org, admin_user, purchase):
    deliver("checkout.session.completed", completed(purchase, total=4950))
    held.grant_held_purchase(purchase=purchase, granted_by=admin_user)
    with pytest.raises(PurchaseError, match="only a held purchase"):
        held.grant_held_purchase(purchase=purchase, granted_by=admin_user)
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.PAID and balance(org) == Decimal("5500")
    assert entries(org, kind=EntryKind.PURCHASE).get().actor_label == admin_user.email
    assert_ledger_ok(org)


def test_staff_refund_a_held_purchase_and_nothing_is_taken_back(org, admin_user, purchase,
                                                                stripe_stub):
    deliver("checkout.session.completed", completed(purchase, total=4950))
    held.refund_held_purchase(purchase=purchase, refunded_by=admin_user)
    [request] = stripe_stub.requests_to("POST", "/v1/refunds")
    assert request.form["amount"] == "4950"
    refunded = {**charge_object(purchase, amount_refunded=4950), "amount": 4950}
    deliver("charge.refunded", refunded)
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.REFUNDED and purchase.amount_refunded_minor == 4950
    assert balance(org) == 0 and not entries(org).exists()


def test_staff_see_and_act_on_held_purchases_in_the_admin(client, org, admin_user, purchase):
    deliver("checkout.session.completed", completed(purchase, total=4950))
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    listing = client.get("/admin/billing/purchase/?status__exact=held").content.decode()
    assert "Held for staff" in listing and "Held: grant the package" in listing
    response = client.post("/admin/billing/purchase/", {
        "action": "grant_held", "_selected_action": [purchase.pk]})
    assert response.status_code == 302 and balance(org) == Decimal("5500")
