"""POST /billing/stripe/webhook/: signatures, storage, dispatch, errors and retries."""

import json
import time
from decimal import Decimal
from unittest import mock

import pytest
from django.db import IntegrityError
from django.test import Client

from billing.faults.transient import RETRY_AFTER_SECONDS
from billing.models import PurchaseStatus, StripeEvent
from billing.purchases import fulfilment
from billing.webhooks import dispatcher as webhooks
from tests.billing.faults.outage import account_locked, database_timeouts
from tests.billing.purchase_fixtures import (
    WEBHOOK_URL,
    assert_ledger_ok,
    balance,
    entries,
    pending_purchase,
    post_event,
)
from tests.billing.stripe_stub import charge_object, event, session_object, sign

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stripe_stub")]  # offline


@pytest.fixture
def purchase(org, admin_user, package):
    return pending_purchase(org, package, admin_user)


def completed(purchase, **kwargs):
    return event("checkout.session.completed", session_object(purchase, **kwargs))


def nothing_written(org):
    return not StripeEvent.objects.exists() and not entries(org).exists()


def test_forged_signature_is_refused(client, org, purchase):
    response = post_event(client, completed(purchase), secret="whsec_forged")
    assert response.status_code == 400
    assert nothing_written(org)


def test_body_altered_after_signing_is_refused(client, org, purchase):
    original = completed(purchase)
    signature = sign(json.dumps(original), "whsec_test_secret")
    altered = json.dumps({**original, "type": "charge.refunded"})
    response = post_event(client, original, body=altered, header=signature)
    assert response.status_code == 400
    assert nothing_written(org)


def test_signature_older_than_300_seconds_is_refused(client, org, purchase):
    response = post_event(client, completed(purchase), timestamp=int(time.time()) - 301)
    assert response.status_code == 400
    assert nothing_written(org)


@pytest.mark.parametrize("header", ["", "t=1", "v1=abc", "nonsense"])
def test_missing_or_malformed_signature_is_refused(client, org, purchase, header):
    response = post_event(client, completed(purchase), header=header)
    assert response.status_code == 400
    assert nothing_written(org)


def test_signed_non_json_body_is_refused(client, org):
    body = "not json"
    response = client.post(WEBHOOK_URL, data=body, content_type="application/json",
                           HTTP_STRIPE_SIGNATURE=sign(body, "whsec_test_secret"))
    assert response.status_code == 400
    assert nothing_written(org)


def test_get_is_not_allowed(client):
    assert client.get(WEBHOOK_URL).status_code == 405


def test_completed_paid_grants_and_stores_the_event(client, org, purchase):
    evt = completed(purchase)
    response = post_event(client, evt)
    assert response.status_code == 200
    stored = StripeEvent.objects.get(event_id=evt["id"])
    assert stored.type == "checkout.session.completed"
    assert stored.payload == evt
    assert stored.processed_at and stored.attempts == 1 and not stored.last_error
    assert balance(org) == Decimal("5500")
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.PAID


def test_redelivery_of_a_processed_event_does_no_work(client, org, purchase):
    evt = completed(purchase)
    post_event(client, evt)
    with mock.patch.object(fulfilment, "fulfil_checkout_session") as fulfil:
        response = post_event(client, evt)
    assert response.status_code == 200
    assert response.json()["result"] == "already processed"
    fulfil.assert_not_called()
    assert StripeEvent.objects.get().attempts == 1


def test_unpaid_then_async_payment_succeeded_grants_once(client, org, purchase):
    post_event(client, completed(purchase, payment_status="unpaid"))
    assert balance(org) == 0
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.PENDING
    succeeded = event("checkout.session.async_payment_succeeded", session_object(purchase))
    assert post_event(client, succeeded).status_code == 200
    # A second event for the same session (e.g. a late paid "completed") changes nothing.
    assert post_event(client, completed(purchase)).status_code == 200
    assert balance(org) == Decimal("5500")
    assert entries(org).count() == 2
    assert_ledger_ok(org)


@pytest.mark.parametrize("event_type, status", [
    ("checkout.session.async_payment_failed", PurchaseStatus.FAILED),
    ("checkout.session.expired", PurchaseStatus.EXPIRED),
])
def test_failed_and_expired_mark_the_purchase_and_grant_nothing(
        client, org, purchase, event_type, status):
    obj = session_object(purchase, payment_status="unpaid", status="expired")
    assert post_event(client, event(event_type, obj)).status_code == 200
    purchase.refresh_from_db()
    assert purchase.status == status
    assert not entries(org).exists()


def test_unknown_type_is_acknowledged_and_ignored(client, org):
    response = post_event(client, event("customer.updated", {"id": "cus_1"}))
    assert response.status_code == 200
    assert response.json()["result"] == "ignored"
    assert not entries(org).exists()


def test_payment_intents_are_acknowledged_and_change_nothing(client, org):
    # Checkout's own PaymentIntents: the checkout.session events carry the purchase.
    for number, event_type in enumerate(["payment_intent.succeeded",
                                         "payment_intent.payment_failed"]):
        pi = {"id": f"pi_{number}", "metadata": {"topup_attempt_id": "9"}}
        assert post_event(client, event(event_type, pi)).status_code == 200
    assert balance(org) == 0


def test_charge_refunded_takes_credits_back(client, org, purchase):
    post_event(client, completed(purchase))
    refunded = event("charge.refunded", charge_object(purchase, amount_refunded=4500))
    assert post_event(client, refunded).status_code == 200
    assert balance(org) == 0
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.REFUNDED
    assert_ledger_ok(org)


def test_handler_error_rolls_back_records_and_is_retried(client, org, purchase):
    evt = completed(purchase)
    failing_save = mock.patch("billing.models.purchases.Purchase.save",
                              side_effect=RuntimeError("db hiccup"))
    with failing_save:
        response = post_event(client, evt)
    assert response.status_code == 500
    stored = StripeEvent.objects.get(event_id=evt["id"])
    assert stored.processed_at is None and stored.attempts == 1
    assert "db hiccup" in stored.last_error
    assert not entries(org).exists()  # the ledger work was rolled back with the handler
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.PENDING

    response = post_event(client, evt)  # Stripe's redelivery
    assert response.status_code == 200
    stored.refresh_from_db()
    assert stored.processed_at and stored.attempts == 2 and not stored.last_error
    assert balance(org) == Decimal("5500")
    assert_ledger_ok(org)


def test_refund_before_the_payment_is_retried_until_it_can_apply(client, org, purchase):
    purchase.stripe_payment_intent_id = f"pi_{purchase.pk}"
    purchase.save()
    refunded = event("charge.refunded", charge_object(purchase, amount_refunded=4500))
    assert post_event(client, refunded).status_code == 500
    post_event(client, completed(purchase))
    assert post_event(client, refunded).status_code == 200
    assert balance(org) == 0
    assert_ledger_ok(org)


def test_stripe_purchase_gets_its_receipt_link_from_stripe(client, org, purchase, stripe_stub):
    stripe_stub.set_session(purchase.stripe_checkout_session_id, **session_object(
        purchase, invoice={"id": "in_1", "hosted_invoice_url": "https://invoice.stripe.test/1"}))
    post_event(client, completed(purchase))
    purchase.refresh_from_db()
    assert purchase.receipt_url == "https://invoice.stripe.test/1"
    assert balance(org) == Decimal("5500")


def test_stripe_unreachable_for_the_receipt_still_grants(client, org, purchase, stripe_stub):
    # No session known to the stub: retrieval answers 404, fulfilment goes ahead.
    assert post_event(client, completed(purchase)).status_code == 200
    assert balance(org) == Decimal("5500")


def test_checkout_of_another_product_is_acknowledged_and_ignored(client, org):
    foreign = {"id": "cs_other_app", "object": "checkout.session", "payment_status": "paid",
               "amount_total": 100, "currency": "usd", "metadata": {}}
    response = post_event(client, event("checkout.session.completed", foreign))
    assert response.status_code == 200
    assert StripeEvent.objects.get().processed_at is not None
    assert not entries(org).exists()


def test_a_delivery_that_lost_the_race_does_no_work(org, purchase):
    """The guard under the event row's lock, without PostgreSQL's threads: the delivery
    stored (read) the event before a concurrent one processed it, so its first check
    passed; the locked re-read must stop it."""
    evt = completed(purchase)
    assert webhooks.process_event(evt).message == "processed"
    stale = StripeEvent.objects.get(event_id=evt["id"])
    stale.processed_at = None  # what the slower delivery read before the other committed
    with mock.patch.object(webhooks, "_store", return_value=stale), \
            mock.patch.object(fulfilment, "fulfil_checkout_session") as fulfil:
        result = webhooks.process_event(evt)
    assert (result.status, result.message) == (200, "already processed")
    fulfil.assert_not_called()
    stored = StripeEvent.objects.get(event_id=evt["id"])
    assert stored.attempts == 1 and not stored.last_error
    assert balance(org) == Decimal("5500") and entries(org).count() == 2


def test_the_event_is_stored_once_by_its_id(org, purchase):
    evt = completed(purchase)
    first = webhooks._store(evt)
    again = webhooks._store({**evt, "type": "something.else"})
    assert again.pk == first.pk and again.type == "checkout.session.completed"
    assert StripeEvent.objects.count() == 1


def test_a_concurrent_store_that_won_is_read_back(org, purchase):
    evt = completed(purchase)
    winner = webhooks._store(evt)
    with mock.patch.object(StripeEvent.objects, "get_or_create",
                           side_effect=IntegrityError("duplicate key")):
        assert webhooks._store(evt).pk == winner.pk


def test_livemode_and_payload_are_stored(org, purchase):
    evt = {**completed(purchase), "livemode": True}
    stored = webhooks._store(evt)
    assert stored.livemode is True and stored.payload == evt
    assert webhooks._store({**completed(purchase), "id": "evt_other"}).livemode is False


def test_a_handler_error_is_answered_500_and_recorded(org, purchase):
    evt = completed(purchase)
    with mock.patch.object(fulfilment, "fulfil_checkout_session",
                           side_effect=ValueError("boom")):
        result = webhooks.process_event(evt)
    assert (result.status, result.message) == (500, "handler error; Stripe will retry")
    stored = StripeEvent.objects.get(event_id=evt["id"])
    assert (stored.attempts, stored.last_error, stored.processed_at) == (
        1, "ValueError: boom", None)
    with mock.patch.object(fulfilment, "fulfil_checkout_session",
                           side_effect=ValueError("b" * 3000)):
        webhooks.process_event(evt)
    assert StripeEvent.objects.get(event_id=evt["id"]).last_error == (
        "ValueError: " + "b" * 1988)  # kept to 2,000 characters


def test_an_invalid_signature_is_answered_400_without_processing(org, purchase):
    with mock.patch.object(webhooks, "process_event") as process:
        result = webhooks.receive(payload=b"{}", signature_header="t=1,v1=bad")
    assert (result.status, result.message) == (400, "invalid signature")
    process.assert_not_called()


# -- transient faults: 503 so that Stripe delivers again, and the redelivery does the work once --

@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_database_away_answers_503_and_the_redelivery_fulfils_once(org, purchase, db_proxy):
    from django.db import connection

    evt = completed(purchase)
    db_proxy.cut(refuse_for=60)
    response = post_event(Client(), evt)
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.content == b"temporarily unavailable; Stripe will deliver again"
    db_proxy.restore()
    connection.close()  # the test client keeps its broken connection; a server would not
    assert nothing_written(org)
    assert post_event(Client(), evt).status_code == 200
    assert post_event(Client(), evt).json()["result"] == "already processed"
    assert balance(org) == Decimal("5500") and entries(org).count() == 2
    assert_ledger_ok(org)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_lock_timeout_in_the_handler_answers_503_records_the_try_and_rolls_back(org,
                                                                                purchase):
    evt = completed(purchase)
    with database_timeouts(statement_ms=0, lock_ms=200), account_locked(org):
        response = post_event(Client(), evt)
    assert response.status_code == 503 and response["Retry-After"]
    stored = StripeEvent.objects.get(event_id=evt["id"])
    assert stored.processed_at is None and stored.attempts == 1
    assert stored.last_error.startswith("OperationalError")
    assert balance(org) == 0 and not entries(org).exists()
    assert post_event(Client(), evt).status_code == 200
    assert balance(org) == Decimal("5500") and entries(org).count() == 2
    assert_ledger_ok(org)


def test_an_event_of_another_api_version_is_logged_with_both_versions(client, org, caplog):
    from billing.payments.stripe_provider import API_VERSION

    older = {**event("customer.updated", {"id": "cus_1"}), "api_version": "2024-06-20"}
    with caplog.at_level("WARNING", logger="billing.webhooks.dispatcher"):
        assert post_event(client, older).status_code == 200
        assert post_event(client, event("customer.updated", {"id": "cus_1"})).status_code == 200
    [record] = [r for r in caplog.records if "API version" in r.getMessage()]
    assert "2024-06-20" in record.getMessage() and API_VERSION in record.getMessage()
