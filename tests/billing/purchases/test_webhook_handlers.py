"""The Stripe events purchases register: each reaches its service with the event's object."""

from unittest import mock

import pytest

from billing.purchases import fulfilment
from billing.refunds import confirmed
from billing.webhooks import dispatcher
from tests.billing.purchase_fixtures import pending_purchase
from tests.billing.stripe_stub import event, session_object

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stripe_stub")]  # offline


@pytest.fixture
def purchase(org, admin_user, package):
    return pending_purchase(org, package, admin_user)


@pytest.mark.parametrize("event_type", [
    "checkout.session.completed", "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed", "checkout.session.expired", "charge.refunded"])
def test_each_purchase_event_reaches_its_handler(org, purchase, event_type):
    obj = session_object(purchase, payment_status="unpaid")
    target = {"charge.refunded": (confirmed, "apply_charge_refunded"),
              "checkout.session.async_payment_failed": (fulfilment, "mark_failed"),
              "checkout.session.expired": (fulfilment, "mark_expired")}.get(
        event_type, (fulfilment, "fulfil_checkout_session"))
    sent = event(event_type, obj)  # the object as Stripe sends it: every published field
    with mock.patch.object(*target) as handler:
        result = dispatcher.process_event(sent)
    assert (result.status, result.message) == (200, "processed")
    [call] = handler.call_args_list
    assert list(call.kwargs.values()) == [sent["data"]["object"]]
    assert sent["data"]["object"]["id"] == obj["id"]


def test_a_setup_session_is_not_a_purchase(org):
    setup = {"id": "cs_setup_1", "object": "checkout.session", "mode": "setup",
             "status": "open", "metadata": {"organization": org.slug}}
    with mock.patch.object(fulfilment, "fulfil_checkout_session") as fulfil:
        result = dispatcher.process_event(event("checkout.session.completed", setup))
    assert (result.status, result.message) == (200, "processed")
    fulfil.assert_not_called()
