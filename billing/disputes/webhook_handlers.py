"""The Stripe dispute events, of any charge we made: each carries the dispute's status,
which decides (billing/disputes/chargebacks.py). Registered with the webhook dispatcher
when billing starts."""

from billing import webhooks
from billing.disputes import chargebacks

DISPUTE_EVENTS = (
    "charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed",
    "charge.dispute.funds_withdrawn", "charge.dispute.funds_reinstated",
)


@webhooks.handler(*DISPUTE_EVENTS)
def dispute_changed(dispute: dict) -> None:
    chargebacks.apply_dispute(dispute=dispute)
