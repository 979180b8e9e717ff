"""django-q2 task entry points: thin wrappers around idempotent services."""

from billing.ledger.digests import record_digest
from billing.ledger.expiry import expire_credits


def expire_credits_task() -> int:
    return expire_credits()


def record_ledger_digest_task() -> int:
    """Once a day; a second run the same UTC day changes nothing."""
    digest, _created = record_digest()
    return digest.pk
