"""verify_ledger: each invariant it re-checks, broken in turn behind the application's back.

Entries are changed with SQL (tests/billing/ledger/test_chain.py's `forge`); grants and
accounts are ordinary rows. Each test names the invariant and the message it expects.
"""

from decimal import Decimal

import pytest

from billing.ledger.book import open_book
from billing.ledger.verify import Problem, Report, verify_ledger
from billing.models import CreditAccount, CreditGrant, EntryKind, GrantKind, LedgerEntry
from tests.billing.ledger.test_chain import forge
from tests.billing.postings import SYSTEM, D, consume, grant

pytestmark = pytest.mark.django_db


def problems(org=None):
    return [(p.invariant, p.message) for p in verify_ledger(organization=org).problems]


@pytest.fixture
def ledger(org):
    g = grant(org, 10).grant
    consume(org, 3, key="usage:1")
    consume(org, 2, key="usage:2")
    entries = list(LedgerEntry.objects.filter(account__organization=org).order_by("seq"))
    return g, entries


def test_a_sound_ledger_is_ok_and_counted(org, other_org, ledger):
    grant(other_org, 4)
    report = verify_ledger()
    assert report.ok and report.problems == []
    assert (report.accounts, report.entries) == (2, 4)
    only = verify_ledger(organization=other_org)
    assert (only.accounts, only.entries, only.ok) == (1, 1, True)


def test_report_is_not_ok_with_any_problem():
    assert Report().ok
    assert not Report(problems=[Problem("acme", "1", "x")]).ok


def test_problem_reads_with_and_without_an_entry():
    assert str(Problem("acme", "7", "altered", 12)) == "[acme] invariant 7 (entry #12): altered"
    assert str(Problem("acme", "1", "off")) == "[acme] invariant 1: off"


def test_only_the_named_org_is_checked(org, other_org, ledger):
    grant(other_org, 4)
    CreditAccount.objects.filter(organization=other_org).update(balance=D(5))
    assert verify_ledger(organization=org).ok
    assert not verify_ledger(organization=other_org).ok
    assert {p.organization for p in verify_ledger().problems} == {other_org.slug}


def test_a_gap_in_seq_is_invariant_2(org, ledger):
    _, entries = ledger
    forge(entries[2].pk, seq=5)
    found = verify_ledger(organization=org).problems
    assert ("2", "seq 5, expected 3") in [(p.invariant, p.message) for p in found]
    assert [p.entry_id for p in found if p.invariant == "2"] == [entries[2].pk]
    # the next seq is expected after the one found, so one gap is one problem
    assert sum(p.invariant == "2" for p in found) == 1


def test_id_order_against_seq_order_is_invariant_2(org, ledger):
    _, entries = ledger
    forge(entries[1].pk, seq=9)
    forge(entries[2].pk, seq=2)
    forge(entries[1].pk, seq=3)
    found = [(p.invariant, p.message, p.entry_id) for p in verify_ledger(organization=org).problems]
    assert ("2", "id order differs from posting order", entries[1].pk) in found


def test_a_wrong_balance_after_is_invariant_2(org, ledger):
    _, entries = ledger
    forge(entries[1].pk, balance_after=D("7.5"))
    found = [(p.invariant, p.message, p.entry_id)
             for p in verify_ledger(organization=org).problems if p.invariant == "2"]
    # the running sum goes on from the stored balance, so the next entry disagrees too
    assert found == [
        ("2", "balance_after 7.500000 but running sum is 7.000000", entries[1].pk),
        ("2", "balance_after 5.000000 but running sum is 5.500000", entries[2].pk),
    ]


def test_other_entries_below_zero_are_not_invariant_3(org, ledger):
    consume(org, 5, key="usage:3")
    from billing.ledger.corrections import adjust_credits
    adjust_credits(organization=org, credits=D(-4), reason="clawback", actor=SYSTEM)
    found = verify_ledger(organization=org)
    assert found.ok, [str(p) for p in found.problems]


def test_usage_reaching_exactly_zero_is_fine(org, ledger):
    consume(org, 5, key="usage:3")
    assert verify_ledger(organization=org).ok


def purchase_entries(org, *, paid, bonus=None, refunds=()):
    with open_book(organization=org) as book:
        book.grant(amount=D(paid), grant_kind=GrantKind.PAID, entry_kind=EntryKind.PURCHASE,
                   actor=SYSTEM, reason="p", idempotency_key="checkout:1",
                   metadata={"purchase_id": 41})
        if bonus:
            book.grant(amount=D(bonus), grant_kind=GrantKind.BONUS, entry_kind=EntryKind.BONUS,
                       actor=SYSTEM, reason="b", idempotency_key="checkout:1:bonus",
                       metadata={"purchase_id": 41})
        for i, amount in enumerate(refunds):
            book.take_back(amount=D(amount), entry_kind=EntryKind.REFUND, actor=SYSTEM,
                           reason="r", idempotency_key=f"refund:{i}",
                           metadata={"purchase_id": 41})
        # another purchase's refund never counts against this one
        book.grant(amount=D(1), grant_kind=GrantKind.PAID, entry_kind=EntryKind.ADJUSTMENT,
                   actor=SYSTEM, reason="not a purchase", idempotency_key="adjust:1",
                   metadata={"purchase_id": 41})


def test_refunds_up_to_the_purchase_and_its_bonus_are_fine(org):
    purchase_entries(org, paid=10, bonus=5, refunds=["7", "8"])
    assert verify_ledger(organization=org).ok


def test_refunds_past_the_purchase_and_its_bonus_are_invariant_6(org):
    purchase_entries(org, paid=10, bonus=5, refunds=["7", "8.000001"])
    assert problems(org) == [("6", "purchase 41: refunded 15.000001 of 15.000000")]


def test_refunds_past_a_purchase_without_bonus_are_invariant_6(org):
    purchase_entries(org, paid=10, refunds=["10.000001"])
    assert problems(org) == [("6", "purchase 41: refunded 10.000001 of 10.000000")]


def test_a_balance_that_differs_from_the_entries_is_invariant_1(org, ledger):
    CreditAccount.objects.filter(organization=org).update(balance=D(6))
    assert ("1", "account balance 6.000000 but entries sum to 5.000000") in problems(org)


@pytest.mark.parametrize("change", [{"last_hash": "0" * 64}, {"entry_count": 4}])
def test_an_account_head_that_differs_from_the_last_entry_is_invariant_7(org, ledger, change):
    CreditAccount.objects.filter(organization=org).update(**change)
    assert problems(org) == [("7", "account chain head does not match last entry")]


def test_live_grants_that_do_not_hold_the_balance_are_invariant_1(org, ledger):
    g, _ = ledger
    CreditGrant.objects.filter(pk=g.pk).update(remaining=D(6))
    assert ("1", "balance 5.000000 but live grants hold 6.000000") in problems(org)


def test_an_expired_grant_does_not_hold_the_balance(org, ledger):
    g, _ = ledger
    other = grant(org, 2).grant
    CreditGrant.objects.filter(pk=other.pk).update(expired_at=other.created_at)
    assert ("1", "balance 7.000000 but live grants hold 5.000000") in problems(org)


def test_in_debt_live_grants_must_hold_nothing(org, ledger):
    from billing.ledger.corrections import adjust_credits
    adjust_credits(organization=org, credits=D(-8), reason="clawback", actor=SYSTEM)
    assert verify_ledger(organization=org).ok
    g, _ = ledger
    CreditGrant.objects.filter(pk=g.pk).update(remaining=D(1), amount=D(10))
    assert ("1", "in debt but live grants still hold 1.000000") in problems(org)


def test_allocations_that_do_not_sum_to_remaining_are_invariant_1(org, ledger):
    g, _ = ledger
    second = grant(org, 3).grant
    CreditGrant.objects.filter(pk=g.pk).update(remaining=D(2))
    CreditGrant.objects.filter(pk=second.pk).update(remaining=D(1))
    found = problems(org)
    assert ("1", f"grant {g.pk} remaining 2.000000 but its allocations sum to 5.000000") in found
    assert ("1", f"grant {second.pk} remaining 1.000000 but its allocations sum to "
                 "3.000000") in found


def test_a_grant_without_allocations_sums_to_zero(org):
    account = CreditAccount.objects.get(organization=org)
    orphan = CreditGrant.objects.create(account=account, kind=GrantKind.PAID, amount=D(3),
                                        remaining=D(0))
    assert verify_ledger(organization=org).ok
    CreditGrant.objects.filter(pk=orphan.pk).update(remaining=D(1))
    assert (f"grant {orphan.pk} remaining 1.000000 but its allocations sum to 0"
            in [m for _, m in problems(org)])


def test_exact_sums_on_every_backend(org):
    for i in range(10):
        grant(org, "0.1", key=f"test:tenth:{i}")
    assert CreditAccount.objects.get(organization=org).balance == Decimal(1)
    assert verify_ledger(organization=org).ok


# -- each problem as an operator reads it: the organisation, the invariant, the entry --------

def test_problems_read_in_full_with_their_organisation(org, ledger):
    _, entries = ledger
    forge(entries[1].pk, reason="forged")  # a hashed column: the hash no longer matches
    forge(entries[2].pk, balance_after=D("4.5"))
    CreditAccount.objects.filter(organization=org).update(entry_count=4)
    assert [str(p) for p in verify_ledger(organization=org).problems] == [
        f"[acme] invariant 7 (entry #{entries[1].pk}): hash does not match its contents, "
        "allocations and predecessor: altered",
        f"[acme] invariant 2 (entry #{entries[2].pk}): balance_after 4.500000 but running "
        "sum is 5.000000",
        "[acme] invariant 7: account chain head does not match last entry",
    ]


def test_a_balance_under_one_credit_must_be_held_by_the_live_grants(org):
    g = grant(org, "0.5").grant
    assert verify_ledger(organization=org).ok
    CreditGrant.objects.filter(pk=g.pk).update(remaining=D("0.6"), amount=D("0.6"))
    assert ("1", "balance 0.500000 but live grants hold 0.600000") in problems(org)


def test_a_digest_that_fails_its_signature_or_a_history_it_no_longer_matches(org, ledger):
    from datetime import date

    from billing.ledger.digests import content, record_digest, sign
    from billing.models import LedgerDigest

    digest, _ = record_digest()
    CreditAccount.objects.filter(organization=org).update(entry_count=2)  # cut off, it seems
    found = [str(p) for p in verify_ledger(digest=digest).problems]
    assert (f"[acme] invariant 7: the digest of {digest.day} saw 3 entries, the account now "
            "counts 2: entries were removed") in found
    CreditAccount.objects.filter(organization=org).update(entry_count=3)
    day = date(2026, 1, 1)
    altered = LedgerDigest.objects.create(day=day, heads={}, key_id=digest.key_id,
                                          signature=sign(content(day, {"1": [1, "x"]}),
                                                         key_id=digest.key_id))
    assert [str(p) for p in verify_ledger(digest=altered).problems] == [
        "[*] invariant 7: digest of 2026-01-01 does not match its signature: altered"]
    unknown = LedgerDigest.objects.create(day=date(2026, 1, 2), heads={}, key_id="gone",
                                          signature="0" * 64)
    assert [str(p) for p in verify_ledger(digest=unknown).problems] == [
        "[*] invariant 7: digest of 2026-01-02 is signed with an unknown key 'gone'"]
