"""Shared by the auto-topup and alert tests: an org with a saved card and settings on."""

from decimal import Decimal

import pytest

from billing.models import (
    AutoTopupSettings,
    EntryKind,
    LedgerEntry,
    PaymentProvider,
    SavedCard,
    TopupAttempt,
    TopupMode,
)
from billing.topups import runner
from tests.billing.postings import consume, grant

DECLINED = "pm_card_chargeDeclined"
NEEDS_AUTH = "pm_card_authenticationRequired"
GOOD_CARD = "pm_card_visa"


def save_stripe_card(org, payment_method_id: str = GOOD_CARD) -> SavedCard:
    card, _ = SavedCard.objects.update_or_create(organization=org, defaults={
        "provider": PaymentProvider.STRIPE, "customer_id": "cus_stub_topup",
        "payment_method_id": payment_method_id, "brand": "visa", "last4": "4242",
        "exp_month": 12, "exp_year": 2034})
    return card


def turn_on(org, package, *, threshold="1000", mode=TopupMode.FIXED, target=None,
            cap_minor=None) -> AutoTopupSettings:
    row, _ = AutoTopupSettings.objects.update_or_create(organization=org, defaults={
        "enabled": True, "threshold": Decimal(threshold), "package": package, "mode": mode,
        "target_balance": None if target is None else Decimal(target),
        "monthly_cap_minor": cap_minor, "consecutive_failures": 0, "disabled_reason": ""})
    return row


def set_balance_below(org, *, start="1500", spend="1000", key="drain"):
    """Grant `start` credits, then spend `spend` of them (balance start - spend)."""
    grant(org, start, key=f"test:start:{key}")
    consume(org, spend, key=f"usage:{key}")


def topup_entries(org):
    return LedgerEntry.objects.filter(account__organization=org, kind=EntryKind.TOPUP)


def intent_requests(stub):
    return stub.requests_to("POST", "/v1/payment_intents")


@pytest.fixture
def credited_topup(org, admin_user, package, stripe_stub) -> TopupAttempt:
    """An auto-topup attempt charged through the stub and credited (balance 500 + 5,500)."""
    return credit_a_topup(org, package)


def credit_a_topup(org, package) -> TopupAttempt:
    """Charge `package` by auto-topup through the Stripe stub (the `stripe_stub` fixture)."""
    set_balance_below(org)
    save_stripe_card(org)
    turn_on(org, package)
    run = runner.run_auto_topup(organization=org)
    assert run.outcome == "credited", run
    return TopupAttempt.objects.get(pk=run.attempt_id)


@pytest.fixture
def ready(org, admin_user, package):
    """Balance 500 under a threshold of 1000, a Stripe card saved, auto-topup on (Growth:
    5,000 + 500 bonus credits for 45.00 USD)."""
    set_balance_below(org)
    save_stripe_card(org)
    return turn_on(org, package)
