"""Corrections: reversals that give credits back repay a debt first; adjustments' rules."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.ledger.corrections import REVERSIBLE_KINDS, adjust_credits, reverse_entry
from billing.ledger.errors import LedgerError, NotReversible
from billing.ledger.expiry import expire_credits
from billing.models import (
    CreditAccount,
    CreditGrant,
    EntryKind,
    GrantAllocation,
    GrantKind,
    LedgerEntry,
)
from tests.billing.postings import SYSTEM, D, assert_ledger_ok, consume, grant

pytestmark = pytest.mark.django_db


def balance(org):
    return CreditAccount.objects.get(organization=org).balance


def clawback(org, amount):
    return adjust_credits(organization=org, credits=-D(amount), reason="chargeback",
                          actor=SYSTEM).entry


def test_a_reversal_repays_the_debt_before_refilling_grants(org):
    g = grant(org, 10).grant
    usage = consume(org, 10, key="usage:1").entry
    clawback(org, 5)
    assert balance(org) == D(-5)
    posting = reverse_entry(entry=usage, reason="charged twice", actor=SYSTEM)
    assert posting.entry.amount == D(10) and posting.entry.balance_after == D(5)
    g.refresh_from_db()
    assert g.remaining == D(5)  # 10 back: 5 repaid the debt, 5 refilled the grant
    assert list(posting.entry.allocations.values_list("grant_id", "amount")) == [(g.pk, D(5))]
    assert posting.grant is None
    assert_ledger_ok(org)


def test_a_reversal_smaller_than_the_debt_only_repays(org):
    grant(org, 4)
    usage = consume(org, 4, key="usage:1").entry
    clawback(org, 20)
    posting = reverse_entry(entry=usage, reason="wrong price", actor=SYSTEM)
    assert balance(org) == D(-16)
    assert not posting.entry.allocations.exists() and posting.grant is None
    assert not CreditGrant.objects.filter(remaining__gt=0).exists()
    assert_ledger_ok(org)


def test_a_reversal_that_exactly_repays_the_debt_refills_nothing(org):
    grant(org, 4)
    usage = consume(org, 4, key="usage:1").entry
    clawback(org, 4)
    posting = reverse_entry(entry=usage, reason="wrong price", actor=SYSTEM)
    assert balance(org) == 0
    assert not posting.entry.allocations.exists() and posting.grant is None
    assert_ledger_ok(org)


def test_after_a_repaid_debt_usage_can_run_again(org):
    grant(org, 10)
    usage = consume(org, 10, key="usage:1").entry
    clawback(org, 3)
    reverse_entry(entry=usage, reason="refund of usage", actor=SYSTEM)
    assert consume(org, 7, key="usage:2").entry.balance_after == 0
    assert_ledger_ok(org)


def test_a_reversal_refills_each_grant_up_to_what_it_drew(org):
    paid = grant(org, 10, kind=GrantKind.PAID).grant
    promo = grant(org, 5, kind=GrantKind.PROMOTIONAL).grant
    usage = consume(org, 12, key="usage:1").entry  # 5 promo, 7 paid
    consume(org, 3, key="usage:2")  # 3 more paid
    posting = reverse_entry(entry=usage, reason="x", actor=SYSTEM)
    paid.refresh_from_db()
    promo.refresh_from_db()
    assert (promo.remaining, paid.remaining) == (D(5), D(7))
    refills = dict(posting.entry.allocations.values_list("grant_id", "amount"))
    assert refills == {promo.pk: D(5), paid.pk: D(7)}
    assert_ledger_ok(org)


def test_what_cannot_refill_an_expired_grant_becomes_a_new_adjustment_grant(org):
    start = timezone.now() - timedelta(days=2)
    promo = grant(org, 6, kind=GrantKind.PROMOTIONAL, expires_at=start + timedelta(hours=1),
                  now=start).grant
    lasting = grant(org, 4, now=start).grant
    usage = consume(org, 8, key="usage:1", now=start).entry  # 6 promo, 2 lasting
    posting = reverse_entry(entry=usage, reason="x", actor=SYSTEM)
    lasting.refresh_from_db()
    assert lasting.remaining == D(4)
    new = posting.grant
    assert (new.kind, new.amount, new.remaining, new.expires_at) == (
        GrantKind.ADJUSTMENT, D(6), D(6), None)
    assert CreditGrant.objects.get(pk=promo.pk).expired_at is not None
    assert balance(org) == D(10)
    assert_ledger_ok(org)


def test_reversing_an_expiry_gives_the_credits_back_in_a_new_grant(org):
    start = timezone.now() - timedelta(days=2)
    grant(org, 6, expires_at=start + timedelta(hours=1), now=start)
    assert expire_credits(organization=org) == 1
    adjust_credits(organization=org, credits=D(1), reason="x", actor=SYSTEM)
    expiry = LedgerEntry.objects.get(kind=EntryKind.EXPIRY)
    posting = reverse_entry(entry=expiry, reason="expired by mistake", actor=SYSTEM)
    assert posting.entry.amount == D(6) and posting.grant.amount == D(6)
    assert balance(org) == D(7)
    assert_ledger_ok(org)


def test_reversing_a_negative_adjustment_in_debt_repays_it(org):
    grant(org, 2)
    taken = clawback(org, 5)
    reverse_entry(entry=taken, reason="chargeback won", actor=SYSTEM)
    assert balance(org) == D(2)
    assert_ledger_ok(org)


def test_a_reversal_is_linked_keyed_and_says_why(org):
    grant(org, 5)
    usage = consume(org, 2, key="usage:1").entry
    entry = reverse_entry(entry=usage, reason="  double charge ", actor=SYSTEM).entry
    assert entry.reverses_id == usage.pk and entry.kind == EntryKind.REVERSAL
    assert entry.idempotency_key == f"reversal:{usage.pk}"
    assert entry.reason == "double charge"
    assert entry.metadata == {"reverses_entry": usage.pk}
    assert entry.actor_label == SYSTEM.label


def test_reversing_a_positive_adjustment_takes_from_its_own_grant_first(org):
    other = grant(org, 10, kind=GrantKind.PROMOTIONAL).grant  # burns first normally
    mistaken = adjust_credits(organization=org, credits=D(4), reason="typo", actor=SYSTEM)
    posting = reverse_entry(entry=mistaken.entry, reason="typo", actor=SYSTEM)
    assert list(posting.entry.allocations.values_list("grant_id", "amount")) == [
        (mistaken.grant.pk, D(-4))]
    other.refresh_from_db()
    assert other.remaining == D(10)
    assert posting.entry.amount == D(-4) and posting.entry.kind == EntryKind.REVERSAL
    assert posting.entry.reverses_id == mistaken.entry.pk
    assert posting.entry.metadata == {"reverses_entry": mistaken.entry.pk}
    assert_ledger_ok(org)


def test_a_reversal_needs_a_reason_and_writes_nothing_without(org):
    grant(org, 5)
    usage = consume(org, 2, key="usage:1").entry
    for reason in ["", "   ", None]:
        with pytest.raises(LedgerError, match="needs a reason"):
            reverse_entry(entry=usage, reason=reason, actor=SYSTEM)
    assert LedgerEntry.objects.count() == 2


def test_only_usage_adjustments_and_expiries_are_reversible():
    assert REVERSIBLE_KINDS == {EntryKind.USAGE, EntryKind.ADJUSTMENT, EntryKind.EXPIRY}


@pytest.mark.parametrize("kind", [EntryKind.PURCHASE, EntryKind.BONUS, EntryKind.TOPUP,
                                  EntryKind.REFUND])
def test_money_entries_are_not_reversed(org, kind):
    from billing.ledger.book import open_book
    with open_book(organization=org) as book:
        entry = book.grant(amount=D(5), grant_kind=GrantKind.PAID, entry_kind=kind,
                           actor=SYSTEM, reason="money", idempotency_key="m:1").entry
    with pytest.raises(NotReversible, match="use a refund or an adjustment"):
        reverse_entry(entry=entry, reason="no", actor=SYSTEM)


# -- adjustments ---------------------------------------------------------------------------

def test_a_positive_adjustment_is_a_grant_of_its_kind_with_its_expiry(org):
    expires_at = timezone.now() + timedelta(days=7)
    posting = adjust_credits(organization=org, credits="2.5", reason=" welcome ",
                             actor=SYSTEM, grant_kind=GrantKind.PROMOTIONAL,
                             expires_at=expires_at, request_id="r1")
    g = posting.grant
    assert (g.kind, g.amount, g.remaining, g.expires_at) == (
        GrantKind.PROMOTIONAL, D("2.5"), D("2.5"), expires_at)
    entry = posting.entry
    assert (entry.kind, entry.amount, entry.reason, entry.idempotency_key) == (
        EntryKind.ADJUSTMENT, D("2.5"), "welcome", "adjust:r1")


def test_a_negative_adjustment_takes_back_into_debt(org):
    grant(org, 3)
    posting = adjust_credits(organization=org, credits="-5", reason="x", actor=SYSTEM)
    assert (posting.entry.kind, posting.entry.amount, posting.grant) == (
        EntryKind.ADJUSTMENT, D(-5), None)
    assert balance(org) == D(-2)
    assert GrantAllocation.objects.filter(entry=posting.entry).get().amount == D(-3)


@pytest.mark.parametrize("extra", [
    {"grant_kind": GrantKind.PROMOTIONAL},
    {"expires_at": timezone.now() + timedelta(days=1)},
])
def test_a_negative_adjustment_takes_no_kind_or_expiry(org, extra):
    grant(org, 3)
    with pytest.raises(LedgerError, match="positive adjustments only"):
        adjust_credits(organization=org, credits="-1", reason="x", actor=SYSTEM, **extra)
    assert balance(org) == D(3)


def test_adjustments_without_request_id_are_each_posted(org):
    a = adjust_credits(organization=org, credits=1, reason="x", actor=SYSTEM)
    b = adjust_credits(organization=org, credits=1, reason="x", actor=SYSTEM)
    assert a.entry.idempotency_key != b.entry.idempotency_key
    assert a.entry.idempotency_key.startswith("adjust:")
    assert balance(org) == D(2)


def test_reversing_a_small_positive_adjustment_takes_it_back_at_the_given_time(org):
    when = timezone.now() - timedelta(hours=3)
    small = adjust_credits(organization=org, credits="0.5", reason="typo", actor=SYSTEM)
    posting = reverse_entry(entry=small.entry, reason="typo", actor=SYSTEM, now=when)
    assert posting.entry.amount == D("-0.5") and posting.entry.created_at == when
    assert balance(org) == 0
    assert_ledger_ok(org)


# -- what staff read when a correction is refused --------------------------------------------

@pytest.mark.parametrize("reason, message", [
    ("", "an adjustment needs a reason"),
    ("bad\x00byte", "the reason must not contain NUL characters"),
    ("x" * 1001, "the reason must be at most 1000 characters"),
])
def test_an_adjustment_refused_for_its_reason_says_why(org, reason, message):
    with pytest.raises(LedgerError) as caught:
        adjust_credits(organization=org, credits=1, reason=reason, actor=SYSTEM)
    assert str(caught.value) == message
    assert not LedgerEntry.objects.exists()


def test_a_reason_of_the_longest_length_is_kept_whole(org):
    posting = adjust_credits(organization=org, credits=1, reason="x" * 1000, actor=SYSTEM)
    assert posting.entry.reason == "x" * 1000


def test_refused_reversals_and_negative_adjustments_say_why(org):
    grant(org, 5)
    usage = consume(org, 2, key="usage:1").entry
    with pytest.raises(LedgerError) as caught:
        reverse_entry(entry=usage, reason=" ", actor=SYSTEM)
    assert str(caught.value) == "a reversal needs a reason"
    with pytest.raises(LedgerError) as caught:
        adjust_credits(organization=org, credits="-1", reason="x", actor=SYSTEM,
                       grant_kind=GrantKind.PROMOTIONAL)
    assert str(caught.value) == "expiry and grant kind apply to positive adjustments only"
    with pytest.raises(NotReversible) as caught:
        reverse_entry(entry=_money_entry(org, EntryKind.REFUND), reason="no", actor=SYSTEM)
    assert str(caught.value) == ("Refund entries are not reversed: use a refund or an "
                                 "adjustment with a reason")
    assert LedgerEntry.objects.count() == 3


def test_reversing_twice_answers_with_the_first_reversal(org):
    grant(org, 5)
    usage = consume(org, 2, key="usage:1").entry
    first = reverse_entry(entry=usage, reason="double charge", actor=SYSTEM)
    again = reverse_entry(entry=usage, reason="another reason", actor=SYSTEM)
    assert not first.replayed and again.replayed
    assert again.entry == first.entry and again.entry.reason == "double charge"
    assert balance(org) == D(5) and LedgerEntry.objects.count() == 3


def _money_entry(org, kind):
    from billing.ledger.book import open_book

    with open_book(organization=org) as book:
        return book.grant(amount=D(1), grant_kind=GrantKind.PAID, entry_kind=kind,
                          actor=SYSTEM, reason="money", idempotency_key=f"m:{kind}").entry


def test_a_reversal_is_fingerprinted_by_the_entry_it_reverses_alone(org):
    """A retried reversal may carry another reason, actor or time: its fingerprint (stored,
    and compared if the key is ever looked up past) depends on the reversed entry only."""
    from billing.ledger.chain import fingerprint_of

    grant(org, 5)
    usage = consume(org, 2, key="usage:1").entry
    added = adjust_credits(organization=org, credits=1, reason="typo", actor=SYSTEM).entry
    for entry in (usage, added):  # a restore and a take-back
        reversal = reverse_entry(entry=entry, reason="why", actor=SYSTEM).entry
        assert reversal.fingerprint == fingerprint_of("reverse", entry.pk)


def test_a_positive_adjustment_of_less_than_a_credit_may_carry_a_kind_and_expiry(org):
    expires_at = timezone.now() + timedelta(days=1)
    posting = adjust_credits(organization=org, credits="0.5", reason="goodwill", actor=SYSTEM,
                             grant_kind=GrantKind.PROMOTIONAL, expires_at=expires_at)
    assert (posting.grant.kind, posting.grant.amount, posting.grant.expires_at) == (
        GrantKind.PROMOTIONAL, D("0.5"), expires_at)


def test_an_adjustment_is_posted_at_the_given_time(org):
    when = timezone.now() - timedelta(hours=2)
    for credits in ("2", "-1"):
        entry = adjust_credits(organization=org, credits=credits, reason="x", actor=SYSTEM,
                               now=when).entry
        assert entry.created_at == when


def test_reversing_a_small_adjustment_takes_from_its_own_grant_first(org):
    other = grant(org, 10, kind=GrantKind.PROMOTIONAL).grant  # burns first normally
    small = adjust_credits(organization=org, credits="0.5", reason="typo", actor=SYSTEM)
    reverse_entry(entry=small.entry, reason="typo", actor=SYSTEM)
    other.refresh_from_db()
    small.grant.refresh_from_db()
    assert (other.remaining, small.grant.remaining) == (D(10), 0)


def test_reversing_a_usage_charge_puts_back_all_its_events(org):
    from billing.models import UsageEvent
    from billing.usage.ingestion.record import record_usage
    from tests.billing.usage_fixtures import (
        AI_CREDITS,
        GPU_CREDITS,
        ai_event,
        gpu_event,
        seed_prices,
    )

    seed_prices()
    grant(org, 100)
    record_usage(organization=org, events=[ai_event("a"), gpu_event("b"), ai_event("c")])
    charge = LedgerEntry.objects.get(account__organization=org, kind=EntryKind.USAGE)
    reversal = reverse_entry(entry=charge, reason="bad batch", actor=SYSTEM).entry
    assert reversal.amount == 2 * AI_CREDITS + GPU_CREDITS == -charge.amount
    assert balance(org) == 100
    assert UsageEvent.objects.filter(entry=charge).count() == 3  # the evidence stays
    assert_ledger_ok(org)
