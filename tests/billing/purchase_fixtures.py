"""Fixtures shared by the purchase tests: packages, a pending purchase, the Stripe stub."""

import json
from decimal import Decimal

import pytest
from django.conf import settings as django_settings

from billing.ledger.verify import verify_ledger
from billing.models import CreditAccount, CreditPackage, LedgerEntry, Purchase
from billing.purchases import checkout, fulfilment
from tests.billing.stripe_stub import StripeStub, session_object, sign

WEBHOOK_URL = "/billing/stripe/webhook/"


@pytest.fixture
def stripe_stub(settings):
    """The real stripe library talking to a local stub; PAYMENTS_PROVIDER=stripe."""
    with StripeStub() as stub:
        settings.STRIPE_API_BASE = stub.url
        settings.PAYMENTS_PROVIDER = "stripe"
        yield stub


@pytest.fixture
def package(db):
    return CreditPackage.objects.create(
        name="Growth", base_credits=Decimal("5000"), bonus_credits=Decimal("500"),
        price_minor=4500, currency="usd", sort_order=20,
    )


@pytest.fixture
def paid(org, admin_user, package):
    """The org admin's purchase of `package`, paid and fulfilled (through Stripe's session)."""
    purchase = pending_purchase(org, package, admin_user)
    fulfilment.fulfil_checkout_session(session=session_object(purchase))
    purchase.refresh_from_db()
    return purchase


def pending_purchase(org, package, buyer, *, provider="stripe", session_id=None) -> Purchase:
    """A pending purchase whose checkout was opened (without talking to anyone)."""
    purchase = checkout._create_pending(organization=org, package=package, buyer=buyer,
                                         provider=provider)
    purchase.stripe_checkout_session_id = session_id or f"cs_test_{purchase.pk}"
    purchase.save()
    return purchase


def post_event(client, event: dict, *, secret=None, timestamp=None, body=None, header=None):
    """POST an event the way Stripe does: raw JSON body and a Stripe-Signature header."""
    payload = json.dumps(event)
    signature = header if header is not None else sign(
        payload, secret or django_settings.STRIPE_WEBHOOK_SECRET, timestamp)
    return client.post(WEBHOOK_URL, data=body if body is not None else payload,
                       content_type="application/json", HTTP_STRIPE_SIGNATURE=signature)


def balance(org) -> Decimal:
    return CreditAccount.objects.get(organization=org).balance


def entries(org, **filters):
    return LedgerEntry.objects.filter(account__organization=org, **filters).order_by("seq")


def assert_ledger_ok(org):
    report = verify_ledger(organization=org)
    assert report.ok, "\n".join(str(p) for p in report.problems)
    assert balance(org) == sum((e.amount for e in entries(org)), Decimal(0))
