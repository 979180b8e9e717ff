import pytest

from billing.models import CreditAccount, EntryKind, LedgerEntry
from tests.billing.postings import D, assert_ledger_ok, consume, grant

pytestmark = pytest.mark.django_db


def test_accounts_list_shows_balances(staff_client, org):
    grant(org, 42)
    body = staff_client.get("/admin/billing/creditaccount/").content.decode()
    assert "42.000000" in body and "Post adjustment" in body


def test_amounts_are_grouped_to_six_places_in_every_ledger_list(staff_client, org):
    grant(org, D("6459.106349"))
    consume(org, D("1234.5"), key="usage:1")
    accounts = staff_client.get("/admin/billing/creditaccount/").content.decode()
    assert "5,224.606349" in accounts and "5224.606349" not in accounts
    entries = staff_client.get("/admin/billing/ledgerentry/").content.decode()
    assert "6,459.106349" in entries and "-1,234.500000" in entries
    assert "6459.106349" not in entries
    grants = staff_client.get("/admin/billing/creditgrant/").content.decode()
    assert "6,459.106349" in grants and "5,224.606349" in grants  # amount, remaining
    # Sorting by the column still works (it orders by the field).
    assert staff_client.get("/admin/billing/ledgerentry/?o=4").status_code == 200


def test_staff_adjustment_is_attributed_and_needs_a_reason(staff_client, org, admin_user):
    account = CreditAccount.objects.get(organization=org)
    url = f"/admin/billing/creditaccount/{account.pk}/adjust/"
    assert staff_client.post(url, {"credits": "10", "reason": ""}).status_code == 200
    assert not LedgerEntry.objects.exists()
    response = staff_client.post(url, {"credits": "-10.5", "reason": "goodwill reversal",
                                       "request_id": "5d1f1c1e-0000-4000-8000-0000000000d1"},
                                 follow=True)
    assert "balance now -10.500000." in response.content.decode()  # six places
    entry = LedgerEntry.objects.get()
    assert (entry.kind, entry.amount, entry.actor_user) == (EntryKind.ADJUSTMENT, D("-10.5"),
                                                            admin_user)
    assert_ledger_ok(org)


def test_staff_reversal(staff_client, org, admin_user):
    grant(org, 10)
    usage = consume(org, 3, key="usage:1").entry
    url = f"/admin/billing/ledgerentry/{usage.pk}/reverse/"
    assert staff_client.get(url).status_code == 200
    assert staff_client.post(url, {"reason": "wrong model price"}).status_code == 302
    reversal = LedgerEntry.objects.get(reverses=usage)
    assert reversal.amount == D(3) and reversal.actor_user == admin_user
    assert_ledger_ok(org)


def test_non_staff_cannot_reach_staff_forms(client, member_user, org):
    client.force_login(member_user)
    account = CreditAccount.objects.get(organization=org)
    response = client.post(f"/admin/billing/creditaccount/{account.pk}/adjust/",
                           {"credits": "10", "reason": "x"})
    assert response.status_code == 302  # to the admin login
    assert not LedgerEntry.objects.exists()
