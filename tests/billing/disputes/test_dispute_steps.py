"""Disputes: what a won dispute books for refunds made meanwhile (a share of a credit, the
charge's own grants, a second dispute still holding credits, separate refunds' rounding),
a status delivered twice, and a dispute naming only its PaymentIntent."""

from decimal import Decimal

import pytest

from billing.disputes.chargebacks import apply_dispute
from billing.models import CreditPackage, EntryKind, GrantKind, Purchase
from billing.purchases import fulfilment
from tests.billing.disputes.test_chargebacks import deliver, dispute_object
from tests.billing.postings import grant
from tests.billing.purchase_fixtures import assert_ledger_ok, balance, entries, pending_purchase
from tests.billing.stripe_stub import charge_object, session_object

pytestmark = pytest.mark.django_db


def test_a_refunded_share_of_less_than_a_credit_is_booked_when_the_dispute_is_won(
        org, admin_user):
    tiny = CreditPackage.objects.create(name="Tiny", base_credits=Decimal("1"),
                                        price_minor=1000, currency="usd")
    purchase = pending_purchase(org, tiny, admin_user)
    fulfilment.fulfil_checkout_session(session=session_object(purchase))
    purchase.refresh_from_db()
    deliver("charge.dispute.created", dispute_object(purchase))
    deliver("charge.refunded", charge_object(purchase, amount_refunded=500))
    deliver("charge.dispute.closed", dispute_object(purchase, status="won"))
    purchase.refresh_from_db()
    assert purchase.credits_refunded == Decimal("0.5") and balance(org) == Decimal("0.5")
    assert entries(org, kind=EntryKind.REFUND).get().amount == Decimal("-0.5")
    assert_ledger_ok(org)


def test_the_refund_a_won_dispute_books_draws_on_the_purchases_own_grants(org, paid):
    promotional = grant(org, 100, kind=GrantKind.PROMOTIONAL).grant  # burns first otherwise
    deliver("charge.dispute.created", dispute_object(paid))
    deliver("charge.refunded", charge_object(paid, amount_refunded=2250))
    deliver("charge.dispute.closed", dispute_object(paid, status="won"))
    promotional.refresh_from_db()
    assert promotional.remaining == 100 and balance(org) == Decimal("2850")
    assert_ledger_ok(org)


def test_a_refund_while_two_disputes_held_the_credits_is_booked_at_the_first_won(org, paid):
    """The second dispute still holds its share: the first, won, books the refund's claim
    (900 of 4,500 paid: 1,100 credits), whatever becomes of the second."""
    deliver("charge.dispute.created", dispute_object(paid, amount=2250))
    deliver("charge.dispute.created", dispute_object(paid, dispute_id="dp_2", amount=2250))
    deliver("charge.refunded", charge_object(paid, amount_refunded=900))
    assert balance(org) == 0 and not entries(org, kind=EntryKind.REFUND)
    deliver("charge.dispute.closed", dispute_object(paid, amount=2250, status="won"))
    deliver("charge.dispute.closed", dispute_object(paid, dispute_id="dp_2", amount=2250,
                                                    status="lost"))
    paid.refresh_from_db()
    assert paid.credits_refunded == Decimal("1100") and balance(org) == Decimal("1650")
    assert_ledger_ok(org)


def test_a_won_dispute_books_what_separate_refunds_lost_to_rounding(org, paid):
    """Three refunds of a cent take 1.222222 credits each; the charge's refunded share is
    3.666667 (5,500 x 3 / 4,500, rounded once): the won dispute books the millionth."""
    deliver("charge.dispute.created", dispute_object(paid, amount=2250))
    for cents in (1, 2, 3):
        deliver("charge.refunded", charge_object(paid, amount_refunded=cents),
                event_id=f"evt_refund_{cents}")
    deliver("charge.dispute.closed", dispute_object(paid, amount=2250, status="won"))
    paid.refresh_from_db()
    assert paid.credits_refunded == Decimal("3.666667")
    assert entries(org, kind=EntryKind.REFUND).order_by("pk").last().amount \
        == Decimal("-0.000001")
    assert_ledger_ok(org)


def test_a_status_delivered_again_takes_what_it_found_nothing_of_before(org, paid):
    """Created and funds_withdrawn both carry needs_response: the second delivery takes the
    credits the first found all held by another dispute, since won."""
    deliver("charge.dispute.created", dispute_object(paid))
    second = dispute_object(paid, dispute_id="dp_2", amount=2250)
    deliver("charge.dispute.created", second)
    deliver("charge.dispute.closed", dispute_object(paid, status="won"))
    assert balance(org) == Decimal("5500")
    deliver("charge.dispute.funds_withdrawn", second)
    assert balance(org) == Decimal("2750")
    assert_ledger_ok(org)


def test_a_dispute_naming_only_its_payment_intent_records_no_charge_id(org, paid):
    Purchase.objects.filter(pk=paid.pk).update(stripe_charge_id="")
    dispute = {k: v for k, v in dispute_object(paid).items() if k != "charge"}
    record = apply_dispute(dispute=dispute)
    assert (record.purchase, record.charge_id) == (paid, "")
