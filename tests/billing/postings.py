"""Postings for the ledger tests: a system actor, grants, consumption, the ledger check."""

from datetime import datetime
from decimal import Decimal

from billing.ledger.actor import Actor
from billing.ledger.book import open_book
from billing.ledger.verify import verify_ledger
from billing.models import EntryKind, GrantKind

SYSTEM = Actor.system("tests")


def D(value) -> Decimal:
    return Decimal(str(value))


def grant(org, amount, *, kind=GrantKind.ADJUSTMENT, key=None, expires_at=None, priority=100,
          now: datetime | None = None, created_at=None):
    with open_book(organization=org, now=now or created_at) as book:
        return book.grant(
            amount=D(amount), grant_kind=kind, entry_kind=EntryKind.ADJUSTMENT, actor=SYSTEM,
            reason="test grant", idempotency_key=key or f"test:grant:{book._seq + 1}",
            expires_at=expires_at, priority=priority,
        )


def consume(org, amount, *, key, now=None, fingerprint=None):
    with open_book(organization=org, now=now) as book:
        return book.consume(amount=D(amount), actor=SYSTEM, reason="test usage",
                            idempotency_key=key, fingerprint=fingerprint)


def assert_ledger_ok(org=None):
    report = verify_ledger(organization=org)
    assert report.ok, "\n".join(str(p) for p in report.problems)
