"""The same payment confirmed by many deliveries at once is granted once (PostgreSQL)."""

from decimal import Decimal

import pytest
from django.test import Client

from billing.models import EntryKind, PurchaseStatus, StripeEvent
from tests.billing.purchase_fixtures import (
    assert_ledger_ok,
    balance,
    entries,
    pending_purchase,
    post_event,
)
from tests.billing.stripe_stub import event, session_object
from tests.concurrency import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_five_deliveries_and_the_success_redirect_grant_once(org, admin_user, package,
                                                             stripe_stub):
    purchase = pending_purchase(org, package, admin_user)
    session = session_object(purchase)
    stripe_stub.set_session(purchase.stripe_checkout_session_id, **session)
    evt = event("checkout.session.completed", session)

    def deliver():
        return post_event(Client(), evt).status_code

    def success_redirect():
        browser = Client()
        browser.force_login(admin_user)
        url = (f"/o/{org.slug}/purchases/{purchase.pk}/success/"
               f"?session_id={purchase.stripe_checkout_session_id}")
        return browser.get(url).status_code

    statuses = run_together([deliver] * 5 + [success_redirect])

    assert statuses == [200] * 6
    assert balance(org) == Decimal("5500")
    assert entries(org, kind=EntryKind.PURCHASE).count() == 1
    assert entries(org, kind=EntryKind.BONUS).count() == 1
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.PAID
    stored = StripeEvent.objects.get(event_id=evt["id"])
    assert stored.processed_at is not None and stored.attempts == 1
    assert_ledger_ok(org)


def test_distinct_events_for_one_session_at_once_grant_once(org, admin_user, package,
                                                           stripe_stub):
    purchase = pending_purchase(org, package, admin_user)
    session = session_object(purchase)
    events = [event("checkout.session.completed", session),
              event("checkout.session.async_payment_succeeded", session)] * 2

    statuses = run_together([lambda e=e: post_event(Client(), e).status_code for e in events])

    assert statuses == [200] * 4
    assert balance(org) == Decimal("5500")
    assert entries(org).count() == 2
    assert_ledger_ok(org)


def test_concurrent_refund_deliveries_take_back_once(org, admin_user, package, stripe_stub):
    from tests.billing.stripe_stub import charge_object

    purchase = pending_purchase(org, package, admin_user)
    post_event(Client(), event("checkout.session.completed", session_object(purchase)))
    half = event("charge.refunded", charge_object(purchase, amount_refunded=2250))
    full = event("charge.refunded", charge_object(purchase, amount_refunded=4500))

    statuses = run_together([lambda e=e: post_event(Client(), e).status_code
                             for e in [half, half, full, full, half]])

    assert statuses == [200] * 5
    assert balance(org) == 0
    assert -sum(e.amount for e in entries(org, kind=EntryKind.REFUND)) == Decimal("5500")
    assert_ledger_ok(org)
