"""The daily digest of chain heads: recorded once a day, mailed to staff, and the proof
that cut-off history is found."""

from datetime import UTC, datetime

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection

from billing import tasks
from billing.ledger.digests import fingerprint, record_digest
from billing.ledger.verify import verify_ledger
from billing.models import CreditAccount, LedgerDigest, LedgerEntry
from billing.schedules import SCHEDULES
from tests.billing.postings import consume, grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(admin_user):
    admin_user.is_staff = True
    admin_user.save()
    return admin_user


@pytest.fixture
def history(org):
    grant(org, 10)
    for i in range(4):
        consume(org, 1, key=f"usage:{i}")
    return org


def test_one_digest_a_day_signed_and_mailed_to_staff(history, staff,
                                                     django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        digest, created = record_digest()
        again, created_again = record_digest()
    assert created and not created_again and again.pk == digest.pk
    account = CreditAccount.objects.get(organization=history)
    assert digest.heads == {str(account.pk): [5, account.last_hash]}
    [message] = mail.outbox
    assert message.to == [staff.email] and fingerprint(digest) in message.body
    assert f"verify_ledger --digest {digest.day}" in message.body


def test_the_daily_schedule_and_the_command_record_the_same(history, staff, capsys):
    spec = next(s for s in SCHEDULES if s.name == "billing.record_ledger_digest")
    assert spec.func == "billing.tasks.record_ledger_digest_task" and spec.minutes == 1440
    digest_id = tasks.record_ledger_digest_task()
    call_command("record_ledger_digest")
    assert LedgerDigest.objects.get().pk == digest_id
    assert "already recorded today" in capsys.readouterr().out


@pytest.mark.postgres
def test_newest_entries_deleted_and_the_head_reset_are_found_against_the_digest(history,
                                                                                capsys):
    digest, _ = record_digest()
    assert verify_ledger().ok
    account = CreditAccount.objects.get(organization=history)
    kept = LedgerEntry.objects.get(account=account, seq=3)
    # A superuser disables the trigger, deletes the two newest entries and resets the head
    # so the chain itself is consistent again (their allocations and grants fixed too).
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE billing_ledgerentry DISABLE TRIGGER USER")
        cursor.execute("ALTER TABLE billing_grantallocation DISABLE TRIGGER USER")
        cursor.execute("DELETE FROM billing_grantallocation WHERE entry_id IN "
                       "(SELECT id FROM billing_ledgerentry WHERE account_id = %s AND seq > 3)",
                       [account.pk])
        cursor.execute("DELETE FROM billing_ledgerentry WHERE account_id = %s AND seq > 3",
                       [account.pk])
        cursor.execute("UPDATE billing_creditgrant SET remaining = remaining + 2 "
                       "WHERE account_id = %s", [account.pk])
        cursor.execute("UPDATE billing_creditaccount SET entry_count = 3, last_hash = %s, "
                       "balance = %s WHERE id = %s", [kept.hash, kept.balance_after, account.pk])
        cursor.execute("ALTER TABLE billing_ledgerentry ENABLE TRIGGER USER")
        cursor.execute("ALTER TABLE billing_grantallocation ENABLE TRIGGER USER")
    report = verify_ledger()
    assert [p.invariant for p in report.problems] == ["7"], report.problems
    assert "entries were removed" in report.problems[0].message
    with pytest.raises(SystemExit):
        call_command("verify_ledger", "--digest", str(digest.day))
    out = capsys.readouterr().out
    assert "Ledger FAILED" in out and fingerprint(digest) in out


@pytest.mark.postgres
def test_an_altered_digest_is_found(history):
    digest, _ = record_digest()
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE billing_ledgerdigest DISABLE TRIGGER USER")
        cursor.execute("UPDATE billing_ledgerdigest SET heads = '{}' WHERE id = %s", [digest.pk])
        cursor.execute("ALTER TABLE billing_ledgerdigest ENABLE TRIGGER USER")
    problems = verify_ledger().problems
    assert any("does not match its signature" in p.message for p in problems)


def test_verify_against_a_named_digest(history, capsys):
    record_digest(now=datetime(2026, 11, 1, tzinfo=UTC))
    consume(history, 1, key="usage:later")  # history grows after a digest: still fine
    call_command("verify_ledger", "--digest", "2026-11-01")
    assert "Ledger OK" in capsys.readouterr().out
    with pytest.raises(CommandError, match="no ledger digest"):
        call_command("verify_ledger", "--digest", "2019-01-01")
    with pytest.raises(CommandError, match="no ledger digest"):
        call_command("verify_ledger", "--digest", "yesterday\x00")
