from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from billing.ledger.expiry import expire_credits
from billing.models import CreditAccount, EntryKind, LedgerEntry
from tests.billing.postings import D, assert_ledger_ok, consume, grant
from tests.conftest import make_org

pytestmark = pytest.mark.django_db


def test_expiry_posts_once_however_often_it_runs(org, capsys):
    past = timezone.now() - timedelta(days=3)
    grant(org, 40, expires_at=past + timedelta(days=1), now=past)
    grant(org, 10, now=past)
    consume(org, 15, key="usage:1", now=past)  # drawn from the expiring grant first
    call_command("expire_credits")
    call_command("expire_credits")
    assert "1 expiry entry posted" in capsys.readouterr().out
    expiry = LedgerEntry.objects.get(kind=EntryKind.EXPIRY)
    assert expiry.amount == D(-25)
    assert CreditAccount.objects.get(organization=org).balance == D(10)
    assert_ledger_ok(org)


def test_only_the_named_org(org):
    other = make_org("other")
    past = timezone.now() - timedelta(days=2)
    grant(org, 5, expires_at=past + timedelta(days=1), now=past)
    grant(other, 5, expires_at=past + timedelta(days=1), now=past)
    call_command("expire_credits", "--org", "other")
    assert list(LedgerEntry.objects.filter(kind=EntryKind.EXPIRY).values_list(
        "account__organization__slug", flat=True)) == ["other"]
    assert expire_credits() == 1


def test_unknown_org_is_an_error(org):
    with pytest.raises(CommandError, match="no organisation"):
        call_command("expire_credits", "--org", "nope")
