"""django-q2 task entry points: thin wrappers around idempotent services."""


def expire_credits_task() -> int:
    from billing.ledger.expiry import expire_credits

    return expire_credits()
