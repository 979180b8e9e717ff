"""Idempotency fingerprints of postings: a retry replays, any other request under the key
is a conflict that writes nothing.

Each field of each posting's request is changed in turn, alone: grants (purchases,
bonuses and positive adjustments), consumption, take-backs (refunds and negative
adjustments) and restores (reversals).
"""

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from billing.ledger.book import open_book
from billing.ledger.chain import fingerprint_of
from billing.ledger.corrections import adjust_credits
from billing.ledger.errors import IdempotencyConflict
from billing.models import CreditAccount, EntryKind, GrantKind, LedgerEntry
from tests.billing.postings import SYSTEM, D, consume, grant

pytestmark = pytest.mark.django_db

NOW = timezone.now()
LATER = NOW + timedelta(days=30)


def ledger_state(org):
    account = CreditAccount.objects.get(organization=org)
    return (account.balance, account.entry_count, account.last_hash,
            LedgerEntry.objects.filter(account=account).count())


def post(org, method, key="test:key", **kwargs):
    with open_book(organization=org, now=NOW) as book:
        return getattr(book, method)(actor=SYSTEM, reason="fingerprint test",
                                     idempotency_key=key, **kwargs)


def assert_replay_then_conflicts(org, method, request, changes):
    """`request` posted twice is one posting; each change of one field is a conflict."""
    first = post(org, method, **request)
    again = post(org, method, **request)
    assert again.replayed and again.entry.pk == first.entry.pk
    before = ledger_state(org)
    for field, value in changes.items():
        with pytest.raises(IdempotencyConflict, match="different request"):
            post(org, method, **{**request, field: value})
        assert ledger_state(org) == before, field


GRANT = {"amount": D(10), "grant_kind": GrantKind.PAID, "entry_kind": EntryKind.PURCHASE,
         "expires_at": LATER, "priority": 100}


@pytest.mark.parametrize(("field", "value"), [
    ("amount", D("10.000001")),
    ("grant_kind", GrantKind.BONUS),
    ("entry_kind", EntryKind.TOPUP),
    ("expires_at", LATER + timedelta(microseconds=1)),
    ("expires_at", None),
    ("priority", 101),
])
def test_grant_same_key_other_field_is_a_conflict(org, field, value):
    assert_replay_then_conflicts(org, "grant", GRANT, {field: value})


def test_grant_without_expiry_conflicts_with_one_that_has_it(org):
    assert_replay_then_conflicts(org, "grant", {**GRANT, "expires_at": None},
                                 {"expires_at": LATER})


def test_equal_amounts_in_other_notation_replay(org):
    first = post(org, "grant", **{**GRANT, "amount": D("10")})
    assert post(org, "grant", **{**GRANT, "amount": D("10.000000")}).entry.pk == first.entry.pk


@pytest.mark.parametrize(("field", "value"), [
    ("amount", D("2.000001")),
    ("entry_kind", EntryKind.ADJUSTMENT),
])
def test_consume_same_key_other_field_is_a_conflict(org, field, value):
    grant(org, 100, key="test:funds")
    assert_replay_then_conflicts(org, "consume", {"amount": D(2), "entry_kind": EntryKind.USAGE},
                                 {field: value})


@pytest.fixture
def two_grants(org):
    return grant(org, 50, key="test:g1").grant, grant(org, 50, key="test:g2").grant


@pytest.mark.parametrize("change", ["amount", "entry_kind", "other_grant", "no_grant"])
def test_take_back_same_key_other_field_is_a_conflict(org, two_grants, change):
    first, second = two_grants
    request = {"amount": D(5), "entry_kind": EntryKind.REFUND, "preferred_grants": [first]}
    value = {"amount": D("5.000001"), "entry_kind": EntryKind.ADJUSTMENT,
             "other_grant": [second], "no_grant": []}[change]
    field = "preferred_grants" if change.endswith("grant") else change
    assert_replay_then_conflicts(org, "take_back", request, {field: value})


@pytest.mark.parametrize("change", ["amount", "entry_kind", "reverses", "reverses_none"])
def test_restore_same_key_other_field_is_a_conflict(org, change):
    grant(org, 50, key="test:g1")
    usage = [consume(org, 3, key=f"usage:{i}").entry for i in range(2)]
    request = {"amount": D(3), "entry_kind": EntryKind.REVERSAL, "to_grants": [],
               "reverses": usage[0]}
    value = {"amount": D("3.000001"), "entry_kind": EntryKind.ADJUSTMENT,
             "reverses": usage[1], "reverses_none": None}[change]
    field = "reverses" if change.startswith("reverses") else change
    assert_replay_then_conflicts(org, "restore", request, {field: value})


def test_a_restore_without_reverses_conflicts_with_one_that_has_it(org):
    grant(org, 50, key="test:g1")
    usage = consume(org, 3, key="usage:1").entry
    assert_replay_then_conflicts(
        org, "restore", {"amount": D(3), "to_grants": [], "reverses": None},
        {"reverses": usage})


def test_the_same_key_on_another_kind_of_posting_is_a_conflict(org):
    grant(org, 50, key="test:g1")
    post(org, "consume", key="shared", amount=D(5))
    before = ledger_state(org)
    with pytest.raises(IdempotencyConflict):
        post(org, "take_back", key="shared", amount=D(5), entry_kind=EntryKind.USAGE)
    with pytest.raises(IdempotencyConflict):
        post(org, "grant", key="shared", amount=D(5), grant_kind=GrantKind.PAID,
             entry_kind=EntryKind.USAGE)
    assert ledger_state(org) == before


def test_a_key_is_per_account(org, other_org):
    grant(org, 10, key="test:same")
    other = grant(other_org, 20, key="test:same")
    assert not other.replayed and other.entry.amount == D(20)


# -- adjustments through the service -------------------------------------------------------------

ADJUSTMENT = {"credits": D(5), "grant_kind": GrantKind.ADJUSTMENT, "expires_at": None}


@pytest.mark.parametrize(("field", "value"), [
    ("credits", D("5.5")),
    ("credits", D(-5)),
    ("grant_kind", GrantKind.PROMOTIONAL),
    ("expires_at", LATER),
])
def test_adjustment_retry_with_another_field_is_a_conflict(org, field, value):
    def adjust(**changes):
        return adjust_credits(organization=org, reason="goodwill", actor=SYSTEM,
                              request_id="req-1", now=NOW, **{**ADJUSTMENT, **changes})

    first = adjust()
    assert adjust().entry.pk == first.entry.pk
    before = ledger_state(org)
    with pytest.raises(IdempotencyConflict):
        adjust(**{field: value})
    assert ledger_state(org) == before


def test_negative_adjustment_retry_with_another_amount_is_a_conflict(org):
    grant(org, 50, key="test:g1")
    first = adjust_credits(organization=org, credits=D(-5), reason="x", actor=SYSTEM,
                           request_id="neg")
    assert adjust_credits(organization=org, credits=D(-5), reason="x", actor=SYSTEM,
                          request_id="neg").entry.pk == first.entry.pk
    with pytest.raises(IdempotencyConflict):
        adjust_credits(organization=org, credits=D(-6), reason="x", actor=SYSTEM,
                       request_id="neg")


# -- the digest itself -----------------------------------------------------------------------------

def test_fingerprint_of_is_a_stable_sha256_of_its_parts_in_order():
    assert fingerprint_of("a", 1) == fingerprint_of("a", 1)
    assert len(fingerprint_of("a", 1)) == 64
    assert fingerprint_of("a", 1) != fingerprint_of(1, "a")
    assert fingerprint_of("a", 1) != fingerprint_of("a", "1")
    assert fingerprint_of("a", None) != fingerprint_of("a", "")
    assert fingerprint_of("a", NOW) != fingerprint_of("a", NOW + timedelta(microseconds=1))
    # sha256 of the compact JSON of the parts, dict keys sorted
    assert fingerprint_of("a", 1) == hashlib.sha256(b'["a",1]').hexdigest()
    assert fingerprint_of({"b": 1, "a": 2}) == hashlib.sha256(b'[{"a":2,"b":1}]').hexdigest()


def test_the_recipes_are_stable_across_releases(org):
    """A retry that arrives after a deploy is compared with the fingerprint stored before it:
    changing a recipe would turn every retry in flight into a conflict."""
    g = post(org, "grant", key="g", **GRANT)
    usage = post(org, "consume", key="u", amount=D(3))
    taken = post(org, "take_back", key="t", amount=D(2), entry_kind=EntryKind.REFUND,
                 preferred_grants=[g.grant])
    restored = post(org, "restore", key="r", amount=D(1), to_grants=[], reverses=usage.entry)
    assert g.entry.fingerprint == fingerprint_of(
        "grant", "purchase", "paid", "10.000000", LATER, 100)
    assert usage.entry.fingerprint == fingerprint_of("consume", "usage", "3.000000")
    assert taken.entry.fingerprint == fingerprint_of("take_back", "refund", "2.000000",
                                                     [g.grant.pk])
    assert restored.entry.fingerprint == fingerprint_of("restore", "reversal", "1.000000",
                                                        usage.entry.pk)


def test_an_expiry_is_keyed_and_fingerprinted_by_its_grant(org):
    g = grant(org, 4, expires_at=NOW + timedelta(hours=1), now=NOW).grant
    with open_book(organization=org, now=NOW + timedelta(hours=2)) as book:
        [expiry] = book.expire_due()
    assert expiry.entry.idempotency_key == f"expiry:{g.pk}"
    assert expiry.entry.fingerprint == fingerprint_of("expiry", g.pk)
