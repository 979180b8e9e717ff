"""django-q2 task entry points: thin wrappers around idempotent services."""

from billing.ledger.expiry import expire_credits


def expire_credits_task() -> int:
    return expire_credits()
