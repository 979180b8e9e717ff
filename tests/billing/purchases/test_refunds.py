"""refunds.apply_charge_refunded (invariant 6) and request_refund."""

from decimal import Decimal

import pytest

from billing.models import EntryKind, PurchaseStatus
from billing.purchases import checkout, errors, fulfilment, local_provider, refunds
from tests.billing.postings import consume
from tests.billing.purchase_fixtures import (
    assert_ledger_ok,
    balance,
    entries,
    pending_purchase,
)
from tests.billing.stripe_stub import charge_object, session_object

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid(org, admin_user, package):
    purchase = pending_purchase(org, package, admin_user)
    fulfilment.fulfil_checkout_session(session=session_object(purchase))
    purchase.refresh_from_db()
    return purchase


def refund(purchase, cumulative):
    return refunds.apply_charge_refunded(
        charge=charge_object(purchase, amount_refunded=cumulative))


def refunded_credits(org):
    return -sum(e.amount for e in entries(org, kind=EntryKind.REFUND))


def test_half_then_the_rest_takes_back_exactly_what_was_granted(org, paid):
    refund(paid, 2250)
    paid.refresh_from_db()
    assert paid.status == PurchaseStatus.PARTIALLY_REFUNDED
    assert refunded_credits(org) == Decimal("2750")
    assert balance(org) == Decimal("2750")
    assert_ledger_ok(org)

    refund(paid, 4500)
    paid.refresh_from_db()
    assert paid.status == PurchaseStatus.REFUNDED
    assert paid.credits_refunded == refunded_credits(org) == Decimal("5500")
    assert balance(org) == 0
    [first, second] = entries(org, kind=EntryKind.REFUND)
    assert first.idempotency_key == f"refund:ch_{paid.pk}:2250"
    assert second.idempotency_key == f"refund:ch_{paid.pk}:4500"
    assert first.metadata["purchase_id"] == paid.pk
    assert first.metadata["amount_refunded"] == "22.50"
    assert_ledger_ok(org)


def test_refund_takes_from_the_purchase_grants_first(org, paid):
    from tests.billing.postings import grant
    grant(org, "1000", key="test:other")
    refund(paid, 2250)
    paid.paid_grant.refresh_from_db()
    paid.bonus_grant.refresh_from_db()
    assert paid.paid_grant.remaining == Decimal("2250")
    assert paid.bonus_grant.remaining == Decimal("500")
    assert balance(org) == Decimal("3750")


def test_thirds_round_once_each_and_never_exceed_the_grant(org, admin_user, package):
    package.price_minor, package.base_credits, package.bonus_credits = 300, Decimal("1"), 0
    package.save()
    purchase = pending_purchase(org, package, admin_user)
    fulfilment.fulfil_checkout_session(session=session_object(purchase))
    refund(purchase, 100)
    refund(purchase, 200)
    amounts = [-e.amount for e in entries(org, kind=EntryKind.REFUND)]
    assert amounts == [Decimal("0.333333"), Decimal("0.333333")]
    refund(purchase, 300)
    assert refunded_credits(org) == Decimal("1")
    assert balance(org) == 0
    assert_ledger_ok(org)


def test_refund_after_spending_leaves_the_debt(org, paid):
    consume(org, "5000", key="usage:spent")
    assert balance(org) == Decimal("500")
    refund(paid, 4500)
    assert refunded_credits(org) == Decimal("5500")
    assert balance(org) == Decimal("-5000")  # what was spent is owed
    assert_ledger_ok(org)


def test_redelivered_and_stale_refund_events_change_nothing(org, paid):
    refund(paid, 2250)
    refund(paid, 2250)
    refund(paid, 1000)  # an older snapshot of the charge, arriving late
    assert entries(org, kind=EntryKind.REFUND).count() == 1
    paid.refresh_from_db()
    assert paid.amount_refunded_minor == 2250


def test_refund_before_fulfilment_is_an_error_for_a_retry(org, admin_user, package):
    purchase = pending_purchase(org, package, admin_user)
    purchase.stripe_payment_intent_id = f"pi_{purchase.pk}"
    purchase.save()
    with pytest.raises(errors.PurchaseError, match="before its payment"):
        refund(purchase, 4500)


def test_charge_of_something_else_is_ignored(org, paid):
    assert refunds.apply_charge_refunded(charge={
        "id": "ch_topup", "payment_intent": "pi_topup", "amount": 100,
        "amount_refunded": 100, "metadata": {}}) is None
    assert not entries(org, kind=EntryKind.REFUND).exists()


def test_staff_refund_asks_stripe_and_moves_no_credits(org, admin_user, paid, stripe_stub):
    refunds.request_refund(purchase=paid, amount_minor=1000, requested_by=admin_user)
    [request] = stripe_stub.requests_to("POST", "/v1/refunds")
    assert request.form["payment_intent"] == f"pi_{paid.pk}"
    assert request.form["amount"] == "1000"
    assert request.headers["Idempotency-Key"] == f"purchase-{paid.pk}-refund-0-1000"
    assert not entries(org, kind=EntryKind.REFUND).exists()


def test_staff_refund_in_full_of_a_test_purchase_applies_at_once(org, admin_user, package):
    purchase = checkout.start_purchase(organization=org, package=package, buyer=admin_user,
                                        provider="test")
    fulfilment.fulfil_checkout_session(session=local_provider.local_checkout_session(purchase))
    refunds.request_refund(purchase=purchase, amount_minor=None, requested_by=admin_user)
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.REFUNDED
    assert balance(org) == 0
    assert_ledger_ok(org)


@pytest.mark.parametrize("amount", [0, -5, 4501])
def test_staff_refund_outside_the_refundable_range_is_refused(org, admin_user, paid, amount):
    with pytest.raises(errors.PurchaseError, match="between"):
        refunds.request_refund(purchase=paid, amount_minor=amount, requested_by=admin_user)


def test_unpaid_purchase_cannot_be_refunded(org, admin_user, package):
    purchase = pending_purchase(org, package, admin_user)
    with pytest.raises(errors.PurchaseError, match="only paid"):
        refunds.request_refund(purchase=purchase, amount_minor=None, requested_by=admin_user)


def paid_by_test_provider(org, admin_user, package):
    purchase = checkout.start_purchase(organization=org, package=package, buyer=admin_user,
                                        provider="test")
    fulfilment.fulfil_checkout_session(session=local_provider.local_checkout_session(purchase))
    return purchase


def test_test_provider_double_submit_refunds_once(org, admin_user, package):
    """The request id is the test provider's idempotency key, as it is Stripe's."""
    purchase = paid_by_test_provider(org, admin_user, package)
    first = refunds.request_refund(purchase=purchase, amount_minor=1000, requested_by=admin_user,
                                   request_id="form-1")
    again = refunds.request_refund(purchase=purchase, amount_minor=1000,
                                   requested_by=admin_user, request_id="form-1")
    assert again["id"] == first["id"] and again["amount"] == 1000
    purchase.refresh_from_db()
    assert purchase.amount_refunded_minor == 1000
    [entry] = entries(org, kind=EntryKind.REFUND)
    assert entry.metadata["request_id"] == "form-1"
    # A second, deliberate refund of the same amount is a new form: it refunds again.
    refunds.request_refund(purchase=purchase, amount_minor=1000, requested_by=admin_user,
                           request_id="form-2")
    purchase.refresh_from_db()
    assert purchase.amount_refunded_minor == 2000
    assert entries(org, kind=EntryKind.REFUND).count() == 2
    assert_ledger_ok(org)


def test_test_provider_replay_of_a_full_refund_is_not_an_error(org, admin_user, package):
    purchase = paid_by_test_provider(org, admin_user, package)
    refunds.request_refund(purchase=purchase, amount_minor=None, requested_by=admin_user,
                           request_id="all")
    again = refunds.request_refund(purchase=purchase, amount_minor=None,
                                   requested_by=admin_user, request_id="all")
    assert again["amount"] == 4500
    assert entries(org, kind=EntryKind.REFUND).count() == 1
    assert balance(org) == 0
