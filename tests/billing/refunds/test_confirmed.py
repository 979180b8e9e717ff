"""Refunds Stripe confirmed, of a purchase's charge: invariant 6, and a failed or canceled
refund giving back what it took (the same code serves auto-topups: test_topup_refunds.py)."""

from decimal import Decimal

import pytest

from billing.models import EntryKind, PurchaseStatus
from billing.payments.charges import ChargeNotGrantedYet, ChargeWeMade
from billing.purchases import fulfilment
from billing.refunds import confirmed
from tests.billing.postings import consume
from tests.billing.purchase_fixtures import (
    assert_ledger_ok,
    balance,
    entries,
    pending_purchase,
)
from tests.billing.stripe_stub import charge_object, session_object

pytestmark = pytest.mark.django_db


def refund(purchase, cumulative):
    return confirmed.apply_charge_refunded(
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
    with pytest.raises(ChargeNotGrantedYet, match="before its payment"):
        refund(purchase, 4500)


def test_charge_of_something_else_is_ignored(org, paid):
    assert confirmed.apply_charge_refunded(charge={
        "id": "ch_topup", "payment_intent": "pi_topup", "amount": 100,
        "amount_refunded": 100, "metadata": {}}) is None
    assert not entries(org, kind=EntryKind.REFUND).exists()


def foreign_charge(purchase, **changes):
    """A charge of another product on the same Stripe account naming our purchase."""
    charge = charge_object(purchase, amount_refunded=4500, charge_id="ch_other_product")
    charge["payment_intent"] = "pi_other_product"
    charge["customer"] = "cus_stub_1"
    charge.update(changes)
    return charge


@pytest.mark.parametrize("changes", [
    {"customer": "cus_someone_else"},
    {"customer": None},
    {"metadata": {"purchase_id": "0"}},  # replaced below with the purchase's id, no org
])
def test_a_charge_matched_only_by_metadata_must_have_our_customer_and_org(org, paid, changes):
    if "metadata" in changes:
        changes = {"metadata": {"purchase_id": str(paid.pk)}}
    assert confirmed.apply_charge_refunded(charge=foreign_charge(paid, **changes)) is None
    assert not entries(org, kind=EntryKind.REFUND).exists()
    paid.refresh_from_db()
    assert paid.amount_refunded_minor == 0 and paid.status == PurchaseStatus.PAID


def test_a_charge_matched_by_metadata_with_our_customer_and_org_is_ours(org, paid):
    assert paid.stripe_customer_id == "cus_stub_1"
    assert confirmed.apply_charge_refunded(charge=foreign_charge(paid)) is not None
    assert refunded_credits(org) == Decimal("5500")
    assert_ledger_ok(org)


def failed_refund(purchase, amount, refund_id="re_1"):
    return {"id": refund_id, "object": "refund", "amount": amount, "status": "failed",
            "charge": f"ch_{purchase.pk}", "payment_intent": f"pi_{purchase.pk}",
            "metadata": {"purchase_id": str(purchase.pk)}}


def test_a_failed_refund_gives_the_credits_back_once(org, paid):
    from billing.webhooks import dispatcher as webhooks
    from tests.billing.stripe_stub import event

    refund(paid, 2250)
    assert balance(org) == Decimal("2750")
    for event_id in ("evt_f1", "evt_f1", "evt_f2"):  # a redelivery, then a second sending
        webhooks.process_event(event("charge.refund.updated", failed_refund(paid, 2250),
                                     event_id=event_id))
    assert balance(org) == Decimal("5500")
    paid.refresh_from_db()
    assert (paid.amount_refunded_minor, paid.credits_refunded, paid.status) == (
        0, 0, PurchaseStatus.PAID)
    assert_ledger_ok(org)
    refund(paid, 4500)  # Stripe's later total no longer counts the failed refund
    assert balance(org) == 0
    assert_ledger_ok(org)


def test_a_refund_update_that_is_not_a_failure_moves_nothing(org, paid):
    refund(paid, 2250)
    assert confirmed.apply_refund_reversed(refund={**failed_refund(paid, 2250),
                                               "status": "succeeded"}) is None
    assert balance(org) == Decimal("2750")


def test_many_tiny_refunds_at_the_rounding_edge_never_take_back_more_than_granted(
        org, admin_user, package):
    # Each cent is half a millionth of a credit: every share rounds *up* to 0.000001, so
    # five cents take back all five millionths and the next five must take nothing.
    package.price_minor, package.base_credits, package.bonus_credits = 10, Decimal("0.000005"), 0
    package.save()
    purchase = pending_purchase(org, package, admin_user)
    fulfilment.fulfil_checkout_session(session=session_object(purchase))
    assert balance(org) == Decimal("0.000005")
    for cents in range(1, 10):
        refund(purchase, cents)
        purchase.refresh_from_db()
        assert refunded_credits(org) == min(Decimal("0.000001") * cents, Decimal("0.000005"))
        assert purchase.credits_refunded == refunded_credits(org)
        assert purchase.status == PurchaseStatus.PARTIALLY_REFUNDED
        assert_ledger_ok(org)
    assert entries(org, kind=EntryKind.REFUND).count() == 5  # nothing left for cents 6 to 9
    refund(purchase, 10)
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.REFUNDED and purchase.amount_refunded_minor == 10
    assert refunded_credits(org) == Decimal("0.000005") and balance(org) == 0
    assert_ledger_ok(org)


@pytest.mark.parametrize(("cumulative", "expected"), [
    (0, Decimal("0")),
    (1, Decimal("0.333333")),  # 1/3 rounds down
    (2, Decimal("0.666667")),  # 2/3 rounds up, once
    (3, Decimal("1")),  # all that is left
    (4, Decimal("1")),  # more than was paid: still only what is left
])
def test_credits_to_take_back_is_the_share_rounded_once(org, admin_user, package, cumulative,
                                                         expected):
    package.price_minor, package.base_credits, package.bonus_credits = 3, Decimal("0.5"), 0
    package.bonus_credits = Decimal("0.5")
    package.save()
    purchase = pending_purchase(org, package, admin_user)
    fulfilment.fulfil_checkout_session(session=session_object(purchase))
    purchase.refresh_from_db()
    assert confirmed.credits_to_take_back(
        charge=ChargeWeMade(purchase), cumulative_refunded_minor=cumulative) == expected


def test_the_share_is_of_the_newly_refunded_part_and_capped_by_what_is_left(
        org, admin_user, package):
    package.price_minor, package.base_credits, package.bonus_credits = 3, Decimal("1"), 0
    package.save()
    purchase = pending_purchase(org, package, admin_user)
    fulfilment.fulfil_checkout_session(session=session_object(purchase))
    refund(purchase, 2)
    purchase.refresh_from_db()
    assert purchase.credits_refunded == Decimal("0.666667")
    # Only the third cent is new; what is left (0.333333) caps its share (0.333333).
    assert confirmed.credits_to_take_back(
        charge=ChargeWeMade(purchase), cumulative_refunded_minor=2) == Decimal("0")
    assert confirmed.credits_to_take_back(
        charge=ChargeWeMade(purchase), cumulative_refunded_minor=3) == Decimal("0.333333")


@pytest.mark.parametrize("found_by", ["payment_intent", "charge_id", "metadata"])
def test_the_purchase_is_found_by_intent_then_charge_then_metadata(org, paid, found_by):
    paid.stripe_charge_id = "ch_known"
    paid.save()
    charge = charge_object(paid, amount_refunded=4500, charge_id="ch_known")
    decoy = {"payment_intent": "pi_unknown", "id": "ch_unknown",
             "metadata": {"purchase_id": "999999"}}
    keep = {"payment_intent": ["payment_intent"], "charge_id": ["id"],
            "metadata": ["metadata"]}[found_by]
    charge.update({k: v for k, v in decoy.items() if k not in keep})
    assert confirmed.apply_charge_refunded(charge=charge).pk == paid.pk
    assert refunded_credits(org) == Decimal("5500")


@pytest.mark.parametrize("purchase_id", ["abc", "", None])
def test_a_charge_naming_no_purchase_of_ours_is_ignored(org, paid, purchase_id):
    charge = {"id": "ch_x", "payment_intent": "pi_x", "amount_refunded": 4500,
              "metadata": {"purchase_id": purchase_id}}
    assert confirmed.apply_charge_refunded(charge=charge) is None
    assert confirmed.apply_charge_refunded(charge={**charge, "metadata": None}) is None
    assert refunded_credits(org) == 0


def test_the_refund_entry_says_who_what_and_how_much(org, paid):
    refund(paid, 1000)
    [entry] = entries(org, kind=EntryKind.REFUND)
    assert entry.actor_label == "system:stripe-refund"
    assert entry.reason == "Refund of 10.00 USD for Growth"
    assert entry.metadata == {"purchase_id": paid.pk, "charge": f"ch_{paid.pk}",
                              "amount_refunded": "10.00", "amount_refunded_total": "10.00",
                              "currency": "usd"}
    refund(paid, 1500)
    second = entries(org, kind=EntryKind.REFUND).last()
    assert (second.metadata["amount_refunded"], second.metadata["amount_refunded_total"]) == (
        "5.00", "15.00")
    paid.refresh_from_db()
    assert paid.stripe_charge_id == f"ch_{paid.pk}"


@pytest.mark.parametrize(("event_type", "status"), [
    ("refund.updated", "canceled"), ("refund.failed", "failed"),
    ("refund.updated", "failed"), ("charge.refund.updated", "canceled")])
def test_a_failed_or_canceled_refund_of_any_refund_event_gives_back_what_it_took(
        org, paid, event_type, status):
    """Finding 6: since API version 2024-10-28 Stripe sends refund.* events for every
    refund; a canceled refund gives the credits back as a failed one does."""
    from billing.webhooks import dispatcher as webhooks
    from tests.billing.stripe_stub import event

    refund(paid, 1000)
    took = balance(org)
    refund(paid, 3000)  # a second refund of 20.00
    reversed_refund = {**failed_refund(paid, 2000, refund_id="re_2"), "status": status}
    for event_id in ("evt_r1", "evt_r1", "evt_r2"):
        result = webhooks.process_event(event(event_type, reversed_refund, event_id=event_id))
        assert result.status == 200, result.message
    assert balance(org) == took  # exactly what the second refund took came back
    paid.refresh_from_db()
    assert (paid.amount_refunded_minor, paid.status) == (1000, PurchaseStatus.PARTIALLY_REFUNDED)
    assert_ledger_ok(org)
