"""Expiry runs: post an expiry entry for every grant past its expiry.

Usage and clawbacks already expire due grants of their own account under its
lock (Book.expire_due); this run catches accounts with no traffic, so their
balance drops on time. The expire_credits command and schedule call it.
"""

from datetime import datetime

from django.utils import timezone

from billing.ledger.book import open_book
from billing.models import CreditAccount, CreditGrant


def expire_credits(*, organization=None, now: datetime | None = None) -> int:
    """Post expiry entries for every grant past its expiry; each org in its own transaction."""
    now = now or timezone.now()
    due = CreditGrant.objects.filter(expired_at__isnull=True, expires_at__lte=now)
    if organization is not None:
        due = due.filter(account__organization=organization)
    posted = 0
    for account in CreditAccount.objects.filter(pk__in=due.values("account_id")).select_related(
        "organization"
    ):
        with open_book(organization=account.organization, now=now) as book:
            posted += len(book.expire_due())
    return posted
