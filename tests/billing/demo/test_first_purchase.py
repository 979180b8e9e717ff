"""The purchases step of seed_demo: three packages and one paid test purchase, once."""

import io
from decimal import Decimal

import pytest

from billing.demo import organization as demo
from billing.demo.first_purchase import seed_packages_and_purchase
from billing.ledger.verify import verify_ledger
from billing.models import CreditPackage, EntryKind, LedgerEntry, PurchaseStatus

pytestmark = pytest.mark.django_db


def test_step_is_idempotent_and_goes_through_fulfilment():
    org = demo.seed_accounts()
    seed_packages_and_purchase(org, io.StringIO())
    seed_packages_and_purchase(org, io.StringIO())

    assert CreditPackage.objects.filter(active=True).count() == 3
    purchase = org.purchases.get()
    assert purchase.status == PurchaseStatus.PAID and purchase.provider == "test"
    assert purchase.buyer.email == demo.DEMO_ADMIN
    kinds = list(LedgerEntry.objects.filter(account__organization=org)
                 .values_list("kind", "amount"))
    assert kinds == [(EntryKind.BONUS, Decimal("500")), (EntryKind.PURCHASE, Decimal("5000"))]
    assert verify_ledger(organization=org).ok


def test_step_is_registered_with_seed_demo():
    from billing.demo.steps import DEMO_STEPS

    assert seed_packages_and_purchase in DEMO_STEPS
