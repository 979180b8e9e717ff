"""docs/stripe.md's restricted key holds exactly the permissions the gateway's calls need:
every provider operation is run against the stub, and each recorded request (and each
object it expands) is mapped to the Stripe resource and access it needs (finding 3)."""

import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from billing.payments.stripe_provider import StripeProvider
from billing.purchases import checkout
from billing.topups import attempts
from tests.billing.purchase_fixtures import pending_purchase
from tests.billing.topup_fixtures import save_stripe_card, set_balance_below, turn_on

pytestmark = pytest.mark.django_db
DOCS = Path(__file__).resolve().parents[3] / "docs" / "stripe.md"
RESOURCES = {  # the path after /v1/ -> the resource's name in Stripe's key editor
    "customers": "Customers", "checkout": "Checkout Sessions",
    "payment_intents": "PaymentIntents", "payment_methods": "PaymentMethods",
    "refunds": "Refunds", "webhook_endpoints": "Webhook Endpoints",
}
EXPANDED = {  # an expanded field -> the resource it reads
    "invoice": "Invoices", "payment_intent": "PaymentIntents", "latest_charge": "Charges",
    "payment_method": "PaymentMethods", "setup_intent": "SetupIntents",
}


def needed(requests) -> dict[str, str]:
    access: dict[str, str] = {}

    def need(resource, level):
        if access.get(resource) != "Write":
            access[resource] = level
    for request in requests:
        need(RESOURCES[request.path.split("/")[2]], "Write" if request.method == "POST"
             else "Read")
        for key, value in request.query.items():
            if key.startswith("expand["):
                for field in value.split("."):
                    need(EXPANDED[field], "Read")
    return access


def documented() -> dict[str, str]:
    section = DOCS.read_text().split("## The restricted key", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| (\w[\w ]+?) \| (Read|Write) \|", section, re.M))


def test_the_documented_restricted_key_is_exactly_what_the_gateway_calls(
        org, admin_user, package, stripe_stub):
    provider = StripeProvider()
    purchase = checkout.start_purchase(organization=org, package=package, buyer=admin_user)
    stripe_stub.set_session(purchase.stripe_checkout_session_id, status="complete")
    provider.retrieve_checkout_session(session_id=purchase.stripe_checkout_session_id)
    paid = pending_purchase(org, package, admin_user, session_id="cs_paid")
    paid.stripe_payment_intent_id = "pi_paid"
    provider.refund(purchase=paid, amount_minor=100, idempotency_key="k", metadata={})
    provider.open_card_setup(organization=org, customer_email="a@example.test",
                             currency="usd", success_url="https://x/", cancel_url="https://x/")
    provider.detach_payment_method(payment_method_id="pm_old")
    set_balance_below(org)
    save_stripe_card(org)
    turn_on(org, package)
    claim = attempts.claim(organization=org)
    intent = provider.send_off_session_charge(attempt=claim.attempt, try_number=1,
                                              resend=False)
    claim.attempt.payment_intent_id = intent["id"]
    provider.send_off_session_charge(attempt=claim.attempt, try_number=1, resend=True)
    call_command("stripe_webhook_setup", url="https://x.example/billing/stripe/webhook/",
                 stdout=StringIO())

    assert needed(stripe_stub.requests) == documented()
