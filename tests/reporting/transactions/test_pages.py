"""Keyset pages: walking every page in either direction and sort gives the full ordered list."""

import pytest
from django.db.models import Q

from billing.models import LedgerEntry
from reporting.transactions.pages import SORTS, keyset_page
from tests.billing.postings import consume, grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def entries(org):
    grant(org, 100)
    for n, amount in enumerate(["1", "2", "2", "2", "3", "0.5", "2", "1"]):
        consume(org, amount, key=f"usage:{n}")
    return LedgerEntry.objects.filter(account__organization=org)


# Sizes 1 and 2 put page edges inside the runs of equal amounts (four 2s, two 1s): the
# amount cursor's range bound (pages._beyond) must keep every tie, once, in id order.
@pytest.mark.parametrize("size", [1, 2, 3])
@pytest.mark.parametrize("sort", list(SORTS))
def test_forward_walk_equals_the_ordered_queryset(entries, sort, size):
    expected = list(entries.order_by(*SORTS[sort]).values_list("id", flat=True))
    walked, cursor, pages = [], None, []
    while True:
        page = keyset_page(entries, sort=sort, after=cursor, size=size)
        pages.append(page)
        walked += [r.pk for r in page.rows]
        cursor = page.older
        if cursor is None:
            break
    assert walked == expected and len(pages) == -(-len(expected) // size)
    # and back again, page by page
    for newer_page, page in zip(reversed(pages[:-1]), reversed(pages[1:]), strict=True):
        back = keyset_page(entries, sort=sort, before=page.newer, size=size)
        assert [r.pk for r in back.rows] == [r.pk for r in newer_page.rows]
    assert keyset_page(entries, sort=sort, before=pages[1].newer, size=size).is_first


def test_a_cursor_from_another_sort_or_garbage_means_the_first_page(entries):
    first = keyset_page(entries, sort="-id", size=3)
    for cursor in (first.older.replace("-id", "amount"), "-id~x", "nonsense", "-id~1~2~3"):
        assert [r.pk for r in keyset_page(entries, sort="-id", after=cursor, size=3).rows] == [
            r.pk for r in first.rows]


def test_an_unknown_sort_falls_back_to_newest_first(entries):
    assert keyset_page(entries, sort="reason", size=3).sort == "-id"


# Parts that overlap (an entry in both is listed once) and leave rows out.
@pytest.mark.parametrize("size", [1, 2, 3])
@pytest.mark.parametrize("sort", list(SORTS))
def test_a_walk_over_parts_equals_the_ordered_union(entries, sort, size):
    parts = [entries.filter(amount__lte=-2), entries.filter(amount__gt=-3, amount__lt=-0.75)]
    union = entries.filter(Q(amount__lte=-2) | Q(amount__gt=-3, amount__lt=-0.75))
    expected = list(union.order_by(*SORTS[sort]).values_list("id", flat=True))
    walked, cursor, pages = [], None, []
    while True:
        page = keyset_page(union, sort=sort, after=cursor, size=size, parts=parts)
        pages.append(page)
        walked += [r.pk for r in page.rows]
        cursor = page.older
        if cursor is None:
            break
    assert walked == expected and len(expected) == 7
    for newer_page, page in zip(reversed(pages[:-1]), reversed(pages[1:]), strict=True):
        back = keyset_page(union, sort=sort, before=page.newer, size=size, parts=parts)
        assert [r.pk for r in back.rows] == [r.pk for r in newer_page.rows]
