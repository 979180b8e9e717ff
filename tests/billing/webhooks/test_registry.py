"""The registry: what each area registered, in order, with expansion outside the transaction."""

import re
from pathlib import Path

import pytest
from django.db import connection

from billing import webhooks
from billing.webhooks import dispatcher, registry
from tests.billing.stripe_stub import event

DOCS = Path(__file__).resolve().parents[3] / "docs" / "stripe.md"


def test_the_handled_types_are_the_ones_stripe_is_asked_to_send():
    assert webhooks.handled_types() == sorted([
        "checkout.session.completed", "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed", "checkout.session.expired",
        "charge.refunded", "charge.refund.updated",
        "refund.created", "refund.updated", "refund.failed",
        "charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed",
        "charge.dispute.funds_withdrawn", "charge.dispute.funds_reinstated",
        "payment_intent.succeeded", "payment_intent.payment_failed"])


def test_docs_list_exactly_the_handled_types():
    section = DOCS.read_text().split("## The webhook endpoint", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`((?:checkout|charge|payment_intent|refund)\.[a-z_.]+)`",
                            section))
    assert listed == set(webhooks.handled_types())


def test_each_area_registers_its_own_handlers():
    owners = {t: [r.handle.__module__ for r in registry.handlers_for(t)]
              for t in webhooks.handled_types()}
    assert owners["checkout.session.completed"] == ["billing.purchases.webhook_handlers",
                                                    "billing.topups.webhook_handlers"]
    assert owners["charge.dispute.closed"] == ["billing.disputes.webhook_handlers"]
    assert owners["payment_intent.succeeded"] == ["billing.topups.webhook_handlers"]
    assert owners["charge.refunded"] == ["billing.refunds.webhook_handlers"]
    assert owners["refund.failed"] == ["billing.refunds.webhook_handlers"]


@pytest.fixture
def scratch_type():
    yield "test.scratch"
    registry._REGISTRY.pop("test.scratch", None)


@pytest.mark.django_db
def test_handlers_of_one_type_run_in_order_each_with_its_expanded_object(scratch_type):
    seen = []

    def expand(obj):
        seen.append(("expand", len(connection.atomic_blocks)))
        return {**obj, "expanded": True}

    @webhooks.handler(scratch_type)
    def first(obj):
        seen.append(("first", obj.get("expanded", False), len(connection.atomic_blocks)))

    @webhooks.handler(scratch_type, expand=expand)
    def second(obj):
        seen.append(("second", obj.get("expanded", False)))

    result = dispatcher.process_event(event(scratch_type, {"id": "x"}))

    assert (result.status, result.message) == (200, "processed")
    [(_, outside), (_, first_expanded, inside), second_call] = seen
    assert inside == outside + 1  # the handlers run in the event's transaction, expand not
    assert (first_expanded, second_call) == (False, ("second", True))


def test_registering_again_replaces_rather_than_doubles(scratch_type):
    def handle(obj):
        pass

    def reloaded(obj):  # the same function after its module was imported again
        pass

    reloaded.__qualname__ = handle.__qualname__
    webhooks.handler(scratch_type)(handle)
    webhooks.handler(scratch_type)(reloaded)
    assert [r.handle for r in registry.handlers_for(scratch_type)] == [reloaded]
