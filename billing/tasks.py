"""django-q2 task entry points: thin wrappers around idempotent services."""

from billing.ledger.expiry import expire_credits
from billing.pricing.price_report import report_price_differences


def expire_credits_task() -> int:
    return expire_credits()


def report_price_differences_task() -> int:
    return report_price_differences().differences
