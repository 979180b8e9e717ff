"""The signed cut-over (docs/ledger.md): unkeyed (v1) entries are accepted only as the
signed cut-over sealed them, once; it is checked by verify_ledger."""

import pytest
from django.db import connection
from django.utils import timezone

from billing.ledger import cutover
from billing.ledger.chain import entry_hash
from billing.ledger.verify import verify_ledger
from billing.models import CreditAccount, LedgerCutover, LedgerEntry
from tests.billing.ledger.test_chain import forge
from tests.billing.postings import assert_ledger_ok, consume, grant

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _as_table_owner(*statements):
    """SQL with the cut-over table's guard off (an attacker's, or a fresh start's)."""
    table = LedgerCutover._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
        for sql, params in statements:
            cursor.execute(sql, params)
        cursor.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_append_only")


@pytest.fixture
def no_cutover():
    """The database as before the cut-over was recorded (the migration records it)."""
    _as_table_owner((f"DELETE FROM {LedgerCutover._meta.db_table}", []))


def seal():
    return cutover.seal(LedgerCutover.objects, LedgerEntry.objects, now=timezone.now())


def _make_legacy(org):
    """The org's first entry as written before the chain was keyed: v1, plain SHA-256."""
    entry = LedgerEntry.objects.get(account__organization=org, seq=1)
    entry.key_id, entry.chain_version = "", ""
    entry.hash = entry_hash(entry, "")
    forge(entry.pk, key_id="", chain_version="", hash=entry.hash)
    CreditAccount.objects.filter(pk=entry.account_id).update(last_hash=entry.hash)
    return entry


def test_an_install_already_keyed_records_its_first_keyed_entry_and_seals_nothing(
        no_cutover, org):
    first = grant(org, 10).entry
    recorded = seal()
    assert (recorded.first_keyed_entry_id, recorded.sealed) == (first.pk, {})
    assert recorded.key_id and cutover.signature_problem(recorded) is None
    assert_ledger_ok(org)


def test_legacy_unkeyed_entries_verify_once_sealed_and_keyed_ones_follow(no_cutover, org):
    grant(org, 10)
    legacy = _make_legacy(org)
    problems = [str(p) for p in verify_ledger(organization=org).problems]
    assert problems == [f"[acme] invariant 7 (entry #{legacy.pk}): 1 unkeyed entries where "
                        "the signed cut-over sealed 0: written without the chain key, or altered"]
    recorded = seal()
    assert recorded.sealed == {str(legacy.account_id): [1, legacy.hash]}
    assert seal() == recorded  # once
    consume(org, 3, key="usage:1")
    assert_ledger_ok(org)


def test_an_unkeyed_entry_written_after_the_seal_is_found(no_cutover, org, other_org):
    grant(org, 10)
    _make_legacy(org)
    seal()
    grant(other_org, 5)
    late = _make_legacy(other_org)
    assert verify_ledger(organization=org).ok
    [problem] = verify_ledger(organization=other_org).problems
    assert problem.entry_id == late.pk and "sealed 0" in problem.message


def test_a_sealed_entry_rewritten_is_found(no_cutover, org):
    grant(org, 10)
    legacy = _make_legacy(org)
    seal()
    legacy.reason = "rewritten"
    legacy.hash = entry_hash(legacy, "")
    forge(legacy.pk, reason="rewritten", hash=legacy.hash)
    CreditAccount.objects.filter(pk=legacy.account_id).update(last_hash=legacy.hash)
    [problem] = verify_ledger(organization=org).problems
    assert "1 unkeyed entries where the signed cut-over sealed 1" in problem.message


def test_a_cut_over_altered_to_seal_an_attackers_chain_fails_its_signature(no_cutover, org):
    grant(org, 10)
    legacy = _make_legacy(org)
    recorded = seal()
    _as_table_owner((f"UPDATE {LedgerCutover._meta.db_table} SET sealed = '{{}}' "
                     "WHERE id = %s", [recorded.pk]))
    assert [str(p) for p in verify_ledger(organization=org).problems] == [
        "[*] invariant 7: the cut-over does not match its signature: altered",
        f"[acme] invariant 7 (entry #{legacy.pk}): 1 unkeyed entries where the signed "
        "cut-over sealed 0: written without the chain key, or altered"]
