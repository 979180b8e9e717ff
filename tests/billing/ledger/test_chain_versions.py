"""Chain version v3: each hashed field is length-prefixed, so text holding the unit
separator (a reason, an API key's name in the actor label) cannot move between fields
under the same hash, as it could in v2; entries written in v1 and v2 still verify."""

import hmac
from datetime import UTC, datetime
from hashlib import sha256

import pytest

from billing.ledger.book import open_book
from billing.ledger.chain import (
    KEYED_VERSION,
    SEPARATED_VERSION,
    UnknownChainVersion,
    entry_hash,
    metadata_json,
)
from billing.models import CreditAccount, LedgerEntry
from tests.billing.ledger.test_chain import allocations_of, chain_breaks, forge
from tests.billing.postings import SYSTEM, D, assert_ledger_ok, consume, grant

pytestmark = pytest.mark.django_db


def _entry(**overrides) -> LedgerEntry:
    values = dict(
        account_id=7, seq=3, kind="usage", amount=D("-1.5"), balance_after=D("8.5"),
        actor_type="api_key", actor_user_id=None, actor_api_key_id=11,
        actor_label="API key x", reason="gpt-4o", idempotency_key="usage:k1",
        fingerprint="ab" * 32, reverses_id=None, metadata={"type": "ai"},
        created_at=datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=UTC), key_id="k1")
    return LedgerEntry(**{**values, **overrides})


@pytest.fixture
def one_key(settings):
    settings.LEDGER_CHAIN_KEYS = {"k1": "chain-secret"}


def test_new_entries_are_written_in_v3(org):
    entry = grant(org, 10).entry
    assert LedgerEntry.objects.get(pk=entry.pk).chain_version == KEYED_VERSION == "v3"


def test_the_v3_encoding_is_pinned(one_key):
    entry = _entry(chain_version="v3")
    parts = ["v3", "k1", "7", "3", "usage", "-1.500000", "8.500000", "api_key", "", "11",
             "API key x", "gpt-4o", "usage:k1", "ab" * 32, "", '{"type":"ai"}',
             "2026-11-27T10:00:00.123456+00:00", "4:1.000000;9:0.500000", "cd" * 32]
    message = "".join(f"{len(part)}:{part}" for part in parts)
    expected = hmac.new(b"chain-secret", message.encode(), sha256).hexdigest()
    assert entry_hash(entry, "cd" * 32, [(9, D("0.5")), (4, D("1"))]) == expected


def test_text_moved_across_the_separator_keeps_a_v2_hash_but_not_a_v3_one(one_key):
    # The label "API key x\x1fgpt" and reason "4o" join to the same v2 message as the
    # label "API key x" and the reason "gpt\x1f4o"; their v3 messages differ.
    honest = dict(actor_label="API key x", reason="gpt\x1f4o")
    moved = dict(actor_label="API key x\x1fgpt", reason="4o")
    v2 = [entry_hash(_entry(chain_version=SEPARATED_VERSION, **f), "") for f in (honest, moved)]
    v3 = [entry_hash(_entry(chain_version=KEYED_VERSION, **f), "") for f in (honest, moved)]
    assert v2[0] == v2[1]
    assert v3[0] != v3[1]


def test_text_moved_between_fields_of_a_posted_entry_is_found(org):
    grant(org, 10)
    with open_book(organization=org) as book:
        posted = book.consume(amount=D(3), actor=SYSTEM, reason="gpt\x1f4o",
                              idempotency_key="usage:1").entry
    moved = {"actor_label": f"{posted.actor_label}\x1fgpt", "reason": "4o"}
    as_v2 = [LedgerEntry.objects.get(pk=posted.pk) for _ in range(2)]
    for name, value in moved.items():
        setattr(as_v2[1], name, value)
    for entry in as_v2:
        entry.chain_version = SEPARATED_VERSION
    previous = LedgerEntry.objects.get(account=posted.account, seq=1).hash
    allocations = allocations_of(posted)
    # In v2 the move keeps the hash (the attack); the v3 entry's hash breaks.
    assert entry_hash(as_v2[0], previous, allocations) == entry_hash(as_v2[1], previous,
                                                                     allocations)
    forge(posted.pk, **moved)
    assert chain_breaks(org) == [posted.pk]


def test_entries_written_in_v2_still_verify_and_v3_ones_follow_them(org):
    grant(org, 10)
    consume(org, 3, key="usage:1")
    previous = ""
    for entry in LedgerEntry.objects.filter(account__organization=org).order_by("seq"):
        entry.chain_version = ""  # as written before the column: v2
        entry.hash = entry_hash(entry, previous, allocations_of(entry))
        forge(entry.pk, chain_version="", hash=entry.hash)
        previous = entry.hash
    CreditAccount.objects.filter(pk=entry.account_id).update(last_hash=previous)
    assert_ledger_ok(org)
    newer = consume(org, 2, key="usage:2").entry
    assert newer.chain_version == "v3"
    assert_ledger_ok(org)


def test_an_unknown_chain_version_is_reported(org):
    entry = grant(org, 10).entry
    forge(entry.pk, chain_version="v9")
    assert chain_breaks(org) == [entry.pk]
    with pytest.raises(UnknownChainVersion) as caught:
        entry_hash(_entry(chain_version="v9"), "")
    assert str(caught.value) == "no chain version 'v9'"


def test_the_metadata_text_a_writer_hands_over_is_the_one_hashed(one_key):
    """Writers encode the metadata before the lock and store that text: the hash must cover
    it as given (unkeyed v1 and keyed v3 alike), not a fresh encoding."""
    for entry in (_entry(), _entry(key_id="", chain_version="")):
        text = metadata_json(entry.metadata)
        assert entry_hash(entry, "", metadata_text=text) == entry_hash(entry, "")
        assert entry_hash(entry, "", metadata_text=text + " ") != entry_hash(entry, "")
