"""The installed `stripe` package is the contract for the pinned API version: its resource
classes declare every field the code reads from an event's object (deliver 8), and the
statuses the code decides on are the ones Stripe's types list."""

import typing

import stripe
from stripe.checkout import Session

from billing.disputes.chargebacks import LIFE
from billing.payments.stripe_provider import API_VERSION
from billing.purchases.fulfilment import PAID
from billing.refunds.confirmed import REVERSED_STATUSES
from billing.topups.settlement import FAILED_STATUSES

# What the code reads, by resource (billing/purchases/fulfilment.py, billing/topups/,
# billing/payments/charges.py, billing/refunds/confirmed.py, billing/disputes/).
READ = {
    Session: ["id", "mode", "status", "payment_status", "amount_total", "amount_subtotal",
              "total_details", "currency", "metadata", "customer", "payment_intent",
              "setup_intent", "invoice", "client_reference_id"],
    Session.TotalDetails: ["amount_discount", "amount_tax"],
    stripe.Invoice: ["id", "hosted_invoice_url"],
    stripe.Charge: ["id", "object", "amount", "amount_refunded", "currency", "customer",
                    "metadata", "payment_intent", "receipt_url"],
    stripe.Dispute: ["id", "object", "amount", "currency", "charge", "payment_intent",
                     "reason", "status"],
    stripe.Refund: ["id", "object", "amount", "status", "charge", "payment_intent"],
    stripe.PaymentIntent: ["id", "amount", "currency", "status", "metadata", "latest_charge",
                           "last_payment_error", "payment_method", "customer"],
    stripe.PaymentIntent.LastPaymentError: ["message", "code"],
    stripe.SetupIntent: ["payment_method"],
    stripe.PaymentMethod: ["id", "card"],
    stripe.PaymentMethod.Card: ["brand", "last4", "exp_month", "exp_year"],
    stripe.Event: ["id", "type", "api_version", "livemode", "data"],
    stripe.WebhookEndpoint: ["id", "url", "api_version", "secret"],
}


def declared(cls) -> set[str]:
    return {name for klass in cls.__mro__ for name in getattr(klass, "__annotations__", {})}


def literal_values(cls, field: str) -> set[str]:
    hint = next(k.__annotations__[field] for k in cls.__mro__
                if field in getattr(k, "__annotations__", {}))
    values = set()
    for arg in typing.get_args(hint) or (hint,):
        if typing.get_origin(arg) is typing.Literal:
            values |= set(typing.get_args(arg))
    return values


def test_the_installed_package_is_of_the_pinned_api_version():
    assert stripe.api_version == API_VERSION


def test_every_field_the_code_reads_is_declared_by_the_package():
    missing = {cls.__qualname__: sorted(set(fields) - declared(cls))
               for cls, fields in READ.items() if set(fields) - declared(cls)}
    assert not missing, missing


def test_every_dispute_status_of_the_pinned_version_has_its_place_in_a_disputes_life():
    assert literal_values(stripe.Dispute, "status") == set(LIFE)


def test_the_statuses_the_code_decides_on_exist():
    intent = literal_values(stripe.PaymentIntent, "status")
    assert FAILED_STATUSES | {"succeeded"} <= intent
    assert PAID <= literal_values(Session, "payment_status")
    # Refund.status is a plain string in the package: Stripe documents pending,
    # requires_action, succeeded, failed and canceled.
    assert REVERSED_STATUSES == {"failed", "canceled"}
