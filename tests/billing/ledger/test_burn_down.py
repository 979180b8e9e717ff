"""The burn-down order: priority, then soonest expiry (none last), then kind, creation, id.

Each tie-break is tested on grants equal in everything before it, so each rule
alone decides the order; the grants are created in the reverse of the expected
order, so creation time never decides by accident.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.ledger.book import burn_order, open_book
from billing.models import EntryKind, GrantKind
from tests.billing.postings import SYSTEM, assert_ledger_ok, consume, grant

pytestmark = pytest.mark.django_db

FREE_FIRST = [GrantKind.PROMOTIONAL, GrantKind.BONUS, GrantKind.ADJUSTMENT, GrantKind.PAID]


def drawn_order(org, count, *, now, amount=10):
    """The grant each of `count` consumptions of `amount` drew on, in order."""
    order = []
    for i in range(count):
        entry = consume(org, amount, key=f"usage:order:{i}", now=now).entry
        [allocation] = entry.allocations.all()
        order.append(allocation.grant_id)
    return order


@pytest.mark.parametrize("expires_in", [None, timedelta(days=3)], ids=["no-expiry", "expiry"])
def test_equal_priority_and_expiry_free_kinds_burn_before_paid(org, expires_in):
    now = timezone.now()
    expires_at = now + expires_in if expires_in else None
    grants = {}
    for kind in reversed(FREE_FIRST):  # paid created first: creation order is not the reason
        grants[kind] = grant(org, 10, kind=kind, expires_at=expires_at, now=now).grant
    assert drawn_order(org, 4, now=now) == [grants[kind].pk for kind in FREE_FIRST]
    assert_ledger_ok(org)


@pytest.mark.parametrize("expires_in", [None, timedelta(days=3)], ids=["no-expiry", "expiry"])
def test_equal_kind_too_the_older_grant_burns_first(org, expires_in):
    start = timezone.now()
    expires_at = start + expires_in if expires_in else None
    older = grant(org, 10, kind=GrantKind.PAID, expires_at=expires_at, now=start).grant
    newer = grant(org, 10, kind=GrantKind.PAID, expires_at=expires_at,
                  now=start + timedelta(seconds=1)).grant
    assert drawn_order(org, 2, now=start + timedelta(seconds=2)) == [older.pk, newer.pk]


def test_equal_in_everything_the_lower_id_burns_first(org):
    now = timezone.now()
    with open_book(organization=org, now=now) as book:
        first, second = (book.grant(amount=10, grant_kind=GrantKind.BONUS,
                                    entry_kind=EntryKind.ADJUSTMENT, actor=SYSTEM, reason="same",
                                    idempotency_key=f"test:same:{i}").grant for i in (1, 2))
    assert first.created_at == second.created_at
    assert burn_order([second, first]) == [first, second]
    assert drawn_order(org, 2, now=now) == [first.pk, second.pk]


def test_priority_outranks_expiry_and_kind(org):
    now = timezone.now()
    late_paid = grant(org, 10, kind=GrantKind.PAID, priority=50, now=now).grant
    soon_promo = grant(org, 10, kind=GrantKind.PROMOTIONAL, expires_at=now + timedelta(hours=1),
                       now=now).grant
    assert drawn_order(org, 2, now=now) == [late_paid.pk, soon_promo.pk]


def test_a_higher_priority_number_burns_later(org):
    now = timezone.now()
    last = grant(org, 10, priority=101, now=now).grant
    first = grant(org, 10, priority=99, now=now).grant
    middle = grant(org, 10, priority=100, now=now).grant
    assert drawn_order(org, 3, now=now) == [first.pk, middle.pk, last.pk]


def test_at_equal_priority_expiring_grants_burn_before_lasting_ones_soonest_first(org):
    now = timezone.now()
    lasting_promo = grant(org, 10, kind=GrantKind.PROMOTIONAL, now=now).grant
    later = grant(org, 10, kind=GrantKind.PAID, expires_at=now + timedelta(days=30),
                  now=now).grant
    sooner = grant(org, 10, kind=GrantKind.PAID, expires_at=now + timedelta(days=2),
                   now=now).grant
    assert drawn_order(org, 3, now=now) == [sooner.pk, later.pk, lasting_promo.pk]


def test_one_consumption_spans_grants_in_burn_down_order(org):
    now = timezone.now()
    paid = grant(org, 10, kind=GrantKind.PAID, now=now).grant
    bonus = grant(org, 4, kind=GrantKind.BONUS, now=now).grant
    entry = consume(org, 12, key="usage:span", now=now).entry
    drawn = list(entry.allocations.order_by("id").values_list("grant_id", "amount"))
    assert drawn == [(bonus.pk, -4), (paid.pk, -8)]
    assert_ledger_ok(org)
