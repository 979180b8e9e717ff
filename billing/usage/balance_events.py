"""What happens after usage lowered a balance: the hook for auto-topup and alerts.

Called by billing.usage.ingestion through transaction.on_commit, so never inside the
charging transaction. A no-op until those modules plug in here; keep it cheap
(enqueue work, don't do it) since it runs on the request path.
"""

from decimal import Decimal


def balance_dropped(organization_id: int, balance: Decimal) -> None:
    """The org's balance went down to `balance` through usage that just committed."""
    return None
