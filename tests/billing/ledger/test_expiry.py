"""billing.ledger.expiry.expire_credits: the run that expires grants of quiet accounts."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.ledger import expiry
from billing.ledger.expiry import expire_credits
from billing.models import CreditGrant, EntryKind, LedgerEntry
from tests.billing.postings import D, assert_ledger_ok, grant
from tests.conftest import make_org

pytestmark = pytest.mark.django_db


def test_every_account_with_due_grants_is_expired_at_the_given_time(org, other_org):
    start = timezone.now() - timedelta(days=3)
    grant(org, 2, expires_at=start + timedelta(hours=1), now=start)
    grant(org, 3, expires_at=start + timedelta(hours=2), now=start)
    grant(other_org, 4, expires_at=start + timedelta(hours=1), now=start)
    lasting = grant(other_org, 5, now=start).grant
    run_at = start + timedelta(days=1)
    assert expire_credits(now=run_at) == 3
    expiries = LedgerEntry.objects.filter(kind=EntryKind.EXPIRY)
    assert sorted(e.amount for e in expiries) == [D(-4), D(-3), D(-2)]
    assert {e.created_at for e in expiries} == {run_at}
    assert CreditGrant.objects.get(pk=lasting.pk).expired_at is None
    assert expire_credits(now=run_at) == 0  # nothing is due twice
    assert_ledger_ok()


def test_one_org_only_and_nothing_before_its_time(org, other_org):
    start = timezone.now() - timedelta(days=3)
    grant(org, 2, expires_at=start + timedelta(hours=1), now=start)
    grant(other_org, 4, expires_at=start + timedelta(hours=1), now=start)
    assert expire_credits(now=start + timedelta(minutes=59)) == 0
    assert expire_credits(organization=org, now=start + timedelta(hours=1)) == 1
    assert LedgerEntry.objects.filter(kind=EntryKind.EXPIRY).get().account.organization == org


def test_only_accounts_with_a_grant_due_are_opened(org, other_org, monkeypatch):
    """Opening a book locks the account: a run must not lock accounts whose grants are all
    expired already or not yet due, which would hold up their usage for nothing."""
    start = timezone.now() - timedelta(days=3)
    grant(org, 2, expires_at=start + timedelta(hours=1), now=start)
    grant(other_org, 4, expires_at=start + timedelta(hours=1), now=start)
    later = make_org("later")
    grant(later, 5, expires_at=start + timedelta(days=5), now=start)
    grant(later, 6, now=start)  # never expires
    assert expire_credits(organization=other_org, now=start + timedelta(hours=1)) == 1

    opened = []
    real_open_book = expiry.open_book

    def open_book(*, organization, now):
        opened.append(organization.slug)
        return real_open_book(organization=organization, now=now)

    monkeypatch.setattr(expiry, "open_book", open_book)
    assert expire_credits(now=start + timedelta(days=1)) == 1
    assert opened == ["acme"]  # not other_org (expired already) nor later (not due)
