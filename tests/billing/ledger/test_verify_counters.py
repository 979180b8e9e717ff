"""verify_ledger recomputes a charge's refund and dispute counters from the ledger: a
purchase's counters reset or changed behind the ledger's back are found (invariant 6)."""

from decimal import Decimal

import pytest

from billing.ledger.verify import verify_ledger
from billing.models import Purchase
from billing.purchases import fulfilment
from billing.refunds import confirmed
from tests.billing.purchase_fixtures import pending_purchase
from tests.billing.stripe_stub import charge_object, session_object

pytestmark = pytest.mark.django_db


@pytest.fixture
def refunded(org, admin_user, package):
    """A purchase of 5,500 credits, half refunded (2,750 taken back)."""
    purchase = pending_purchase(org, package, admin_user)
    fulfilment.fulfil_checkout_session(session=session_object(purchase))
    purchase.refresh_from_db()
    confirmed.apply_charge_refunded(charge=charge_object(purchase, amount_refunded=2250))
    purchase.refresh_from_db()
    assert purchase.credits_refunded == Decimal("2750")
    assert verify_ledger(organization=org).ok
    return purchase


def test_refund_counters_reset_to_re_enable_refunds_are_found(org, refunded):
    # The attack: reset, the counters would let staff refund the whole charge again.
    Purchase.objects.filter(pk=refunded.pk).update(
        credits_refunded=0, amount_refunded_minor=0, status="paid")
    assert [str(p) for p in verify_ledger(organization=org).problems] == [
        f"[acme] invariant 6: purchase {refunded.pk}: credits_refunded 0.000000 but its "
        "entries took 2750.000000: changed outside the ledger"]


def test_a_dispute_counter_raised_without_an_entry_is_found(org, refunded):
    Purchase.objects.filter(pk=refunded.pk).update(credits_disputed=Decimal("100"))
    [problem] = verify_ledger(organization=org).problems
    assert problem.invariant == "6" and "credits_disputed 100.000000 but its entries took 0" \
        in problem.message
