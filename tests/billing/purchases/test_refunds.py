"""request_refund: staff ask the purchase's provider; a test purchase is refunded at once."""


import pytest

from billing.disputes.chargebacks import apply_dispute
from billing.models import EntryKind, PurchaseStatus
from billing.payments import local_provider
from billing.purchases import checkout, errors, fulfilment, refunds
from billing.refunds import confirmed
from tests.billing.purchase_fixtures import (
    assert_ledger_ok,
    balance,
    entries,
    pending_purchase,
)
from tests.billing.stripe_stub import charge_object

pytestmark = pytest.mark.django_db


def refund(purchase, cumulative):
    return confirmed.apply_charge_refunded(
        charge=charge_object(purchase, amount_refunded=cumulative))


def test_staff_refund_asks_stripe_and_moves_no_credits(org, admin_user, paid, stripe_stub):
    refunds.request_refund(purchase=paid, amount_minor=1000, requested_by=admin_user)
    [request] = stripe_stub.requests_to("POST", "/v1/refunds")
    assert request.form["payment_intent"] == f"pi_{paid.pk}"
    assert request.form["amount"] == "1000"
    assert request.headers["Idempotency-Key"].startswith(f"purchase-{paid.pk}-refund-")
    assert not entries(org, kind=EntryKind.REFUND).exists()


def test_refund_in_full_again_after_a_failed_one_is_a_new_request_to_stripe(
        org, admin_user, paid, stripe_stub):
    """Finding 9: the first full refund failed (credits given back, Stripe's total back to
    0); asking again must not reuse its key, or Stripe replays the failed refund."""
    first = refunds.request_refund(purchase=paid, amount_minor=None, requested_by=admin_user)
    refund(paid, 4500)
    confirmed.apply_refund_reversed(refund={**first, "status": "failed",
                                            "charge": f"ch_{paid.pk}"})
    paid.refresh_from_db()
    assert paid.refundable_minor == 4500
    second = refunds.request_refund(purchase=paid, amount_minor=None, requested_by=admin_user)
    keys = [r.headers["Idempotency-Key"] for r in stripe_stub.requests_to("POST", "/v1/refunds")]
    assert len(set(keys)) == 2 and second["id"] != first["id"]


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


def test_a_purchase_refunded_in_full_cannot_be_refunded_again(org, admin_user, paid):
    refund(paid, 4500)
    with pytest.raises(errors.PurchaseError, match="already refunded in full"):
        refunds.request_refund(purchase=paid, amount_minor=None, requested_by=admin_user)


@pytest.mark.parametrize("status", ["needs_response", "lost", "appeal_under_review"])
def test_a_charged_back_purchase_cannot_be_refunded(org, admin_user, paid, stripe_stub, status):
    """Stripe refuses a refund of a disputed charge (charge_disputed): the dispute decides."""
    apply_dispute(dispute={"id": "dp_r", "object": "dispute", "charge": f"ch_{paid.pk}",
                           "payment_intent": f"pi_{paid.pk}", "amount": 4500, "currency": "usd",
                           "status": status})
    with pytest.raises(errors.PurchaseError, match=r"is disputed \(dp_r, .*answer the dispute"):
        refunds.request_refund(purchase=paid, amount_minor=None, requested_by=admin_user)
    assert not stripe_stub.requests_to("POST", "/v1/refunds")


def test_a_purchase_under_an_inquiry_can_still_be_refunded(org, admin_user, paid, stripe_stub):
    apply_dispute(dispute={"id": "dp_i", "object": "dispute", "charge": f"ch_{paid.pk}",
                           "payment_intent": f"pi_{paid.pk}", "amount": 4500, "currency": "usd",
                           "status": "warning_needs_response"})
    refunds.request_refund(purchase=paid, amount_minor=None, requested_by=admin_user)
    assert len(stripe_stub.requests_to("POST", "/v1/refunds")) == 1


def test_staff_refund_tells_stripe_who_asked(org, admin_user, paid, stripe_stub):
    refunds.request_refund(purchase=paid, amount_minor=None, requested_by=admin_user,
                           request_id="form-1")
    [request] = stripe_stub.requests_to("POST", "/v1/refunds")
    assert request.form["amount"] == "4500"
    assert request.form["metadata[purchase_id]"] == str(paid.pk)
    assert request.form["metadata[requested_by]"] == admin_user.email
    assert request.headers["Idempotency-Key"] == f"purchase-{paid.pk}-refund-form-1"


def test_a_partial_refund_of_a_test_purchase_applies_at_once(org, admin_user, package):
    purchase = checkout.start_purchase(organization=org, package=package, buyer=admin_user,
                                        provider="test")
    fulfilment.fulfil_checkout_session(session=local_provider.local_checkout_session(purchase))
    refund_object = refunds.request_refund(purchase=purchase, amount_minor=1000,
                                           requested_by=admin_user)
    assert refund_object["amount"] == 1000 and refund_object["status"] == "succeeded"
    purchase.refresh_from_db()
    assert purchase.amount_refunded_minor == 1000
    assert purchase.status == PurchaseStatus.PARTIALLY_REFUNDED


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
