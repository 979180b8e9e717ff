"""The posting book: burn-down order, expiry, debt, idempotency, reversals."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.ledger.book import open_book
from billing.ledger.corrections import adjust_credits, reverse_entry
from billing.ledger.errors import (
    IdempotencyConflict,
    InsufficientCredits,
    LedgerError,
    NotReversible,
)
from billing.models import CreditAccount, CreditGrant, EntryKind, GrantKind, LedgerEntry
from tests.billing.postings import SYSTEM, D, assert_ledger_ok, consume, grant

pytestmark = pytest.mark.django_db


def balance(org):
    return CreditAccount.objects.get(organization=org).balance


def test_grant_then_consume_moves_balance_and_records_allocations(org):
    g = grant(org, 100).grant
    posting = consume(org, "30.25", key="usage:a")
    assert posting.entry.amount == D("-30.25")
    assert posting.entry.balance_after == D("69.75")
    assert balance(org) == D("69.75")
    g.refresh_from_db()
    assert g.remaining == D("69.75")
    drawn = [(a.grant_id, a.amount) for a in posting.entry.allocations.all()]
    assert drawn == [(g.pk, D("-30.25"))]
    assert_ledger_ok(org)


def test_burn_down_order_priority_expiry_kind_created(org):
    now = timezone.now()
    paid = grant(org, 10, kind=GrantKind.PAID, now=now).grant
    no_expiry_promo = grant(org, 10, kind=GrantKind.PROMOTIONAL, now=now).grant
    bonus_later = grant(org, 10, kind=GrantKind.BONUS, expires_at=now + timedelta(days=20),
                        now=now).grant
    adjustment_soon = grant(org, 10, kind=GrantKind.ADJUSTMENT,
                            expires_at=now + timedelta(days=10), now=now).grant
    urgent = grant(org, 10, kind=GrantKind.PAID, priority=1, now=now).grant
    promo_same_expiry = grant(org, 10, kind=GrantKind.PROMOTIONAL,
                              expires_at=now + timedelta(days=10), now=now).grant
    order = []
    for i in range(6):
        entry = consume(org, 10, key=f"usage:{i}", now=now).entry
        order.append(entry.allocations.get().grant_id)
    # priority first; then soonest expiry (no expiry last); then kind; then creation.
    assert order == [urgent.pk, promo_same_expiry.pk, adjustment_soon.pk, bonus_later.pk,
                     no_expiry_promo.pk, paid.pk]
    assert_ledger_ok(org)


def test_consume_expires_due_grants_first_and_never_uses_them(org):
    start = timezone.now()
    expiring = grant(org, 50, expires_at=start + timedelta(days=1), now=start).grant
    grant(org, 20, now=start)
    later = start + timedelta(days=2)
    with pytest.raises(InsufficientCredits):
        consume(org, 30, key="usage:late", now=later)
    # The refused usage rolled back its book, expiry included; expire, then consume.
    posting = consume(org, 15, key="usage:ok", now=later)
    expiring.refresh_from_db()
    assert expiring.expired_at == later
    assert expiring.remaining == 0
    expiry = LedgerEntry.objects.get(kind=EntryKind.EXPIRY)
    assert expiry.amount == D(-50) and expiry.seq < posting.entry.seq
    assert posting.entry.allocations.get().grant_id != expiring.pk
    assert balance(org) == D(5)
    assert_ledger_ok(org)


def test_insufficient_credits_writes_nothing(org):
    grant(org, 10)
    with pytest.raises(InsufficientCredits):
        consume(org, "10.000001", key="usage:big")
    assert LedgerEntry.objects.filter(kind=EntryKind.USAGE).count() == 0
    assert balance(org) == D(10)


def test_book_stays_usable_after_a_refused_consume(org):
    grant(org, 10)
    with open_book(organization=org) as book:
        with pytest.raises(InsufficientCredits):
            book.consume(amount=D(11), actor=SYSTEM, reason="x", idempotency_key="usage:1")
        book.consume(amount=D(4), actor=SYSTEM, reason="x", idempotency_key="usage:2")
    assert balance(org) == D(6)
    assert_ledger_ok(org)


def test_same_key_same_payload_replays_and_other_payload_conflicts(org):
    grant(org, 100)
    first = consume(org, 10, key="usage:k")
    again = consume(org, 10, key="usage:k")
    assert again.replayed and again.entry.pk == first.entry.pk
    with pytest.raises(IdempotencyConflict):
        consume(org, 11, key="usage:k")
    assert LedgerEntry.objects.filter(kind=EntryKind.USAGE).count() == 1
    assert balance(org) == D(90)


def test_negative_adjustment_past_zero_leaves_debt_and_next_grant_repays_first(org):
    grant(org, 40)
    consume(org, 15, key="usage:1")
    adjust_credits(organization=org, credits=D(-45), reason="clawback", actor=SYSTEM)
    assert balance(org) == D(-20)
    assert_ledger_ok(org)
    with pytest.raises(InsufficientCredits, match="debt"):
        consume(org, 1, key="usage:2")
    small = grant(org, 5).grant
    small.refresh_from_db()
    assert (small.remaining, small.debt_repaid, balance(org)) == (0, D(5), D(-15))
    assert_ledger_ok(org)
    big = grant(org, 100).grant
    big.refresh_from_db()
    assert (big.remaining, big.debt_repaid, balance(org)) == (D(85), D(15), D(85))
    consume(org, 85, key="usage:3")
    assert balance(org) == 0
    assert_ledger_ok(org)


def test_reverse_usage_restores_the_grants_it_drew_on(org):
    paid = grant(org, 10, kind=GrantKind.PAID).grant
    promo = grant(org, 10, kind=GrantKind.PROMOTIONAL).grant
    usage = consume(org, 15, key="usage:1").entry
    reversal = reverse_entry(entry=usage, reason="double charge", actor=SYSTEM)
    assert reversal.entry.kind == EntryKind.REVERSAL
    assert reversal.entry.amount == D(15) and reversal.entry.reverses_id == usage.pk
    paid.refresh_from_db()
    promo.refresh_from_db()
    assert (paid.remaining, promo.remaining) == (D(10), D(10))
    again = reverse_entry(entry=usage, reason="clicked twice", actor=SYSTEM)
    assert again.replayed and again.entry.pk == reversal.entry.pk
    assert balance(org) == D(20)
    assert_ledger_ok(org)


def test_reverse_positive_adjustment_takes_from_its_own_grant_then_debt(org):
    mistaken = adjust_credits(organization=org, credits=D(50), reason="typo", actor=SYSTEM)
    consume(org, 40, key="usage:1")
    reverse_entry(entry=mistaken.entry, reason="typo", actor=SYSTEM)
    assert balance(org) == D(-40)
    assert_ledger_ok(org)


def test_reverse_refuses_money_entries_and_reversals(org):
    with open_book(organization=org) as book:
        purchase = book.grant(amount=D(10), grant_kind=GrantKind.PAID,
                              entry_kind=EntryKind.PURCHASE, actor=SYSTEM, reason="p",
                              idempotency_key="checkout:cs_1").entry
    with pytest.raises(NotReversible):
        reverse_entry(entry=purchase, reason="no", actor=SYSTEM)
    usage = consume(org, 1, key="usage:1").entry
    reversal = reverse_entry(entry=usage, reason="r", actor=SYSTEM).entry
    with pytest.raises(NotReversible):
        reverse_entry(entry=reversal, reason="r", actor=SYSTEM)


def test_adjustment_needs_reason_and_valid_amount(org):
    with pytest.raises(LedgerError):
        adjust_credits(organization=org, credits=D(5), reason="  ", actor=SYSTEM)
    for bad in ["0", "abc", "NaN", "1.0000001"]:
        with pytest.raises(ValueError):
            adjust_credits(organization=org, credits=bad, reason="x", actor=SYSTEM)
    with pytest.raises(ValueError):
        adjust_credits(organization=org, credits=1.5, reason="x", actor=SYSTEM)
    assert LedgerEntry.objects.count() == 0


def test_adjustment_request_id_makes_retries_post_once(org):
    a = adjust_credits(organization=org, credits=D(5), reason="x", actor=SYSTEM, request_id="r1")
    b = adjust_credits(organization=org, credits=D(5), reason="x", actor=SYSTEM, request_id="r1")
    assert b.replayed and a.entry.pk == b.entry.pk
    assert balance(org) == D(5)


def test_hash_chain_links_each_entry_to_the_previous(org):
    grant(org, 10)
    consume(org, 1, key="usage:1")
    entries = list(LedgerEntry.objects.filter(account__organization=org).order_by("seq"))
    assert [e.seq for e in entries] == [1, 2]
    assert entries[0].hash != entries[1].hash
    account = CreditAccount.objects.get(organization=org)
    assert account.last_hash == entries[-1].hash and account.entry_count == 2


def test_grants_cannot_expire_in_the_past(org):
    with pytest.raises(LedgerError):
        grant(org, 1, expires_at=timezone.now() - timedelta(seconds=1))
    assert CreditGrant.objects.count() == 0


def test_decimal_amounts_are_exact(org):
    grant(org, "0.3")
    for i in range(3):
        consume(org, "0.1", key=f"usage:{i}")
    assert balance(org) == Decimal("0")
    assert_ledger_ok(org)


def test_a_large_book_is_written_in_posting_order(org):
    # Past the COPY threshold on PostgreSQL; bulk_create elsewhere. Same rows either way.
    grant(org, 1000)
    with open_book(organization=org) as book:
        for i in range(120):
            book.consume(amount=D("0.5"), actor=SYSTEM, reason="batch",
                         idempotency_key=f"usage:b{i}", metadata={"i": i})
    entries = list(LedgerEntry.objects.filter(kind=EntryKind.USAGE).order_by("id"))
    assert [e.seq for e in entries] == list(range(2, 122))
    assert [e.metadata["i"] for e in entries] == list(range(120))
    assert entries[-1].balance_after == D(940)
    assert sum(a.amount for e in entries for a in e.allocations.all()) == D(-60)
    assert_ledger_ok(org)


def test_kind_decides_before_creation_time_for_grants_without_expiry(org):
    start = timezone.now()
    paid = grant(org, 10, kind=GrantKind.PAID, now=start).grant
    promo = grant(org, 10, kind=GrantKind.PROMOTIONAL, now=start + timedelta(seconds=1)).grant
    adjustment = grant(org, 10, now=start + timedelta(seconds=2)).grant
    drawn = [consume(org, 10, key=f"usage:{i}", now=start + timedelta(seconds=3))
             .entry.allocations.get().grant_id for i in range(3)]
    assert drawn == [promo.pk, adjustment.pk, paid.pk]


def test_a_clawback_never_draws_on_credits_past_their_expiry(org):
    start = timezone.now() - timedelta(days=2)
    grant(org, 10, kind=GrantKind.PROMOTIONAL, expires_at=start + timedelta(hours=1), now=start)
    adjust_credits(organization=org, credits=D(-25), reason="chargeback", actor=SYSTEM)
    # The promotional credits expired first (their own entry); the clawback is all debt.
    kinds = list(LedgerEntry.objects.order_by("seq").values_list("kind", "amount"))
    assert kinds[1:] == [(EntryKind.EXPIRY, D(-10)), (EntryKind.ADJUSTMENT, D(-25))]
    assert balance(org) == D(-25)
    assert_ledger_ok(org)


def test_a_reversal_never_refills_a_grant_past_its_expiry(org):
    start = timezone.now() - timedelta(days=2)
    promo = grant(org, 10, kind=GrantKind.PROMOTIONAL, expires_at=start + timedelta(hours=1),
                  now=start).grant
    usage = consume(org, 4, key="usage:1", now=start).entry
    posting = reverse_entry(entry=usage, reason="wrong price", actor=SYSTEM)
    promo.refresh_from_db()
    assert promo.expired_at is not None and promo.remaining == 0
    assert posting.grant is not None and posting.grant.kind == GrantKind.ADJUSTMENT
    assert balance(org) == D(4)
    assert_ledger_ok(org)
