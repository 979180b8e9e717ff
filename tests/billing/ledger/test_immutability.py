"""Entries are never updated or deleted, by any route; tampering is detected."""

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from billing.ledger.verify import verify_ledger
from billing.models import GrantAllocation, ImmutableLedgerError, LedgerEntry
from tests.billing.postings import consume, grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(org):
    grant(org, 10)
    return consume(org, 3, key="usage:1").entry


def test_model_refuses_update_and_delete(entry):
    entry.reason = "changed"
    with pytest.raises(ImmutableLedgerError):
        entry.save()
    with pytest.raises(ImmutableLedgerError):
        entry.delete()


def test_queryset_refuses_update_and_delete(entry):
    with pytest.raises(ImmutableLedgerError):
        LedgerEntry.objects.filter(pk=entry.pk).update(reason="changed")
    with pytest.raises(ImmutableLedgerError):
        LedgerEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(ImmutableLedgerError):
        GrantAllocation.objects.all().delete()
    assert LedgerEntry.objects.filter(pk=entry.pk, reason="test usage").exists()


@pytest.mark.postgres
@pytest.mark.parametrize("statement", [
    "UPDATE billing_ledgerentry SET amount = 0.5 WHERE id = %s",
    "DELETE FROM billing_ledgerentry WHERE id = %s",
    "UPDATE billing_grantallocation SET amount = 1 WHERE entry_id = %s",
])
def test_raw_sql_is_refused_by_the_trigger(entry, statement):
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [entry.pk])
    entry_again = LedgerEntry.objects.get(pk=entry.pk)
    assert entry_again.amount == entry.amount


def test_admin_offers_no_change_or_delete(admin_client, entry, admin_user):
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    url = f"/admin/billing/ledgerentry/{entry.pk}/"
    assert admin_client.get(url + "change/").status_code == 200  # the read-only view
    assert admin_client.post(url + "change/", {"reason": "x"}).status_code == 403
    assert admin_client.post(url + "delete/", {"post": "yes"}).status_code == 403
    assert LedgerEntry.objects.filter(pk=entry.pk).exists()


@pytest.mark.postgres
def test_tampered_entry_is_named_by_verify_ledger(org, entry, capsys):
    assert verify_ledger(organization=org).ok
    # Simulate an attacker with table rights: disable the trigger inside a
    # transaction that is rolled back at the end of the test.
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # flush deferred FK checks first
        cursor.execute("ALTER TABLE billing_ledgerentry DISABLE TRIGGER "
                       "billing_ledgerentry_append_only")
        cursor.execute("UPDATE billing_ledgerentry SET reason = 'forged' WHERE id = %s",
                       [entry.pk])
        cursor.execute("ALTER TABLE billing_ledgerentry ENABLE ALWAYS TRIGGER "
                       "billing_ledgerentry_append_only")
    report = verify_ledger(organization=org)
    assert not report.ok
    assert report.problems[0].invariant == "7" and report.problems[0].entry_id == entry.pk
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_ledger", "--org", org.slug)
    assert exit_info.value.code == 1
    assert f"entry #{entry.pk}" in capsys.readouterr().out


@pytest.mark.postgres
def test_altered_amount_breaks_invariants_one_and_two(org, entry):
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # flush deferred FK checks first
        cursor.execute("ALTER TABLE billing_ledgerentry DISABLE TRIGGER "
                       "billing_ledgerentry_append_only")
        cursor.execute("UPDATE billing_ledgerentry SET amount = -2 WHERE id = %s", [entry.pk])
        cursor.execute("ALTER TABLE billing_ledgerentry ENABLE ALWAYS TRIGGER "
                       "billing_ledgerentry_append_only")
    invariants = {p.invariant for p in verify_ledger(organization=org).problems}
    assert {"1", "2", "7"} <= invariants


@pytest.mark.postgres
def test_disabled_trigger_is_reported(org, entry):
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # flush deferred FK checks first
        cursor.execute("ALTER TABLE billing_ledgerentry DISABLE TRIGGER "
                       "billing_ledgerentry_append_only")
    assert "4" in {p.invariant for p in verify_ledger().problems}


@pytest.mark.postgres
@pytest.mark.parametrize("table", ["billing_ledgerentry", "billing_grantallocation",
                                   "billing_ledgerdigest"])
def test_truncate_is_refused_by_the_trigger(entry, table):
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # flush deferred FK checks first
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), \
            connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {table} CASCADE")
    assert LedgerEntry.objects.filter(pk=entry.pk).exists()


@pytest.mark.postgres
@pytest.mark.parametrize("statement", [
    "ALTER TABLE billing_grantallocation DISABLE TRIGGER billing_grantallocation_append_only",
    "ALTER TABLE billing_ledgerentry DISABLE TRIGGER billing_ledgerentry_no_truncate",
])
def test_every_disabled_guard_is_reported(org, entry, statement):
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(statement)
    name = statement.rsplit(" ", 1)[1]
    found = [str(p) for p in verify_ledger().problems if p.invariant == "4"]
    assert found == [f"[*] invariant 4: the guard trigger {name} is missing, disabled or "
                     "does not fire always"]
