"""verify_ledger recomputes a charge's refund and dispute counters from the ledger: a
purchase's counters, money refunded or status reset or changed behind the ledger's back
are found (invariant 6)."""

from decimal import Decimal

import pytest
from django.db import connection

from billing.ledger.verify import verify_ledger
from billing.models import CreditPackage, Purchase, PurchaseStatus
from billing.purchases import fulfilment
from billing.refunds import confirmed
from tests.billing.purchase_fixtures import pending_purchase
from tests.billing.stripe_stub import charge_object, session_object

pytestmark = pytest.mark.django_db


@pytest.fixture
def refunded(org, admin_user, package):
    """A purchase of 5,500 credits for 45.00 USD, half refunded (2,750 taken back)."""
    purchase = pending_purchase(org, package, admin_user)
    fulfilment.fulfil_checkout_session(session=session_object(purchase))
    purchase.refresh_from_db()
    confirmed.apply_charge_refunded(charge=charge_object(purchase, amount_refunded=2250))
    purchase.refresh_from_db()
    assert purchase.credits_refunded == Decimal("2750")
    assert (purchase.amount_refunded_minor, purchase.status) == (
        2250, PurchaseStatus.PARTIALLY_REFUNDED)
    assert verify_ledger(organization=org).ok
    return purchase


def _sql(statement: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def _problems(org) -> list[str]:
    return [str(p) for p in verify_ledger(organization=org).problems]


@pytest.mark.postgres
def test_refund_counters_reset_in_sql_to_re_enable_staff_refunds_are_found(org, refunded):
    # The attack: reset, the row would let staff refund the whole charge again.
    _sql("UPDATE billing_purchase SET credits_refunded = 0, amount_refunded_minor = 0, "
         "status = 'paid' WHERE id = %s", [refunded.pk])
    assert Purchase.objects.get(pk=refunded.pk).refundable_minor == 4500
    pk = refunded.pk
    assert _problems(org) == [
        f"[acme] invariant 6: purchase {pk}: credits_refunded 0.000000 but its "
        "entries took 2750.000000: changed outside the ledger",
        f"[acme] invariant 6: purchase {pk}: amount_refunded_minor 0 but its refund "
        "entries show 2250 refunded: changed outside the ledger",
        f"[acme] invariant 6: purchase {pk}: status paid but its entries show it granted "
        "and 2250 of 4500 refunded (partially_refunded): changed outside the ledger",
    ]


@pytest.mark.postgres
def test_the_money_refunded_lowered_alone_is_found(org, refunded):
    _sql("UPDATE billing_purchase SET amount_refunded_minor = 1 WHERE id = %s", [refunded.pk])
    assert _problems(org) == [
        f"[acme] invariant 6: purchase {refunded.pk}: amount_refunded_minor 1 but its refund "
        "entries show 2250 refunded: changed outside the ledger"]


@pytest.mark.postgres
@pytest.mark.parametrize("status", ["paid", "refunded", "held", "pending"])
def test_a_status_its_refunds_do_not_give_is_found(org, refunded, status):
    # "refunded" claims more than the 22.50 refunded (it would block refunds); "held" and
    # "pending" are not a granted purchase's.
    _sql("UPDATE billing_purchase SET status = %s WHERE id = %s", [status, refunded.pk])
    assert _problems(org) == [
        f"[acme] invariant 6: purchase {refunded.pk}: status {status} but its entries show it "
        "granted and 2250 of 4500 refunded (partially_refunded): changed outside the ledger"]


@pytest.mark.postgres
def test_the_amount_paid_raised_to_refund_more_is_found(org, refunded):
    _sql("UPDATE billing_purchase SET amount_paid_minor = 90000 WHERE id = %s", [refunded.pk])
    assert _problems(org) == [
        f"[acme] invariant 6: purchase {refunded.pk}: amount_paid_minor 90000 but its purchase "
        "entry says 4500: changed outside the ledger"]


def test_a_failed_refund_lowers_what_the_entries_show(org, refunded):
    confirmed.apply_refund_reversed(refund={
        "id": "re_1", "object": "refund", "status": "failed", "amount": 2250,
        "charge": f"ch_{refunded.pk}", "payment_intent": f"pi_{refunded.pk}"})
    refunded.refresh_from_db()
    assert (refunded.amount_refunded_minor, refunded.status) == (0, PurchaseStatus.PAID)
    assert verify_ledger(organization=org).ok


def test_a_dispute_counter_raised_without_an_entry_is_found(org, refunded):
    Purchase.objects.filter(pk=refunded.pk).update(credits_disputed=Decimal("100"))
    [problem] = verify_ledger(organization=org).problems
    assert problem.invariant == "6" and "credits_disputed 100.000000 but its entries took 0" \
        in problem.message


def test_a_zero_decimal_currency_is_read_in_its_own_minor_units(org, admin_user):
    """A yen purchase without bonus: its only entry is the purchase's, and the ledger's
    major text is read as yen (2250, not 225000), so nothing is reported until the amount
    paid is changed."""
    package = CreditPackage.objects.create(
        name="Yen", base_credits=Decimal("5000"), bonus_credits=Decimal("0"), price_minor=4500,
        currency="jpy", sort_order=30)
    purchase = pending_purchase(org, package, admin_user)
    fulfilment.fulfil_checkout_session(session=session_object(purchase))
    purchase.refresh_from_db()
    confirmed.apply_charge_refunded(charge=charge_object(purchase, amount_refunded=2250))
    purchase.refresh_from_db()
    assert (purchase.amount_refunded_minor, purchase.status) == (
        2250, PurchaseStatus.PARTIALLY_REFUNDED)
    assert verify_ledger(organization=org).ok
    Purchase.objects.filter(pk=purchase.pk).update(amount_paid_minor=9000)
    assert _problems(org) == [
        f"[acme] invariant 6: purchase {purchase.pk}: amount_paid_minor 9000 but its "
        "purchase entry says 4500: changed outside the ledger"]


def test_a_purchase_never_granted_is_not_checked_against_entries_it_has_none_of(
        org, refunded, admin_user, package):
    pending_purchase(org, package, admin_user)  # checkout opened, never paid
    assert verify_ledger(organization=org).ok
