"""The Stripe events disputes handle: charge.dispute.created and .closed. Registered with
the webhook dispatcher when billing starts."""

from billing import webhooks
from billing.disputes import chargebacks


@webhooks.handler("charge.dispute.created")
def dispute_created(dispute: dict) -> None:
    chargebacks.apply_dispute_created(dispute=dispute)


@webhooks.handler("charge.dispute.closed")
def dispute_closed(dispute: dict) -> None:
    chargebacks.apply_dispute_closed(dispute=dispute)
