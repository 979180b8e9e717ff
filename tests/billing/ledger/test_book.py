"""The posting book: burn-down order, expiry, debt, idempotency, reversals."""

from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.ledger.actor import Actor
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
from tests.billing.usage_fixtures import api_key_for

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


# -- edges found by mutation testing (docs/testing.md) ----------------------------------------

def test_at_a_zero_balance_usage_is_refused_for_credits_not_debt(org):
    grant(org, "0.5")
    consume(org, "0.5", key="usage:all")
    with pytest.raises(InsufficientCredits, match=r"^1\.00 credits needed, 0\.00 available$"):
        consume(org, 1, key="usage:more")
    with pytest.raises(InsufficientCredits, match=r"^0\.75 credits needed, 0\.00 available$"):
        consume(org, "0.75", key="usage:less")


def test_a_grant_expiring_exactly_now_is_expired_first(org):
    start = timezone.now()
    due = grant(org, 5, expires_at=start + timedelta(hours=1), now=start).grant
    grant(org, 5, now=start)
    with pytest.raises(InsufficientCredits):
        consume(org, 6, key="usage:1", now=start + timedelta(hours=1))
    consume(org, 5, key="usage:2", now=start + timedelta(hours=1))
    due.refresh_from_db()
    assert due.expired_at == start + timedelta(hours=1)


def test_expiry_looks_past_lasting_grants_that_burn_first(org):
    start = timezone.now()
    grant(org, 5, priority=1, now=start)  # burns first, never expires
    expiring = grant(org, "0.5", expires_at=start + timedelta(hours=1), now=start).grant
    used_up = grant(org, 2, kind=GrantKind.PROMOTIONAL, priority=0,
                    expires_at=start + timedelta(hours=1), now=start).grant
    consume(org, 2, key="usage:1", now=start)  # empties used_up
    later = start + timedelta(hours=2)
    consume(org, 1, key="usage:2", now=later)
    [expiry] = LedgerEntry.objects.filter(kind=EntryKind.EXPIRY)
    assert (expiry.amount, expiry.idempotency_key) == (D("-0.5"), f"expiry:{expiring.pk}")
    assert expiry.reason == "Adjustment credits expired"
    assert expiry.metadata == {"grant_id": expiring.pk}
    assert expiry.actor_label == "system:expire_credits" and expiry.created_at == later
    used_up.refresh_from_db()
    assert used_up.expired_at == later and used_up.remaining == 0  # expired, no entry
    # an expired grant keeps the time it expired at
    consume(org, 1, key="usage:3", now=later + timedelta(hours=1))
    used_up.refresh_from_db()
    assert used_up.expired_at == later
    assert_ledger_ok(org)


def test_one_book_can_grant_restore_and_then_spend_it(org):
    now = timezone.now() - timedelta(hours=1)
    with open_book(organization=org, now=now) as book:
        book.grant(amount=D(3), grant_kind=GrantKind.PAID, entry_kind=EntryKind.PURCHASE,
                   actor=SYSTEM, reason="p", idempotency_key="g:1")
        book.consume(amount=D(2), actor=SYSTEM, reason="u", idempotency_key="usage:1")
        restored = book.restore(amount=D("0.5"), actor=SYSTEM, reason="r",
                                idempotency_key="r:1", to_grants=[])
        book.consume(amount=D("1.5"), actor=SYSTEM, reason="u", idempotency_key="usage:2")
    assert restored.grant.created_at == now and restored.grant.amount == D("0.5")
    assert book.account.entry_count == 4 and book.account.balance == 0
    account = CreditAccount.objects.get(organization=org)
    assert (account.balance, account.entry_count, account.updated_at) == (0, 4, now)
    assert_ledger_ok(org)


def test_small_reversals_refill_the_grant_they_drew_on(org):
    g = grant(org, 1).grant
    usage = consume(org, "0.4", key="usage:1").entry
    posting = reverse_entry(entry=usage, reason="x", actor=SYSTEM)
    assert posting.grant is None
    g.refresh_from_db()
    assert g.remaining == D(1)


def test_a_consumption_spanning_many_grants_writes_them_all(org):
    grants = [grant(org, 1, key=f"test:g{i}").grant for i in range(5)]
    consume(org, "4.5", key="usage:1")
    remaining = [CreditGrant.objects.get(pk=g.pk).remaining for g in grants]
    assert sorted(remaining) == [0, 0, 0, 0, D("0.5")]
    assert_ledger_ok(org)


def test_many_grants_expiring_together_are_all_written(org):
    start = timezone.now()
    grants = [grant(org, 1, key=f"test:g{i}", expires_at=start + timedelta(hours=1),
                    now=start).grant for i in range(5)]
    consume(org, 1, key="usage:1", now=start)  # one is used up: expires without an entry
    grant(org, 1, now=start)
    consume(org, 1, key="usage:2", now=start + timedelta(hours=2))
    assert all(CreditGrant.objects.get(pk=g.pk).expired_at == start + timedelta(hours=2)
               for g in grants)
    assert LedgerEntry.objects.filter(kind=EntryKind.EXPIRY).count() == 4
    assert_ledger_ok(org)


def test_a_long_actor_label_is_cut_to_the_column(org):
    from billing.ledger.actor import Actor
    with open_book(organization=org) as book:
        entry = book.grant(amount=D(1), grant_kind=GrantKind.PAID, entry_kind=EntryKind.PURCHASE,
                           actor=Actor.system("x" * 300), reason="p",
                           idempotency_key="g:1").entry
    assert len(entry.actor_label) == 254
    assert LedgerEntry.objects.get().actor_label == entry.actor_label


def test_an_org_without_an_account_gets_one_at_its_first_posting(org):
    CreditAccount.objects.filter(organization=org).delete()
    assert grant(org, 2).entry.balance_after == D(2)
    assert CreditAccount.objects.get(organization=org).balance == D(2)


def test_prefetched_keys_replay_and_absent_ones_are_not_looked_up_again(org):
    grant(org, 10)
    first = consume(org, 2, key="usage:1").entry
    with open_book(organization=org) as book:
        book.prefetch_keys(["usage:1", "usage:2"])
        assert book._keys == {"usage:1": first} and book._absent == {"usage:2"}
        again = book.consume(amount=D(2), actor=SYSTEM, reason="u", idempotency_key="usage:1")
        new = book.consume(amount=D(3), actor=SYSTEM, reason="u", idempotency_key="usage:2")
    assert again.replayed and again.entry.pk == first.pk and not new.replayed
    assert balance(org) == D(5)


def test_a_grant_records_its_links_and_the_debt_it_repaid(org):
    start = timezone.now() - timedelta(hours=1)
    adjust_credits(organization=org, credits=D(-2), reason="x", actor=SYSTEM)
    with open_book(organization=org, now=start) as book:
        paid = book.grant(amount=D(5), grant_kind=GrantKind.PAID, entry_kind=EntryKind.PURCHASE,
                          actor=SYSTEM, reason="p", idempotency_key="g:1",
                          expires_at=start + timedelta(days=9), priority=7,
                          metadata={"purchase_id": 3})
        bonus = book.grant(amount=D(1), grant_kind=GrantKind.BONUS, entry_kind=EntryKind.BONUS,
                           actor=SYSTEM, reason="b", idempotency_key="g:2", parent=paid.grant)
    stored = CreditGrant.objects.get(pk=paid.grant.pk)
    assert (stored.amount, stored.remaining, stored.debt_repaid, stored.priority) == (
        D(5), D(3), D(2), 7)
    assert stored.expires_at == start + timedelta(days=9) and stored.created_at == start
    assert paid.entry.metadata == {"purchase_id": 3, "grant_id": stored.pk, "grant_terms": {
        "amount": "5.000000", "kind": "paid", "priority": 7,
        "expires_at": (start + timedelta(days=9)).astimezone(UTC).isoformat(
            timespec="microseconds")}}
    assert CreditGrant.objects.get(pk=bonus.grant.pk).parent_id == stored.pk
    assert paid.entry.created_at == start and paid.entry.reason == "p"


def test_unknown_grant_kinds_are_refused(org):
    with open_book(organization=org) as book:
        with pytest.raises(LedgerError, match="unknown grant kind 'gift'"):
            book.grant(amount=D(1), grant_kind="gift", entry_kind=EntryKind.ADJUSTMENT,
                       actor=SYSTEM, reason="x", idempotency_key="g:1")
    assert not CreditGrant.objects.exists()


def test_prefetched_keys_are_the_accounts_own(org, other_org):
    grant(org, 10)
    grant(other_org, 10)
    consume(org, 2, key="usage:shared")
    with open_book(organization=other_org) as book:
        book.prefetch_keys(["usage:shared"])
        assert book._keys == {} and book._absent == {"usage:shared"}
        posting = book.consume(amount=D(3), actor=SYSTEM, reason="u",
                               idempotency_key="usage:shared")
    assert not posting.replayed and balance(other_org) == D(7)


def test_an_entry_names_the_api_key_that_posted_it(org):
    key = api_key_for(org).api_key
    grant(org, 10)
    with open_book(organization=org) as book:
        book.consume(amount=D(1), actor=Actor.api_key(key), reason="test usage",
                     idempotency_key="usage:by-key")
    entry = LedgerEntry.objects.get(idempotency_key="usage:by-key")
    assert entry.actor_api_key_id == key.pk
    assert entry.actor_user_id is None


def test_a_grant_expiring_at_this_very_moment_is_refused_with_the_reason(org):
    now = timezone.now()
    with pytest.raises(LedgerError, match="^a grant cannot expire in the past$"):
        with open_book(organization=org, now=now) as book:
            book.grant(amount=D(1), grant_kind=GrantKind.ADJUSTMENT,
                       entry_kind=EntryKind.ADJUSTMENT, actor=SYSTEM, reason="test",
                       idempotency_key="grant:now", expires_at=now)
    assert CreditGrant.objects.count() == 0


def test_a_balance_past_the_column_is_refused_with_its_limit(org):
    grant(org, "99999999999999")
    with pytest.raises(LedgerError, match=r"^the balance would pass 100,000,000,000,000\.00 "):
        grant(org, 1)
    assert CreditAccount.objects.get(organization=org).balance == D("99999999999999")


def test_entries_after_a_reversal_keep_their_own_actor_and_reverse_nothing(org):
    """A book reuses what it worked out for an actor's entries; a reversal's link to the
    entry it reverses, and another actor's ids, must not leak into later entries."""
    grant(org, "10", key="test:start")
    used = consume(org, "2", key="use:1").entry
    api_key = api_key_for(org).api_key
    with open_book(organization=org) as book:
        book.consume(amount=D("1"), actor=SYSTEM, reason="use", idempotency_key="use:2")
        book.restore(amount=D("2"), actor=SYSTEM, reason="back", idempotency_key="back:1",
                     to_grants=[], reverses=used)
        book.consume(amount=D("1"), actor=SYSTEM, reason="use", idempotency_key="use:3")
        book.consume(amount=D("1"), actor=Actor.api_key(api_key), reason="use",
                     idempotency_key="use:4")
        book.consume(amount=D("1"), actor=SYSTEM, reason="use", idempotency_key="use:5")
    entries = {e.idempotency_key: e for e in LedgerEntry.objects.filter(account__organization=org)}
    assert entries["back:1"].reverses_id == used.pk
    assert [entries[k].reverses_id for k in ("use:2", "use:3", "use:4", "use:5")] == [None] * 4
    assert entries["use:4"].actor_api_key_id == api_key.pk
    assert entries["use:5"].actor_api_key_id is None and entries["use:3"].actor_api_key_id is None
    assert_ledger_ok(org)
