"""The gateway drives the real stripe library against a local stub HTTP server."""

import json
import time

import pytest

from billing.models import PurchaseStatus, StripeCustomer
from billing.payments import stripe_provider as stripe_gateway
from billing.purchases import checkout
from tests.billing.purchase_fixtures import pending_purchase
from tests.billing.stripe_stub import sign

pytestmark = pytest.mark.django_db


def test_checkout_session_request_carries_everything(org, admin_user, package, stripe_stub):
    purchase = checkout.start_purchase(organization=org, package=package, buyer=admin_user)

    [request] = stripe_stub.requests_to("POST", "/v1/checkout/sessions")
    form = request.form
    assert form["mode"] == "payment"
    assert form["line_items[0][quantity]"] == "1"
    assert form["line_items[0][price_data][unit_amount]"] == "4500"
    assert form["line_items[0][price_data][currency]"] == "usd"
    assert form["line_items[0][price_data][product_data][name]"] == "Growth"
    assert form["client_reference_id"] == str(purchase.pk)
    assert form["metadata[purchase_id]"] == str(purchase.pk)
    assert form["metadata[organization]"] == "acme"
    assert form["customer"] == StripeCustomer.objects.get(organization=org).customer_id
    assert form["payment_intent_data[setup_future_usage]"] == "off_session"
    assert form["payment_intent_data[metadata][purchase_id]"] == str(purchase.pk)
    assert form["invoice_creation[enabled]"] == "true"
    assert form["success_url"] == (f"http://testserver/o/acme/purchases/{purchase.pk}/success/"
                                   "?session_id={CHECKOUT_SESSION_ID}")
    assert form["cancel_url"] == f"http://testserver/o/acme/purchases/{purchase.pk}/cancel/"
    assert request.headers["Idempotency-Key"] == f"purchase-{purchase.pk}-checkout"
    assert request.headers["Stripe-Version"] == stripe_gateway.API_VERSION
    assert request.headers["Authorization"] == "Bearer sk_test_stub"

    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.PENDING
    assert purchase.stripe_checkout_session_id.startswith("cs_test_stub_")
    assert purchase.checkout_url.startswith("https://checkout.stripe.test/")
    assert not any(k.startswith(("allow_promotion_codes", "automatic_tax", "tax_id_collection"))
                   for k in form)


def test_promotion_codes_and_stripe_tax_are_settings(settings, org, admin_user, package,
                                                    stripe_stub):
    settings.STRIPE_ALLOW_PROMOTION_CODES = settings.STRIPE_AUTOMATIC_TAX = True
    checkout.start_purchase(organization=org, package=package, buyer=admin_user)
    [request] = stripe_stub.requests_to("POST", "/v1/checkout/sessions")
    assert {k: v for k, v in request.form.items() if not k.startswith(
        ("line_items", "metadata", "payment_intent_data", "invoice_creation", "success",
         "cancel", "mode", "client_reference_id", "customer["))} == {
        "allow_promotion_codes": "true", "automatic_tax[enabled]": "true",
        "billing_address_collection": "required", "tax_id_collection[enabled]": "true",
        "customer": request.form["customer"], "customer_update[address]": "auto",
        "customer_update[name]": "auto"}


def test_customer_created_once_per_org_and_reused(org, admin_user, package, stripe_stub):
    checkout.start_purchase(organization=org, package=package, buyer=admin_user)
    checkout.start_purchase(organization=org, package=package, buyer=admin_user)

    [create] = stripe_stub.requests_to("POST", "/v1/customers")
    assert create.headers["Idempotency-Key"] == f"org-{org.pk}-customer"
    assert create.form["metadata[organization]"] == "acme"
    sessions = stripe_stub.requests_to("POST", "/v1/checkout/sessions")
    assert len(sessions) == 2
    assert {s.form["customer"] for s in sessions} == {StripeCustomer.objects.get().customer_id}


def test_stripe_error_becomes_a_clear_message_and_a_failed_purchase(
        org, admin_user, package, stripe_stub):
    StripeCustomer.objects.create(organization=org, customer_id="cus_known")
    stripe_stub.fail_next = (400, "Invalid currency: xyz")
    with pytest.raises(stripe_gateway.PaymentError, match="Stripe error: Invalid currency"):
        checkout.start_purchase(organization=org, package=package, buyer=admin_user)
    purchase = org.purchases.get()
    assert purchase.status == PurchaseStatus.FAILED
    assert "Invalid currency" in purchase.failure_reason


def test_unreachable_stripe_is_reported(settings, org, package):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # discard port: nothing listens
    with pytest.raises(stripe_gateway.PaymentError, match="Could not reach Stripe"):
        stripe_gateway.create_customer(organization=org)


def test_retrieve_session_expands_receipt_details(stripe_stub):
    stripe_stub.set_session("cs_x", payment_status="paid")
    session = stripe_gateway.retrieve_checkout_session("cs_x")
    assert session["payment_status"] == "paid"
    [request] = stripe_stub.requests_to("GET", "/v1/checkout/sessions/cs_x")
    assert request.query == {"expand[0]": "invoice", "expand[1]": "payment_intent.latest_charge",
                             "expand[2]": "payment_intent.payment_method",
                             "expand[3]": "setup_intent.payment_method"}


def test_refund_request(org, admin_user, package, stripe_stub):
    purchase = pending_purchase(org, package, admin_user)
    refund = stripe_gateway.create_refund(payment_intent_id="pi_1", amount_minor=1200,
                                          idempotency_key="purchase-1-refund-0-1200",
                                          metadata={"purchase_id": str(purchase.pk)})
    assert refund["amount"] == 1200
    [request] = stripe_stub.requests_to("POST", "/v1/refunds")
    assert request.form["payment_intent"] == "pi_1"
    assert request.form["amount"] == "1200"
    assert request.headers["Idempotency-Key"] == "purchase-1-refund-0-1200"


def test_construct_event_verifies_signature_and_age(settings):
    payload = json.dumps({"id": "evt_1", "type": "charge.refunded", "data": {"object": {}}})
    secret = settings.STRIPE_WEBHOOK_SECRET
    assert stripe_gateway.construct_event(payload.encode(), sign(payload, secret))["id"] == "evt_1"
    for header in [sign(payload, "whsec_other"), sign(payload, secret, int(time.time()) - 301),
                   "", None, "garbage"]:
        with pytest.raises(stripe_gateway.InvalidSignature):
            stripe_gateway.construct_event(payload.encode(), header)
    with pytest.raises(stripe_gateway.InvalidSignature):
        stripe_gateway.construct_event(payload.replace("evt_1", "evt_2").encode(),
                                       sign(payload, secret))
