"""The daily digest of chain heads: recorded once a day, mailed to staff, and the proof
that cut-off history is found."""

import hashlib
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection

from billing import tasks
from billing.ledger import digests
from billing.ledger.digests import (
    HeadCheck,
    check_account,
    content,
    find_digest,
    fingerprint,
    mail_staff,
    record_digest,
)
from billing.ledger.verify import verify_ledger
from billing.models import CreditAccount, LedgerDigest, LedgerEntry
from billing.schedules import SCHEDULES
from tests.billing.postings import consume, grant
from tests.conftest import make_member, make_org

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
    assert f"verify_ledger --digest {fingerprint(digest)}" in message.body


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
        cursor.execute("ALTER TABLE billing_ledgerentry DISABLE TRIGGER "
                       "billing_ledgerentry_append_only")
        cursor.execute("ALTER TABLE billing_grantallocation DISABLE TRIGGER "
                       "billing_grantallocation_append_only")
        cursor.execute("DELETE FROM billing_grantallocation WHERE entry_id IN "
                       "(SELECT id FROM billing_ledgerentry WHERE account_id = %s AND seq > 3)",
                       [account.pk])
        cursor.execute("DELETE FROM billing_ledgerentry WHERE account_id = %s AND seq > 3",
                       [account.pk])
        cursor.execute("UPDATE billing_creditgrant SET remaining = remaining + 2 "
                       "WHERE account_id = %s", [account.pk])
        cursor.execute("UPDATE billing_creditaccount SET entry_count = 3, last_hash = %s, "
                       "balance = %s WHERE id = %s", [kept.hash, kept.balance_after, account.pk])
        cursor.execute("ALTER TABLE billing_ledgerentry ENABLE ALWAYS TRIGGER "
                       "billing_ledgerentry_append_only")
        cursor.execute("ALTER TABLE billing_grantallocation ENABLE ALWAYS TRIGGER "
                       "billing_grantallocation_append_only")
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
        cursor.execute("ALTER TABLE billing_ledgerdigest DISABLE TRIGGER "
                       "billing_ledgerdigest_append_only")
        cursor.execute("UPDATE billing_ledgerdigest SET heads = '{}' WHERE id = %s", [digest.pk])
        cursor.execute("ALTER TABLE billing_ledgerdigest ENABLE ALWAYS TRIGGER "
                       "billing_ledgerdigest_append_only")
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


# -- deterministic, on SQLite too: what is signed, found, mailed and proved -----------------

def test_the_signed_content_is_canonical_json_of_the_day_and_heads():
    """What the signature covers, pinned: an auditor recomputes it from these bytes, and a
    digest signed before a deploy must still verify after it."""
    heads = {"2": [5, "aa"], "12": [3, "bb"]}  # keys sorted as text, whatever the order
    text = '{"day":"2026-11-01","heads":{"12":[3,"bb"],"2":[5,"aa"]}}'
    assert content(date(2026, 11, 1), heads) == text
    digest = LedgerDigest(day=date(2026, 11, 1), heads=heads, key_id="k1", signature="5ig")
    assert fingerprint(digest) == hashlib.sha256(f"{text}|5ig".encode()).hexdigest()
    # chained: the previous digest's fingerprint is signed and fingerprinted with the rest
    chained = '{"day":"2026-11-02","heads":{},"previous":"ff"}'
    assert content(date(2026, 11, 2), {}, "ff") == chained
    digest = LedgerDigest(day=date(2026, 11, 2), heads={}, previous="ff", key_id="k1",
                          signature="5ig")
    assert fingerprint(digest) == hashlib.sha256(f"{chained}|5ig".encode()).hexdigest()


def test_a_digest_holds_every_account_with_entries_at_the_given_time(org, other_org):
    grant(org, 10)  # one entry is enough
    grant(other_org, 5)
    consume(other_org, 1, key="usage:1")
    make_org("quiet")  # no entries: nothing to prove
    CreditAccount.objects.get_or_create(organization=make_org("opened"))
    at = datetime(2026, 11, 1, 23, 30, tzinfo=UTC)
    digest, created = record_digest(now=at)
    accounts = {a.organization.slug: a for a in CreditAccount.objects.select_related(
        "organization")}
    assert created and digest.created_at == at and digest.day == date(2026, 11, 1)
    assert digest.heads == {
        str(accounts["acme"].pk): [1, accounts["acme"].last_hash],
        str(accounts["globex"].pk): [2, accounts["globex"].last_hash],
    }
    assert LedgerDigest.objects.get().heads == digest.heads


def test_the_day_is_utc_whatever_the_server_zone(org, monkeypatch):
    grant(org, 1)
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:  # 02:30 UTC on the 2nd is still the 1st in New York
        digest, _ = record_digest(now=datetime(2026, 11, 2, 2, 30, tzinfo=UTC))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert digest.day == date(2026, 11, 2)


def test_a_run_that_loses_the_race_answers_with_the_winners_digest(
        org, monkeypatch, staff, django_capture_on_commit_callbacks):
    """Two runs check for today's digest at once; the second to insert gets the first's."""
    grant(org, 1)
    at = datetime(2026, 11, 1, 12, tzinfo=UTC)
    real_key_id = digests.current_key_id
    winner = {}

    def key_id_after_a_concurrent_run():
        key_id = real_key_id()  # between our check and our insert, another run records
        winner["digest"] = LedgerDigest.objects.create(
            day=at.date(), created_at=at, heads={}, key_id=key_id,
            signature=digests.sign(content(at.date(), {}), key_id=key_id))
        return key_id

    monkeypatch.setattr(digests, "current_key_id", key_id_after_a_concurrent_run)
    with django_capture_on_commit_callbacks(execute=True):
        digest, created = record_digest(now=at)
    assert (digest, created) == (winner["digest"], False)
    assert LedgerDigest.objects.count() == 1 and not mail.outbox  # the winner mails


def test_a_digest_is_found_by_latest_day_or_id():
    older, newer = (LedgerDigest.objects.create(day=day, heads={}, key_id="k", signature="s")
                    for day in (date(2026, 11, 1), date(2026, 11, 2)))
    assert find_digest("latest") == newer
    assert find_digest(str(older.pk)) == older
    assert find_digest("2026-11-01") == older
    assert find_digest(str(newer.pk + 100)) is None
    assert find_digest("2026-13-01") is None and find_digest("Latest") is None


def test_the_mail_goes_to_active_staff_with_an_address_and_says_how_to_check(org, staff):
    make_member(org, "member@acme.test")  # not staff
    for email, active in (("gone@acme.test", False), ("", True)):
        other = make_member(org, email or "blank@acme.test")
        other.email, other.is_staff, other.is_active = email, True, active
        other.save()
    grant(org, 1)
    digest, _ = record_digest(now=datetime(2026, 11, 1, tzinfo=UTC))
    assert mail_staff(digest) == 1
    [message] = mail.outbox
    assert message.to == [staff.email]
    assert message.subject == "Ledger digest 2026-11-01: 1 accounts"
    assert message.body == (
        "The ledger digest of 2026-11-01 (UTC) was recorded: 1 accounts.\n\n"
        f"Fingerprint: {fingerprint(digest)}\n"
        f"Signed with key: {digest.key_id}\n\n"
        "Keep this mail. To prove the ledger still holds this history, run\n"
        f"    python manage.py verify_ledger --digest {fingerprint(digest)}\n"
        "It fails when the database no longer holds this digest or the history it saw.\n"
    )


def test_without_staff_to_mail_nothing_is_sent(org):
    grant(org, 1)
    digest, _ = record_digest(now=datetime(2026, 11, 1, tzinfo=UTC))
    assert mail_staff(digest) == 0 and not mail.outbox


def test_each_account_is_proved_against_the_digest_at_its_position(org, other_org):
    for each in (org, other_org):  # same lengths: the same positions in both accounts
        grant(each, 10)
        consume(each, 1, key="usage:1")
    digest, _ = record_digest(now=datetime(2026, 11, 1, tzinfo=UTC))
    mine, theirs = (CreditAccount.objects.get(organization=o) for o in (org, other_org))
    assert check_account(digest, mine).ok and check_account(digest, theirs).ok
    consume(org, 1, key="usage:2")  # history that grew since is still the same history
    mine.refresh_from_db()
    assert check_account(digest, mine).ok
    newcomer = CreditAccount.objects.get(organization=make_org("newcomer"))
    assert check_account(digest, newcomer).ok  # opened after the digest: nothing to prove


def test_an_account_a_digest_never_saw_is_judged_by_the_dates_of_its_own_entries(org,
                                                                                 other_org):
    """Absent from a digest: fine when its entries all came after it (or it has none, whatever
    other accounts hold), else written into the past."""
    grant(org, 10)
    mine = CreditAccount.objects.get(organization=org)
    empty, _ = CreditAccount.objects.get_or_create(organization=other_org)
    earlier, later = (LedgerDigest(day=day, created_at=datetime(day.year, day.month, day.day,
                                                                 tzinfo=UTC), heads={})
                      for day in (date(2026, 11, 1), date(2099, 1, 1)))
    assert check_account(earlier, mine) == HeadCheck(True)
    assert check_account(later, empty) == HeadCheck(True)
    assert check_account(later, mine) == HeadCheck(False, (
        "entries dated before the digest of 2099-01-01 that it never saw: written into the "
        "past"))


def test_a_digest_is_stale_for_the_given_accounts_entries_posted_after_it_and_overdue(
        org, other_org):
    grant(org, 10)
    CreditAccount.objects.get_or_create(organization=other_org)
    posted = LedgerEntry.objects.get(account__organization=org).created_at
    mine, theirs = (CreditAccount.objects.filter(organization=o) for o in (org, other_org))
    before, after = (LedgerDigest(day=date(2026, 11, 1), created_at=posted + timedelta(hours=h),
                                  heads={}) for h in (-1, 1))
    now = posted + timedelta(hours=48)
    assert digests.staleness_problem(after, None, mine, now=now) is None  # it saw the entry
    assert digests.staleness_problem(before, None, theirs, now=now) is None  # not theirs
    assert digests.staleness_problem(before, None, mine, now=now) == (
        "the latest digest, of 2026-11-01, is 49 hours old and entries posted since are "
        "older than its daily schedule allows (26 hours): the schedule stopped, or the "
        "newest digests were removed")
    assert digests.staleness_problem(None, before.created_at, mine, now=now) == (
        "no ledger digest, though entries posted since the cut-over are older than the "
        "daily schedule allows (26 hours): it never ran, or every digest was removed")
    assert digests.staleness_problem(None, None, mine, now=now) is None


def test_a_shorter_or_rewritten_history_is_named(org):
    grant(org, 10)
    consume(org, 1, key="usage:1")
    digest, _ = record_digest(now=datetime(2026, 11, 1, tzinfo=UTC))
    account = CreditAccount.objects.get(organization=org)
    account.entry_count = 1  # as read after the newest entry was cut off
    assert check_account(digest, account) == digests.HeadCheck(
        False, "the digest of 2026-11-01 saw 2 entries, the account now counts 1: entries "
               "were removed")
    account.refresh_from_db()
    for heads in ({str(account.pk): [2, "0" * 64]},  # entry 2 is not the one it saw
                  {str(account.pk): [3, account.last_hash]}):  # no entry 3, count forged
        account.entry_count = 3
        seen = LedgerDigest(day=date(2026, 11, 1), heads=heads, key_id="k", signature="s")
        position = heads[str(account.pk)][0]
        assert check_account(seen, account) == digests.HeadCheck(
            False, f"entry {position} differs from the digest of 2026-11-01: the history it "
                   "saw was rewritten or removed")


def test_verify_names_an_account_of_the_digest_that_no_longer_exists(org):
    grant(org, 1)
    digest, _ = record_digest(now=datetime(2026, 11, 1, tzinfo=UTC))
    gone = LedgerDigest(day=digest.day + timedelta(days=1), heads={**digest.heads,
                        "999999": [1, "0" * 64]}, key_id=digest.key_id, signature="")
    gone.signature = digests.sign(content(gone.day, gone.heads), key_id=gone.key_id)
    gone.save()
    report = verify_ledger()
    assert [str(p) for p in report.problems] == [
        "[*] invariant 7: account 999999 of the digest of 2026-11-02 no longer exists"]


def test_the_fingerprint_is_also_written_to_the_export_directory(
    history, staff, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.LEDGER_DIGEST_EXPORT = str(tmp_path)
    with django_capture_on_commit_callbacks(execute=True):
        digest, _ = record_digest(now=datetime(2026, 11, 1, tzinfo=UTC))
    exported = tmp_path / "ledger-digest-2026-11-01.txt"
    assert exported.read_text() == f"{fingerprint(digest)}\n"
    assert len(mail.outbox) == 1


def test_an_export_directory_that_cannot_be_written_is_logged_and_the_mail_still_goes(
    history, staff, settings, tmp_path, caplog, django_capture_on_commit_callbacks
):
    settings.LEDGER_DIGEST_EXPORT = str(tmp_path / "missing")
    with django_capture_on_commit_callbacks(execute=True):
        record_digest(now=datetime(2026, 11, 1, tzinfo=UTC))
    assert len(mail.outbox) == 1
    assert "could not write LEDGER_DIGEST_EXPORT" in caplog.text
