"""The keyed chain: a writer without the key cannot forge a hash; allocations are covered;
keys rotate by id."""

import hashlib
import hmac

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from billing.ledger import chain
from billing.ledger.chain import (
    UNKEYED_VERSION,
    UnknownChainKey,
    _fields,
    chain_keys,
    current_key_id,
    entry_hash,
    sign,
)
from billing.ledger.verify import verify_ledger
from billing.models import GrantAllocation, LedgerEntry
from tests.billing.postings import consume, grant

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def entries(org):
    grant(org, 10)
    consume(org, 3, key="usage:1")
    consume(org, 2, key="usage:2")
    return list(LedgerEntry.objects.filter(account__organization=org).order_by("seq"))


def _as_attacker(*statements):
    """Write with table rights but without the app's secrets (triggers off, rolled back)."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE billing_ledgerentry DISABLE TRIGGER "
                       "billing_ledgerentry_append_only")
        cursor.execute("ALTER TABLE billing_grantallocation DISABLE TRIGGER "
                       "billing_grantallocation_append_only")
        for sql, params in statements:
            cursor.execute(sql, params)
        cursor.execute("ALTER TABLE billing_ledgerentry ENABLE ALWAYS TRIGGER "
                       "billing_ledgerentry_append_only")
        cursor.execute("ALTER TABLE billing_grantallocation ENABLE ALWAYS TRIGGER "
                       "billing_grantallocation_append_only")


def test_entries_carry_the_key_id_and_a_keyed_hash(settings, entries):
    assert {e.key_id for e in entries} == {settings.LEDGER_CHAIN_KEY_ID}
    first = entries[0]
    plain = hashlib.sha256("\x1f".join([UNKEYED_VERSION, *_fields(first), ""]).encode())
    assert first.hash != plain.hexdigest()  # not computable without the key


@pytest.mark.postgres
@pytest.mark.parametrize("forgery", ["unkeyed", "guessed_key"])
def test_an_amount_changed_and_its_hash_recomputed_without_the_key_is_found(org, entries,
                                                                            settings, forgery):
    victim = entries[1]
    victim.amount, victim.balance_after = victim.amount + 1, victim.balance_after + 1
    if forgery == "unkeyed":  # the attacker rewrites it as an old, unkeyed entry
        victim.key_id = ""
        forged = entry_hash(victim, entries[0].hash)
    else:  # or keeps the key id and signs with a key of their own
        real_keys = settings.LEDGER_CHAIN_KEYS
        settings.LEDGER_CHAIN_KEYS = {**real_keys, victim.key_id: "attacker-guess"}
        forged = entry_hash(victim, entries[0].hash, [
            (a.grant_id, a.amount) for a in GrantAllocation.objects.filter(entry=victim)])
        settings.LEDGER_CHAIN_KEYS = real_keys
    _as_attacker(("UPDATE billing_ledgerentry SET amount = amount + 1, "
                  "balance_after = balance_after + 1, key_id = %s, hash = %s WHERE id = %s",
                  [victim.key_id, forged, victim.pk]))
    problems = [p for p in verify_ledger(organization=org).problems if p.invariant == "7"]
    assert problems and problems[0].entry_id == victim.pk


@pytest.mark.postgres
def test_an_allocation_moved_to_another_grant_is_found(org, entries):
    other = grant(org, 5).grant
    allocation = GrantAllocation.objects.filter(entry=entries[1]).get()
    _as_attacker(("UPDATE billing_grantallocation SET grant_id = %s WHERE id = %s",
                  [other.pk, allocation.pk]))
    problems = verify_ledger(organization=org).problems
    assert any(p.invariant == "7" and p.entry_id == entries[1].pk for p in problems), problems


def test_keys_rotate_by_id(org, settings, entries):
    old_id = settings.LEDGER_CHAIN_KEY_ID
    settings.LEDGER_CHAIN_KEYS = {**settings.LEDGER_CHAIN_KEYS, "k2": "the-next-key"}
    settings.LEDGER_CHAIN_KEY_ID = "k2"
    consume(org, 1, key="usage:3")
    newest = LedgerEntry.objects.filter(account__organization=org).order_by("-seq").first()
    assert newest.key_id == "k2"
    assert verify_ledger(organization=org).ok  # old entries checked with the old key
    settings.LEDGER_CHAIN_KEYS = {"k2": "the-next-key"}  # the old key dropped too early
    problems = verify_ledger(organization=org).problems
    assert any(f"unknown chain key {old_id!r}" in p.message for p in problems)


def test_a_missing_or_unknown_key_says_which_setting_to_fix(settings):
    """What an operator reads when the keys are misconfigured: the setting to fix, by name."""
    settings.LEDGER_CHAIN_KEYS = {"k1": "secret"}
    settings.LEDGER_CHAIN_KEY_ID = "k9"
    with pytest.raises(ImproperlyConfigured) as caught:
        current_key_id()
    assert str(caught.value) == "LEDGER_CHAIN_KEY_ID 'k9' is not in LEDGER_CHAIN_KEYS"
    with pytest.raises(UnknownChainKey) as caught:
        sign("message", key_id="k9")
    assert str(caught.value) == "no chain key with id 'k9'"
    settings.LEDGER_CHAIN_KEYS = {}
    with pytest.raises(ImproperlyConfigured) as caught:
        chain_keys()
    assert str(caught.value) == "LEDGER_CHAIN_KEYS holds no key"


def test_the_keys_are_read_once_per_setting_and_each_keys_hmac_set_up_once(settings,
                                                                            monkeypatch):
    """Signing an entry must not re-read the setting or re-key the HMAC (the caches start
    empty here: a process may have filled them)."""
    settings.LEDGER_CHAIN_KEYS = {"k1": "chain-secret"}
    monkeypatch.setattr(chain, "_keys_of", None)
    monkeypatch.setattr(chain, "_keyed", {})
    assert chain_keys() is chain_keys() == {"k1": b"chain-secret"}
    expected = hmac.new(b"chain-secret", b"message", hashlib.sha256).hexdigest()
    (set_up, new) = ([], hmac.new)
    monkeypatch.setattr(chain.hmac, "new", lambda *a, **k: set_up.append(a) or new(*a, **k))
    assert [sign("message", key_id="k1") for _ in range(3)] == [expected] * 3
    assert set_up == [(b"chain-secret",)]
    settings.LEDGER_CHAIN_KEYS = {"k2": "other"}
    assert chain_keys() == {"k2": b"other"}
