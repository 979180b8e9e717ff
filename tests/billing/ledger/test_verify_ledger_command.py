import pytest
from django.core.management import CommandError, call_command

from tests.billing.postings import consume, grant

pytestmark = pytest.mark.django_db


def test_healthy_ledger_passes(org, capsys):
    grant(org, 10)
    consume(org, 4, key="usage:1")
    call_command("verify_ledger")
    call_command("verify_ledger", "--org", org.slug)
    out = capsys.readouterr().out
    assert "Ledger OK: 1 account, 2 entries checked" in out


def test_unknown_org(org):
    with pytest.raises(CommandError, match="no organisation"):
        call_command("verify_ledger", "--org", "missing")
