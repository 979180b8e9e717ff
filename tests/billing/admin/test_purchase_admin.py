"""Staff admin: packages editable; purchases read only with refund actions; events read only."""

import re
from decimal import Decimal

import pytest

from billing.models import CreditPackage, EntryKind, PurchaseStatus, StripeEvent
from billing.payments import local_provider
from billing.purchases import checkout, fulfilment
from tests.billing.purchase_fixtures import (
    assert_ledger_ok,
    balance,
    entries,
)

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/billing/purchase/"


def test_staff_create_a_package(staff_client):
    response = staff_client.post("/admin/billing/creditpackage/add/", {
        "name": "Mega", "description": "", "base_credits": "100000", "bonus_credits": "25000",
        "price_minor": "70000", "currency": "EUR", "active": "on", "sort_order": "40",
        "created_at_0": "2026-01-01", "created_at_1": "00:00:00",
    })
    assert response.status_code == 302, response.content
    package = CreditPackage.objects.get(name="Mega")
    assert package.currency == "eur" and package.total_credits == Decimal("125000")


def test_purchases_are_read_only(staff_client, paid):
    assert staff_client.get(CHANGELIST).status_code == 200
    page = staff_client.get(f"{CHANGELIST}{paid.pk}/change/")
    assert page.status_code == 200 and b"Refund part or all" in page.content
    assert b'name="_save"' not in page.content
    assert staff_client.get(f"{CHANGELIST}add/").status_code == 403
    assert staff_client.post(f"{CHANGELIST}{paid.pk}/delete/").status_code == 403


def test_refund_in_full_action_asks_stripe(staff_client, org, paid, stripe_stub):
    response = staff_client.post(CHANGELIST, {
        "action": "refund_in_full", "_selected_action": [paid.pk]}, follow=True)
    assert b"requested; credits are taken back when Stripe confirms" in response.content
    [request] = stripe_stub.requests_to("POST", "/v1/refunds")
    assert request.form["amount"] == "4500"
    assert balance(org) == Decimal("5500")  # nothing moves before charge.refunded


def test_partial_refund_action_leads_to_the_amount_form(staff_client, paid, stripe_stub):
    response = staff_client.post(CHANGELIST, {
        "action": "partial_refund", "_selected_action": [paid.pk]})
    assert response["Location"] == f"{CHANGELIST}{paid.pk}/refund/"
    form_url = response["Location"]
    assert b"refundable 45.00 USD" in staff_client.get(form_url).content

    form_page = staff_client.get(form_url).content.decode()
    request_id = re.search(r'name="request_id" value="([0-9a-f-]+)"', form_page).group(1)
    bad = staff_client.post(form_url, {"amount": "12.345", "request_id": request_id})
    assert b"Too many decimal places" in bad.content
    too_much = staff_client.post(form_url, {"amount": "50", "request_id": request_id},
                                 follow=True)
    assert b"between 0.01 and 45.00 USD" in too_much.content
    assert stripe_stub.requests_to("POST", "/v1/refunds") == []

    done = staff_client.post(form_url, {"amount": "12.50", "request_id": request_id})
    assert done.status_code == 302
    [request] = stripe_stub.requests_to("POST", "/v1/refunds")
    assert request.form["amount"] == "1250"
    assert request.form["metadata[requested_by]"] == "admin@acme.test"


def test_a_double_submit_reuses_the_key_and_a_new_form_does_not(staff_client, paid,
                                                                  stripe_stub):
    form_url = f"{CHANGELIST}{paid.pk}/refund/"

    def request_id():
        page = staff_client.get(form_url).content.decode()
        return re.search(r'name="request_id" value="([0-9a-f-]+)"', page).group(1)

    first = request_id()
    for rid in (first, first, request_id()):
        staff_client.post(form_url, {"amount": "5", "request_id": rid})
    keys = [r.headers["Idempotency-Key"] for r in stripe_stub.requests_to("POST", "/v1/refunds")]
    assert len(keys) == 3 and keys[0] == keys[1] != keys[2]


def test_stripe_error_on_refund_is_shown(staff_client, paid, stripe_stub):
    stripe_stub.fail_next = (400, "Charge has already been refunded.")
    response = staff_client.post(CHANGELIST, {
        "action": "refund_in_full", "_selected_action": [paid.pk]}, follow=True)
    assert b"Charge has already been refunded." in response.content


def test_test_provider_refund_applies_at_once(staff_client, org, admin_user, package):
    purchase = checkout.start_purchase(organization=org, package=package, buyer=admin_user,
                                        provider="test")
    fulfilment.fulfil_checkout_session(session=local_provider.local_checkout_session(purchase))
    staff_client.post(f"{CHANGELIST}{purchase.pk}/refund/",
                      {"amount": "22.50", "request_id": "5d1f1c1e-0000-4000-8000-000000000001"})
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.PARTIALLY_REFUNDED
    assert -entries(org, kind=EntryKind.REFUND).get().amount == Decimal("2750")
    assert_ledger_ok(org)


def test_events_are_read_only(staff_client):
    event = StripeEvent.objects.create(event_id="evt_1", type="charge.refunded", payload={})
    assert staff_client.get("/admin/billing/stripeevent/").status_code == 200
    page = staff_client.get(f"/admin/billing/stripeevent/{event.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert staff_client.post(f"/admin/billing/stripeevent/{event.pk}/delete/").status_code == 403


def test_non_staff_cannot_reach_the_refund_form(client, member_user, paid):
    client.force_login(member_user)
    response = client.get(f"{CHANGELIST}{paid.pk}/refund/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_sold_package_is_retired_not_deleted(paid, package):
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        package.delete()


def test_test_provider_double_submit_refunds_once(staff_client, org, admin_user, package):
    purchase = checkout.start_purchase(organization=org, package=package, buyer=admin_user,
                                        provider="test")
    fulfilment.fulfil_checkout_session(session=local_provider.local_checkout_session(purchase))
    form_url = f"{CHANGELIST}{purchase.pk}/refund/"
    page = staff_client.get(form_url).content.decode()
    request_id = re.search(r'name="request_id" value="([0-9a-f-]+)"', page).group(1)
    for _ in range(2):
        staff_client.post(form_url, {"amount": "10", "request_id": request_id})
    purchase.refresh_from_db()
    assert purchase.amount_refunded_minor == 1000
    assert entries(org, kind=EntryKind.REFUND).count() == 1
    assert_ledger_ok(org)
