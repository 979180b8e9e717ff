"""Refunds of an auto-topup's charge (finding 1): found by its PaymentIntent or charge id,
the credits taken back like a purchase's, given back when the refund fails."""

from decimal import Decimal

import pytest

from billing.models import EntryKind
from tests.billing.purchase_fixtures import assert_ledger_ok, balance, entries, post_event
from tests.billing.stripe_stub import event, topup_charge_object

pytestmark = pytest.mark.django_db


def deliver(client, kind, obj, **kwargs):
    response = post_event(client, event(kind, obj, **kwargs))
    assert response.status_code == 200, response.content


def test_a_refunded_topup_takes_its_credits_back(client, org, credited_topup):
    attempt = credited_topup
    assert attempt.stripe_charge_id and balance(org) == Decimal("6000")
    deliver(client, "charge.refunded", topup_charge_object(attempt, amount_refunded=2250))
    assert balance(org) == Decimal("3250")
    deliver(client, "charge.refunded", topup_charge_object(attempt, amount_refunded=4500))
    assert balance(org) == Decimal("500")
    attempt.refresh_from_db()
    assert (attempt.amount_refunded_minor, attempt.credits_refunded) == (4500, Decimal("5500"))
    [first, _] = entries(org, kind=EntryKind.REFUND)
    assert first.metadata["topup_attempt_id"] == attempt.pk
    assert first.reason == "Refund of 22.50 USD for auto-topup Growth x1"
    assert_ledger_ok(org)


def test_a_topup_refund_is_found_by_its_charge_id_alone(client, org, credited_topup):
    charge = {**topup_charge_object(credited_topup, amount_refunded=4500),
              "payment_intent": None, "metadata": {}}
    deliver(client, "charge.refunded", charge)
    assert balance(org) == Decimal("500")


def test_a_failed_topup_refund_gives_the_credits_back(client, org, credited_topup):
    attempt = credited_topup
    deliver(client, "charge.refunded", topup_charge_object(attempt, amount_refunded=4500))
    failed = {"id": "re_t1", "object": "refund", "amount": 4500, "status": "failed",
              "charge": attempt.stripe_charge_id, "payment_intent": attempt.payment_intent_id}
    deliver(client, "refund.failed", failed)
    deliver(client, "charge.refund.updated", failed)
    assert balance(org) == Decimal("6000")
    assert_ledger_ok(org)


def test_a_charge_naming_a_topup_of_another_customer_is_ignored(client, org, credited_topup):
    charge = {**topup_charge_object(credited_topup, amount_refunded=4500),
              "id": "ch_other", "payment_intent": "pi_other", "customer": "cus_someone_else"}
    deliver(client, "charge.refunded", charge)
    assert balance(org) == Decimal("6000") and not entries(org, kind=EntryKind.REFUND)
