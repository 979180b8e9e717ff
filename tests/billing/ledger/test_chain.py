"""Tamper evidence of the hash chain (invariant 7), on SQLite and PostgreSQL alike.

An attacker with table rights (on PostgreSQL: one who can disable the append-only
trigger) changes a row behind the application's back. Every hashed column,
forged in turn, is found at the forged entry; a middle entry forged and re-hashed
the way an attacker would is found at the next one, since each hash covers its
predecessor's; the last one forged and re-hashed is found at the account's head.
"""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from accounts.services import create_api_key
from billing.ledger.chain import KEYED_VERSION, entry_hash
from billing.ledger.verify import verify_ledger
from billing.models import CreditAccount, GrantAllocation, LedgerEntry
from tests.billing.postings import D, consume, grant
from tests.conftest import make_member

pytestmark = pytest.mark.django_db


def forge(entry_id, **columns):
    """UPDATE the entry's columns with SQL, as an attacker would (trigger off meanwhile)."""
    fields = {name: LedgerEntry._meta.get_field(name) for name in columns}
    table = LedgerEntry._meta.db_table
    assignments = ", ".join(f"{fields[name].column} = %s" for name in columns)
    values = [fields[name].get_db_prep_value(value, connection) for name, value in columns.items()]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # flush deferred FK checks first
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
        cursor.execute(f"UPDATE {table} SET {assignments} WHERE id = %s", [*values, entry_id])
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_append_only")


def allocations_of(entry):
    return [(a.grant_id, a.amount) for a in GrantAllocation.objects.filter(entry=entry)]


def chain_breaks(org):
    return [p.entry_id for p in verify_ledger(organization=org).problems if p.invariant == "7"]


@pytest.fixture
def chain(org):
    """Three entries: a grant, a usage, another usage."""
    grant(org, 10)
    consume(org, 3, key="usage:1")
    consume(org, 2, key="usage:2")
    entries = list(LedgerEntry.objects.filter(account__organization=org).order_by("seq"))
    assert verify_ledger(organization=org).ok
    return entries


def forged_values(org, chain):
    user = make_member(org, "forger@acme.test")
    key = create_api_key(organization=org, name="forger", created_by=user).api_key
    middle = chain[1]
    return {
        "seq": 0,  # moves it first: found there (a seq past the end is tested below)
        "kind": "bonus",
        "amount": D("-2.5"),
        "balance_after": D("7.5"),
        "actor_type": "user",
        "actor_user": user.pk,
        "actor_api_key": key.pk,
        "actor_label": "someone else",
        "reason": "forged",
        "idempotency_key": "usage:forged",
        "fingerprint": "0" * 64,
        "reverses": chain[0].pk,
        "metadata": {"forged": True},
        "created_at": middle.created_at + timedelta(microseconds=1),
        "hash": "f" * 64,
        "key_id": "",  # passed off as an entry from before the chain was keyed
        "chain_version": "v2",  # downgraded to the separator-joined encoding
    }


HASHED = ["seq", "kind", "amount", "balance_after", "actor_type", "actor_user", "actor_api_key",
          "actor_label", "reason", "idempotency_key", "fingerprint", "reverses", "metadata",
          "created_at", "hash", "key_id", "chain_version"]


@pytest.mark.parametrize("column", HASHED)
def test_every_hashed_column_forged_is_found_at_its_entry(org, chain, column):
    forge(chain[1].pk, **{column: forged_values(org, chain)[column]})
    assert chain_breaks(org)[0] == chain[1].pk
    [problem] = [p for p in verify_ledger(organization=org).problems if p.invariant == "7"]
    expected = "written without the chain key" if column == "key_id" else "altered"
    assert problem.organization == org.slug and expected in problem.message


def test_a_forged_seq_that_keeps_the_order_is_found_at_its_entry(org, chain):
    forge(chain[2].pk, seq=4)
    assert chain_breaks(org)[0] == chain[2].pk


def test_the_list_of_hashed_columns_is_complete():
    # A new column of LedgerEntry must be hashed (and forged above) or be the hash itself.
    columns = {f.name for f in LedgerEntry._meta.concrete_fields} - {"id", "account"}
    assert columns == set(HASHED)


def test_an_entry_moved_to_another_account_is_found(org, other_org, chain):
    grant(other_org, 5)
    forge(chain[1].pk, account=CreditAccount.objects.get(organization=other_org).pk)
    assert chain_breaks(org)  # a gap in the victim's chain
    assert chain[1].pk in chain_breaks(other_org)  # a foreign entry in the other's


@pytest.mark.parametrize("position", [0, 1])
def test_an_entry_forged_and_rehashed_is_found_at_the_next_entry(org, chain, position):
    forged = chain[position]
    forged.reason = "forged"
    previous = chain[position - 1].hash if position else ""
    forge(forged.pk, reason="forged", hash=entry_hash(forged, previous, allocations_of(forged)))
    assert chain_breaks(org)[0] == chain[position + 1].pk


def test_the_last_entry_forged_and_rehashed_is_found_at_the_account_head(org, chain):
    last = chain[-1]
    last.reason = "forged"
    forge(last.pk, reason="forged", hash=entry_hash(last, chain[-2].hash, allocations_of(last)))
    problems = verify_ledger(organization=org).problems
    assert [(p.invariant, p.entry_id) for p in problems] == [("7", None)]
    assert "chain head" in problems[0].message


def test_the_hash_is_keyed_over_every_field_its_allocations_and_the_previous_hash(org, chain):
    entry = chain[1]
    allocations = allocations_of(entry)
    assert allocations and entry.key_id
    assert entry.hash == entry_hash(entry, chain[0].hash, allocations)
    assert len(entry.hash) == 64 and KEYED_VERSION == entry.chain_version == "v3"
    assert entry_hash(entry, chain[0].hash, allocations) != entry_hash(entry, "", allocations)
    assert entry_hash(entry, chain[0].hash) != entry.hash  # the allocations count
    # canonical amounts: the same value in another notation hashes the same
    entry.amount = D("-3.0")
    assert entry_hash(entry, chain[0].hash, allocations) == chain[1].hash
    # the time in UTC to the microsecond, whatever its zone
    entry.created_at = entry.created_at.astimezone(ZoneInfo("Asia/Tokyo"))
    assert entry_hash(entry, chain[0].hash, allocations) == chain[1].hash


def test_the_encoding_of_an_unkeyed_entry_never_changes():
    """Entries hashed before the chain was keyed (v1) must still verify: the encoding is pinned."""
    from datetime import UTC, datetime
    from hashlib import sha256

    entry = LedgerEntry(
        account_id=7, seq=3, kind="usage", amount=D("-1.5"), balance_after=D("8.5"),
        actor_type="api_key", actor_user_id=None, actor_api_key_id=11,
        actor_label="API key x (ck_…)", reason="gpt-4o · chat", idempotency_key="usage:k1",
        fingerprint="ab" * 32, reverses_id=None, metadata={"usage_key": "k1", "type": "ai"},
        created_at=datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=UTC))
    fields = ["v1", "7", "3", "usage", "-1.500000", "8.500000", "api_key", "", "11",
              "API key x (ck_…)", "gpt-4o · chat", "usage:k1", "ab" * 32, "",
              '{"type":"ai","usage_key":"k1"}', "2026-11-27T10:00:00.123456+00:00", "cd" * 32]
    assert entry_hash(entry, "cd" * 32) == sha256("\x1f".join(fields).encode()).hexdigest()
    entry.actor_user_id, entry.actor_api_key_id, entry.reverses_id = 5, None, 9
    fields[7], fields[8], fields[13] = "5", "", "9"
    assert entry_hash(entry, "cd" * 32) == sha256("\x1f".join(fields).encode()).hexdigest()


def test_the_time_is_hashed_in_utc_whatever_the_servers_zone(org, chain, monkeypatch):
    import time
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        assert entry_hash(chain[1], chain[0].hash, allocations_of(chain[1])) == chain[1].hash
    finally:
        monkeypatch.undo()
        time.tzset()


def test_the_encoding_of_a_keyed_entry_never_changes(settings):
    """The separator-joined keyed encoding (v2) is pinned too: HMAC-SHA256 under the
    entry's key id, for entries written in v2 (chain_version v2, or empty: before the
    column)."""
    import hmac
    from datetime import UTC, datetime
    from hashlib import sha256

    settings.LEDGER_CHAIN_KEYS = {"k1": "chain-secret"}
    entry = LedgerEntry(
        account_id=7, seq=3, kind="usage", amount=D("-1.5"), balance_after=D("8.5"),
        actor_type="api_key", actor_user_id=None, actor_api_key_id=11,
        actor_label="API key x (ck_…)", reason="gpt-4o · chat", idempotency_key="usage:k1",
        fingerprint="ab" * 32, reverses_id=None, metadata={"usage_key": "k1", "type": "ai"},
        created_at=datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=UTC), key_id="k1",
        chain_version="v2")
    fields = ["v2", "k1", "7", "3", "usage", "-1.500000", "8.500000", "api_key", "", "11",
              "API key x (ck_…)", "gpt-4o · chat", "usage:k1", "ab" * 32, "",
              '{"type":"ai","usage_key":"k1"}', "2026-11-27T10:00:00.123456+00:00",
              "4:1.000000;9:0.500000", "cd" * 32]
    expected = hmac.new(b"chain-secret", "\x1f".join(fields).encode(), sha256).hexdigest()
    assert entry_hash(entry, "cd" * 32, [(9, D("0.5")), (4, D("1"))]) == expected
    entry.chain_version = ""  # written before the column: v2 as well
    assert entry_hash(entry, "cd" * 32, [(9, D("0.5")), (4, D("1"))]) == expected
