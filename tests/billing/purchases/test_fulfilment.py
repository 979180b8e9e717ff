"""fulfilment.fulfil_checkout_session, mark_failed and mark_expired."""

from decimal import Decimal

import pytest

from billing.ledger.actor import Actor
from billing.models import ActorType, EntryKind, GrantKind, PurchaseStatus
from billing.purchases import checkout, errors, fulfilment
from tests.billing.postings import consume, grant
from tests.billing.purchase_fixtures import (
    assert_ledger_ok,
    balance,
    entries,
    pending_purchase,
)
from tests.billing.stripe_stub import session_object

pytestmark = pytest.mark.django_db


def test_paid_session_grants_paid_and_linked_bonus_to_the_buyer(org, admin_user, package):
    purchase = pending_purchase(org, package, admin_user)
    result = fulfilment.fulfil_checkout_session(session=session_object(purchase))

    assert result.granted
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.PAID and purchase.paid_at
    assert purchase.amount_paid_minor == 4500
    assert purchase.stripe_payment_intent_id == f"pi_{purchase.pk}"
    assert balance(org) == Decimal("5500")
    paid, bonus = purchase.paid_grant, purchase.bonus_grant
    assert (paid.kind, paid.amount, paid.parent) == (GrantKind.PAID, Decimal("5000"), None)
    assert (bonus.kind, bonus.amount, bonus.parent) == (GrantKind.BONUS, Decimal("500"), paid)
    entry, bonus_entry = purchase.entry, purchase.bonus_entry
    assert (entry.kind, entry.amount) == (EntryKind.PURCHASE, Decimal("5000"))
    assert (bonus_entry.kind, bonus_entry.amount) == (EntryKind.BONUS, Decimal("500"))
    sid = purchase.stripe_checkout_session_id
    assert entry.idempotency_key == f"checkout:{sid}"
    assert bonus_entry.idempotency_key == f"checkout:{sid}:bonus"
    for e in (entry, bonus_entry):
        assert e.actor_type == ActorType.USER and e.actor_user == admin_user
        assert e.metadata["purchase_id"] == purchase.pk
        assert e.metadata["amount_paid"] == "45.00"
        assert e.metadata["currency"] == "usd"
        assert e.metadata["checkout_session"] == sid
        assert e.metadata["payment_intent"] == f"pi_{purchase.pk}"
    assert_ledger_ok(org)


def test_second_delivery_grants_nothing(org, admin_user, package):
    purchase = pending_purchase(org, package, admin_user)
    session = session_object(purchase)
    assert fulfilment.fulfil_checkout_session(session=session).granted
    assert not fulfilment.fulfil_checkout_session(session=session).granted
    assert entries(org).count() == 2
    assert balance(org) == Decimal("5500")


def test_package_without_bonus_makes_one_grant(org, admin_user, package):
    package.bonus_credits = 0
    package.save()
    purchase = pending_purchase(org, package, admin_user)
    fulfilment.fulfil_checkout_session(session=session_object(purchase))
    purchase.refresh_from_db()
    assert purchase.bonus_grant is None and purchase.bonus_entry is None
    assert balance(org) == Decimal("5000")


def test_snapshot_is_what_is_granted_even_if_the_package_changes(org, admin_user, package):
    purchase = pending_purchase(org, package, admin_user)
    package.base_credits = Decimal("1")
    package.save()
    fulfilment.fulfil_checkout_session(session=session_object(purchase))
    assert balance(org) == Decimal("5500")


def test_unpaid_session_grants_nothing(org, admin_user, package):
    purchase = pending_purchase(org, package, admin_user)
    result = fulfilment.fulfil_checkout_session(
        session=session_object(purchase, payment_status="unpaid"))
    assert not result.granted
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.PENDING
    assert not entries(org).exists()


def test_session_found_by_metadata_when_webhook_beats_the_redirect(org, admin_user, package):
    purchase = pending_purchase(org, package, admin_user)
    purchase.stripe_checkout_session_id = None
    purchase.save()
    session = {**session_object(purchase), "id": "cs_early"}
    fulfilment.fulfil_checkout_session(session=session)
    purchase.refresh_from_db()
    assert purchase.stripe_checkout_session_id == "cs_early"
    assert purchase.status == PurchaseStatus.PAID


def test_session_naming_a_purchase_with_another_session_grants_nothing(org, admin_user,
                                                                      package):
    purchase = pending_purchase(org, package, admin_user)
    session = {**session_object(purchase), "id": "cs_someone_else"}
    assert fulfilment.fulfil_checkout_session(session=session).purchase is None
    assert not entries(org).exists()
    purchase.refresh_from_db()
    assert purchase.stripe_checkout_session_id == f"cs_test_{purchase.pk}"


def test_sessions_of_other_products_are_ignored(org):
    foreign = {"id": "cs_other_app", "payment_status": "paid", "amount_total": 100,
               "currency": "usd", "metadata": {"order": "42"}}
    assert fulfilment.fulfil_checkout_session(session=foreign).purchase is None
    assert fulfilment.mark_expired(session=foreign) is None
    assert not entries(org).exists()


@pytest.mark.parametrize("metadata", [
    {},  # another product's session whose client_reference_id happens to be our purchase id
    {"purchase_id": "PLACEHOLDER", "organization": "someone-else"},
    # Half our reference: both halves are needed to claim a purchase.
    {"purchase_id": "PLACEHOLDER"},
    {"purchase_id": "PLACEHOLDER", "organization": ""},
    {"organization": "acme"},
])
def test_an_unclaimed_purchase_is_matched_only_by_our_metadata(org, admin_user, package,
                                                                metadata):
    purchase = pending_purchase(org, package, admin_user)
    purchase.stripe_checkout_session_id = None
    purchase.save()
    metadata = {k: str(purchase.pk) if v == "PLACEHOLDER" else v for k, v in metadata.items()}
    session = {**session_object(purchase), "id": "cs_other_app", "metadata": metadata,
               "client_reference_id": str(purchase.pk)}
    assert fulfilment.fulfil_checkout_session(session=session).purchase is None
    assert not entries(org).exists()


@pytest.mark.parametrize("change", [{"amount_total": 1}, {"currency": "eur"}])
def test_amount_or_currency_mismatch_holds_the_purchase_for_staff(org, admin_user, package,
                                                                   change):
    purchase = pending_purchase(org, package, admin_user)
    result = fulfilment.fulfil_checkout_session(session={**session_object(purchase), **change})
    assert not result.granted and not entries(org).exists()
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.HELD  # tests/billing/purchases/test_held.py


def test_expanded_session_fills_receipt_and_charge(org, admin_user, package):
    purchase = pending_purchase(org, package, admin_user)
    session = session_object(
        purchase,
        invoice={"id": "in_1", "hosted_invoice_url": "https://invoice.stripe.test/in_1"},
        payment_intent={"id": "pi_9", "latest_charge": {
            "id": "ch_9", "receipt_url": "https://pay.stripe.test/receipts/ch_9"}},
    )
    fulfilment.fulfil_checkout_session(session=session)
    purchase.refresh_from_db()
    assert purchase.receipt_url == "https://invoice.stripe.test/in_1"
    assert (purchase.stripe_invoice_id, purchase.stripe_charge_id) == ("in_1", "ch_9")
    assert purchase.stripe_payment_intent_id == "pi_9"


@pytest.mark.parametrize("invoice", [None, "in_3"])
def test_without_an_invoice_link_the_receipt_is_the_charges(org, admin_user, package, invoice):
    purchase = pending_purchase(org, package, admin_user)
    session = session_object(purchase, invoice=invoice, payment_intent={
        "id": "pi_3", "latest_charge": {"id": "ch_3",
                                        "receipt_url": "https://pay.stripe.test/receipts/ch_3"}})
    fulfilment.fulfil_checkout_session(session=session)
    purchase.refresh_from_db()
    assert purchase.receipt_url == "https://pay.stripe.test/receipts/ch_3"
    assert (purchase.stripe_invoice_id, purchase.stripe_charge_id) == (invoice or "", "ch_3")


def test_receipt_filled_by_a_later_delivery(org, admin_user, package):
    purchase = pending_purchase(org, package, admin_user)
    fulfilment.fulfil_checkout_session(session=session_object(purchase))
    fulfilment.fulfil_checkout_session(session=session_object(
        purchase, invoice={"id": "in_2", "hosted_invoice_url": "https://invoice.stripe.test/2"}))
    purchase.refresh_from_db()
    assert purchase.receipt_url == "https://invoice.stripe.test/2"
    assert entries(org).count() == 2


def test_a_purchase_repays_debt_first(org, admin_user, package):
    grant(org, "100")
    consume(org, "100", key="usage:1")
    from billing.ledger.corrections import adjust_credits
    adjust_credits(organization=org, credits=Decimal("-300"), reason="clawback",
                   actor=Actor.system("tests"))
    assert balance(org) == Decimal("-300")
    purchase = pending_purchase(org, package, admin_user)
    fulfilment.fulfil_checkout_session(session=session_object(purchase))
    purchase.refresh_from_db()
    assert balance(org) == Decimal("5200")
    assert purchase.paid_grant.debt_repaid == Decimal("300")
    assert purchase.paid_grant.remaining == Decimal("4700")
    assert_ledger_ok(org)


@pytest.mark.parametrize("mark, status", [
    (fulfilment.mark_failed, PurchaseStatus.FAILED),
    (fulfilment.mark_expired, PurchaseStatus.EXPIRED),
])
def test_failed_and_expired_grant_nothing(org, admin_user, package, mark, status):
    purchase = pending_purchase(org, package, admin_user)
    mark(session=session_object(purchase, payment_status="unpaid", status="expired"))
    purchase.refresh_from_db()
    assert purchase.status == status and purchase.failure_reason
    assert not entries(org).exists()


def test_a_late_expiry_does_not_unmark_a_paid_purchase(org, admin_user, package):
    purchase = pending_purchase(org, package, admin_user)
    fulfilment.fulfil_checkout_session(session=session_object(purchase))
    fulfilment.mark_expired(session=session_object(purchase, status="expired"))
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.PAID


def test_plan_without_billing_cannot_start(org, admin_user, package):
    org.plan = "free"
    org.save()
    with pytest.raises(errors.PurchaseError, match="Professional and Enterprise"):
        checkout.start_purchase(organization=org, package=package, buyer=admin_user,
                                 provider="test")
    assert not org.purchases.exists()


def test_inactive_package_cannot_be_bought(org, admin_user, package):
    package.active = False
    package.save()
    with pytest.raises(errors.PurchaseError, match="no longer on sale"):
        checkout.start_purchase(organization=org, package=package, buyer=admin_user,
                                 provider="test")


# --- from the mutation run (docs/testing.md) ---------------------------------------------------


@pytest.mark.parametrize("mark, reason", [
    (fulfilment.mark_failed, "The payment failed."),
    (fulfilment.mark_expired, "Checkout expired without payment."),
])
def test_a_mark_found_by_metadata_keeps_the_session_id_and_its_reason(org, admin_user, package,
                                                                      mark, reason):
    purchase = pending_purchase(org, package, admin_user)
    purchase.stripe_checkout_session_id = None
    purchase.save()
    mark(session={**session_object(purchase, payment_status="unpaid", status="expired"),
                  "id": "cs_late"})
    purchase.refresh_from_db()
    assert (purchase.stripe_checkout_session_id, purchase.failure_reason) == ("cs_late", reason)


def test_an_unpaid_session_answers_with_its_purchase(org, admin_user, package):
    purchase = pending_purchase(org, package, admin_user)
    result = fulfilment.fulfil_checkout_session(
        session=session_object(purchase, payment_status="unpaid"))
    assert result.purchase == purchase and not result.granted


def test_a_purchase_without_a_buyer_is_granted_by_the_checkout_job(org, admin_user, package):
    purchase = pending_purchase(org, package, admin_user)
    purchase.buyer = None
    purchase.save()
    fulfilment.fulfil_checkout_session(session=session_object(purchase))
    assert {e.actor_label for e in entries(org)} == {"system:checkout"}


def test_a_second_delivery_answers_with_its_purchase(org, admin_user, package):
    purchase = pending_purchase(org, package, admin_user)
    fulfilment.fulfil_checkout_session(session=session_object(purchase))
    again = fulfilment.fulfil_checkout_session(session=session_object(purchase))
    assert again.purchase == purchase and not again.granted


def test_grants_already_in_the_ledger_are_linked_not_granted_again(org, admin_user, package):
    """The ledger answers a replayed grant without its grant object: fulfilment finds the paid
    and the bonus grant from the entries' metadata (a purchase row restored from a backup
    taken between the grant and the mark)."""
    purchase = pending_purchase(org, package, admin_user)
    fulfilment.fulfil_checkout_session(session=session_object(purchase))
    purchase.refresh_from_db()
    first = (purchase.entry, purchase.paid_grant, purchase.bonus_entry, purchase.bonus_grant)
    type(purchase).objects.filter(pk=purchase.pk).update(
        entry=None, paid_grant=None, bonus_entry=None, bonus_grant=None,
        status=PurchaseStatus.PENDING, paid_at=None)

    result = fulfilment.fulfil_checkout_session(session=session_object(purchase))

    assert not result.granted
    purchase.refresh_from_db()
    assert (purchase.entry, purchase.paid_grant, purchase.bonus_entry,
            purchase.bonus_grant) == first
    assert purchase.bonus_grant.parent == purchase.paid_grant
    assert purchase.status == PurchaseStatus.PAID
    assert entries(org).count() == 2 and balance(org) == Decimal("5500")
    assert_ledger_ok(org)
