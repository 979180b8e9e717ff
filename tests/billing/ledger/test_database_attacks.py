"""Attacks by someone who owns the ledger tables but lacks the chain key (plain SQL).

The attacker is a role of its own: owner of the ledger tables (so it may ALTER
them) and allowed to set session_replication_role, as a replication or
migration role often is. Each test performs the attack and shows that the
database refuses it, or that verify_ledger finds it (docs/ledger.md, "What
catches what").
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from billing.ledger import digests
from billing.ledger.chain import entry_hash
from billing.ledger.verify import GUARDED_TABLES, verify_ledger
from billing.models import CreditAccount, CreditGrant, GrantKind, LedgerEntry
from tests.billing.postings import consume, grant
from tests.conftest import make_org

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

OWNED_TABLES = [*GUARDED_TABLES, CreditAccount._meta.db_table, CreditGrant._meta.db_table]


@pytest.fixture
def attacker(org):
    """Runs SQL as a table-owning role that is not a superuser (all rolled back)."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE wants no pending checks
        cursor.execute("CREATE ROLE ledger_attacker NOSUPERUSER")
        cursor.execute("GRANT SET ON PARAMETER session_replication_role TO ledger_attacker")
        for table in OWNED_TABLES:
            cursor.execute(f"ALTER TABLE {table} OWNER TO ledger_attacker")

    def run(*statements):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL ROLE ledger_attacker")  # undone by a rollback
            for statement in statements:
                sql, params = statement if isinstance(statement, tuple) else (statement, [])
                cursor.execute(sql, params)
            cursor.execute("RESET ROLE")

    return run


@pytest.fixture
def entries(org):
    grant(org, 10)
    consume(org, 3, key="usage:1")
    return list(LedgerEntry.objects.filter(account__organization=org).order_by("seq"))


def test_replication_role_does_not_step_around_the_append_only_guard(attacker, entries):
    digests.record_digest()
    with pytest.raises(DatabaseError, match="append-only"):
        attacker(
            "SET LOCAL session_replication_role = replica",
            (
                "UPDATE billing_ledgerentry SET amount = amount + 1000000 WHERE id = %s",
                [entries[0].pk],
            ),
        )
    with pytest.raises(DatabaseError, match="append-only"):
        attacker("SET LOCAL session_replication_role = replica", "DELETE FROM billing_ledgerdigest")
    with pytest.raises(DatabaseError, match="append-only"):
        attacker("SET LOCAL session_replication_role = replica", "TRUNCATE billing_ledgerdigest")


@pytest.mark.parametrize("table", GUARDED_TABLES)
def test_a_guard_turned_back_to_origin_mode_is_reported(attacker, entries, table):
    # ENABLE TRIGGER (no ALWAYS) still shows the guard enabled, but replica mode skips it.
    attacker(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only")
    problems = [p for p in verify_ledger().problems if p.invariant == "4"]
    assert [str(p) for p in problems] == [
        f"[*] invariant 4: the guard trigger {table}_append_only is missing, disabled or "
        "does not fire always"
    ]


def _copy_entry_sql(source: LedgerEntry, **overrides) -> tuple[str, list]:
    columns = [f.column for f in LedgerEntry._meta.concrete_fields if not f.primary_key]
    chosen = [("%s" if column in overrides else column) for column in columns]
    sql = (
        f"INSERT INTO billing_ledgerentry ({', '.join(columns)}) "
        f"SELECT {', '.join(chosen)} FROM billing_ledgerentry WHERE id = %s"
    )
    return sql, [overrides[column] for column in columns if column in overrides] + [source.pk]


def test_an_unkeyed_entry_is_refused_once_the_chain_is_keyed(attacker, entries):
    fresh, _ = CreditAccount.objects.get_or_create(organization=make_org("fresh"))
    sql, params = _copy_entry_sql(entries[0], account_id=fresh.pk, key_id="", hash="0" * 64)
    with pytest.raises(DatabaseError, match="unkeyed ledger entry"):
        attacker((sql, params))
    assert not LedgerEntry.objects.filter(account=fresh).exists()


def test_an_unkeyed_chain_started_after_the_cut_over_fails_verification(attacker, entries):
    # The guard switched off (which verify reports on its own), a fresh account's first
    # entry rewritten as an unkeyed v1 entry with a correct plain SHA-256 hash.
    fresh = make_org("fresh")
    opened = grant(fresh, 250000).entry
    opened.key_id = ""
    forged = entry_hash(opened, "")
    attacker(
        "ALTER TABLE billing_ledgerentry DISABLE TRIGGER billing_ledgerentry_append_only",
        (
            "UPDATE billing_ledgerentry SET key_id = '', hash = %s WHERE id = %s",
            [forged, opened.pk],
        ),
        (
            "UPDATE billing_creditaccount SET last_hash = %s WHERE id = %s",
            [forged, opened.account_id],
        ),
        "ALTER TABLE billing_ledgerentry ENABLE ALWAYS TRIGGER billing_ledgerentry_append_only",
    )
    problems = verify_ledger(organization=fresh).problems
    assert [(p.invariant, p.entry_id) for p in problems] == [("7", opened.pk)], problems
    assert "after the install's first keyed one" in problems[0].message


def test_a_history_written_into_the_past_is_absent_from_the_digest(attacker, entries, org):
    # Entries dated before the latest digest must be in it: a new account whose whole
    # history the attacker backdates (with the guard off) was never seen by the digest.
    digest, _ = digests.record_digest()
    fresh = make_org("fresh")
    opened = grant(fresh, 250000).entry
    attacker(
        "ALTER TABLE billing_ledgerentry DISABLE TRIGGER billing_ledgerentry_append_only",
        (
            "UPDATE billing_ledgerentry SET created_at = %s WHERE id = %s",
            [digest.created_at - timedelta(days=1), opened.pk],
        ),
        "ALTER TABLE billing_ledgerentry ENABLE ALWAYS TRIGGER billing_ledgerentry_append_only",
    )
    problems = [p for p in verify_ledger(organization=fresh).problems if p.invariant == "7"]
    assert any("that it never saw" in p.message for p in problems), problems
    assert verify_ledger(organization=org).ok  # the account the digest saw still proves


def test_the_mailed_fingerprint_proves_the_database_and_finds_the_digests_deleted(
    attacker, entries, capsys
):
    digest, _ = digests.record_digest()
    mailed = digests.fingerprint(digest)
    call_command("verify_ledger", "--digest", mailed)
    assert f"against the digest of {digest.day} (fingerprint {mailed})" in capsys.readouterr().out
    attacker(
        "ALTER TABLE billing_ledgerdigest DISABLE TRIGGER billing_ledgerdigest_append_only",
        "DELETE FROM billing_ledgerdigest",
        "ALTER TABLE billing_ledgerdigest ENABLE ALWAYS TRIGGER billing_ledgerdigest_append_only",
    )
    with pytest.raises(CommandError, match="the digest it names was removed or altered"):
        call_command("verify_ledger", "--digest", mailed.upper())


def test_a_digest_removed_from_the_middle_breaks_the_digest_chain(attacker, entries):
    first = digests.record_digest(now=datetime(2026, 11, 1, tzinfo=UTC))[0]
    middle = digests.record_digest(now=datetime(2026, 11, 2, tzinfo=UTC))[0]
    last = digests.record_digest(now=datetime(2026, 11, 3, tzinfo=UTC))[0]
    assert (first.previous, middle.previous) == ("", digests.fingerprint(first))
    assert last.previous == digests.fingerprint(middle)
    assert verify_ledger().ok
    attacker(
        "ALTER TABLE billing_ledgerdigest DISABLE TRIGGER billing_ledgerdigest_append_only",
        ("DELETE FROM billing_ledgerdigest WHERE id = %s", [middle.pk]),
        "ALTER TABLE billing_ledgerdigest ENABLE ALWAYS TRIGGER billing_ledgerdigest_append_only",
    )
    assert [str(p) for p in verify_ledger().problems] == [
        "[*] invariant 7: the digest of 2026-11-03 follows a digest that is no longer there "
        "or was altered: the digest chain has a gap"
    ]


def test_a_grant_s_terms_changed_in_place_are_found_against_its_opening_entry(attacker, org):
    opened = grant(
        org,
        50,
        kind=GrantKind.PROMOTIONAL,
        priority=10,
        expires_at=timezone.now() + timedelta(days=30),
    )
    assert verify_ledger(organization=org).ok
    attacker(
        "UPDATE billing_creditgrant SET expires_at = NULL, kind = 'paid', priority = 999 "
        "WHERE kind = 'promotional'"
    )
    problems = [str(p) for p in verify_ledger(organization=org).problems]
    assert problems == [
        f"[acme] invariant 7: grant {opened.grant.pk}'s terms differ from those its opening "
        "entry committed: altered"
    ]


def test_an_unkeyed_chain_under_an_id_below_the_cut_over_is_not_sealed(attacker, entries):
    # With the keyed-only guard off, a fresh account opened by an unkeyed entry with a
    # correct plain SHA-256 hash and an id below every keyed entry's: the cut-over's id
    # alone would accept it, the signed cut-over never sealed it.
    fresh, _ = CreditAccount.objects.get_or_create(organization=make_org("fresh"))
    forged = LedgerEntry.objects.get(pk=entries[0].pk)
    forged.pk, forged.account_id, forged.key_id, forged.chain_version = -1, fresh.pk, "", ""
    forged.hash = entry_hash(forged, "")
    sql, params = _copy_entry_sql(entries[0], account_id=fresh.pk, key_id="",
                                  chain_version="", hash=forged.hash)
    attacker(
        "ALTER TABLE billing_ledgerentry DISABLE TRIGGER billing_ledgerentry_keyed_only",
        (sql.replace("INSERT INTO billing_ledgerentry (", "INSERT INTO billing_ledgerentry (id, ")
         .replace("SELECT ", "SELECT -1, ", 1), params),
        ("UPDATE billing_creditaccount SET balance = %s, entry_count = 1, last_hash = %s "
         "WHERE id = %s", [forged.balance_after, forged.hash, fresh.pk]),
        "ALTER TABLE billing_ledgerentry ENABLE ALWAYS TRIGGER billing_ledgerentry_keyed_only",
    )
    problems = [str(p) for p in verify_ledger(organization=fresh.organization).problems
                if p.invariant == "7"]
    assert problems == ["[fresh] invariant 7 (entry #-1): 1 unkeyed entries where the signed "
                        "cut-over sealed 0: written without the chain key, or altered"]


def test_the_newest_digests_removed_leave_a_stale_digest_that_verify_reports(
    attacker, entries, org
):
    now = timezone.now()
    kept = digests.record_digest(now=now)[0]
    consume(org, 1, key="usage:after-the-first-digest")
    newest = digests.record_digest(now=now + timedelta(days=1))[0]
    two_days_on = now + timedelta(days=2)
    assert verify_ledger(now=two_days_on).ok
    attacker(
        "ALTER TABLE billing_ledgerdigest DISABLE TRIGGER billing_ledgerdigest_append_only",
        ("DELETE FROM billing_ledgerdigest WHERE id = %s", [newest.pk]),
        "ALTER TABLE billing_ledgerdigest ENABLE ALWAYS TRIGGER billing_ledgerdigest_append_only",
    )
    assert [str(p) for p in verify_ledger(now=two_days_on).problems] == [
        f"[*] invariant 7: the latest digest, of {kept.day}, is 48 hours old and entries "
        "posted since are older than its daily schedule allows (26 hours): the schedule "
        "stopped, or the newest digests were removed"
    ]
    assert verify_ledger(now=now + timedelta(hours=25)).ok  # within the schedule


def test_every_digest_removed_is_reported_once_the_schedule_was_due(attacker, entries):
    digests.record_digest()
    attacker(
        "ALTER TABLE billing_ledgerdigest DISABLE TRIGGER billing_ledgerdigest_append_only",
        "DELETE FROM billing_ledgerdigest",
        "ALTER TABLE billing_ledgerdigest ENABLE ALWAYS TRIGGER billing_ledgerdigest_append_only",
    )
    assert verify_ledger().ok  # a day has not passed: the schedule is not yet due
    [problem] = verify_ledger(now=timezone.now() + timedelta(hours=27)).problems
    assert "no ledger digest, though entries posted since the cut-over" in problem.message


def test_the_cut_over_removed_is_reported(attacker, entries):
    attacker(
        "ALTER TABLE billing_ledgercutover DISABLE TRIGGER billing_ledgercutover_append_only",
        "DELETE FROM billing_ledgercutover",
        "ALTER TABLE billing_ledgercutover ENABLE ALWAYS TRIGGER "
        "billing_ledgercutover_append_only",
    )
    assert [str(p) for p in verify_ledger().problems] == [
        "[*] invariant 7: no signed cut-over is recorded, though the chain is keyed: removed"
    ]
