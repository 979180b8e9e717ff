"""The test stub sends Stripe's published objects: each file is the object type it is named
for, and every event and answer built from it keeps all of its fields."""

import stripe

from tests.billing.stripe_stub import PUBLISHED, as_stripe_sends, event, published

RESOURCES = {"charge": stripe.Charge, "checkout.session": stripe.checkout.Session,
             "dispute": stripe.Dispute, "event": stripe.Event,
             "payment_intent": stripe.PaymentIntent, "refund": stripe.Refund,
             "setup_intent": stripe.SetupIntent}


def test_each_published_object_is_the_stripe_resource_it_is_named_for():
    names = {path.stem for path in PUBLISHED.glob("*.json")} | {"payment_intent"}
    assert names == set(RESOURCES)
    for kind, resource in RESOURCES.items():
        assert published(kind)["object"] == resource.OBJECT_NAME == kind


def test_an_event_carries_every_published_field_and_the_tests_values():
    ours = {"id": "ch_ours", "object": "charge", "amount": 4500, "metadata": {"a": "b"}}
    sent = event("charge.refunded", ours)
    assert set(sent) >= set(published("event")) - {"data"}
    assert set(sent["data"]["object"]) == set(published("charge")) | set(ours)
    assert {key: sent["data"]["object"][key] for key in ours} == ours


def test_an_object_of_a_type_not_published_here_is_left_as_it_is():
    method = {"id": "pm_1", "object": "payment_method", "customer": None}
    assert as_stripe_sends(method) == method
    assert published("charge") is not published("charge")  # a fresh copy each time
