"""The Stripe refund events, for every charge we made: `charge.refunded` takes credits
back; a refund reported failed or canceled gives them back. Since API version
2024-10-28 Stripe sends `refund.*` events for every refund; `charge.refund.updated`
is still sent. Registered with the webhook dispatcher when billing starts."""

from billing import webhooks
from billing.refunds import confirmed


@webhooks.handler("charge.refunded")
def charge_refunded(charge: dict) -> None:
    confirmed.apply_charge_refunded(charge=charge)


@webhooks.handler("refund.created", "refund.updated", "refund.failed", "charge.refund.updated")
def refund_changed(refund: dict) -> None:
    confirmed.apply_refund_reversed(refund=refund)  # only a failed or canceled refund moves
