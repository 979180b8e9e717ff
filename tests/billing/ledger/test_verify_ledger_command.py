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


def test_a_rollup_row_changed_behind_the_events_back_fails_the_check(org, capsys):
    from decimal import Decimal

    from billing.models import DailyUsage
    from billing.usage.ingestion.record import record_usage
    from tests.billing.usage_fixtures import ai_event, funded, seed_prices

    seed_prices()
    funded(org)
    record_usage(organization=org, events=[ai_event("a"), ai_event("b")])
    call_command("verify_ledger")
    DailyUsage.objects.filter(organization=org).update(credits=Decimal("0.01"))
    with pytest.raises(SystemExit):
        call_command("verify_ledger", "--org", org.slug)
    out = capsys.readouterr().out
    assert "Ledger FAILED" in out
    assert f"[{org.slug}] invariant 8: the daily usage rollup differs from the events: " in out


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_with_committed_rows_the_rollup_is_checked_on_a_second_connection(org, capsys,
                                                                          monkeypatch):
    """Outside a transaction (as an operator runs it) the rollup check runs beside the
    chains on its own connection, and still reports what it finds."""
    from decimal import Decimal

    from billing.ledger import alongside
    from billing.models import DailyUsage
    from billing.usage.ingestion.record import record_usage
    from tests.billing.usage_fixtures import ai_event, funded, seed_prices

    threads = []
    original = alongside.Alongside._in_own_connection

    def recorded(self):
        import threading

        threads.append(threading.current_thread().name)
        return original(self)

    monkeypatch.setattr(alongside.Alongside, "_in_own_connection", recorded)
    seed_prices()
    funded(org)
    record_usage(organization=org, events=[ai_event("a"), ai_event("b")])
    call_command("verify_ledger")
    assert "Ledger OK" in capsys.readouterr().out
    DailyUsage.objects.filter(organization=org).update(credits=Decimal("0.01"))
    with pytest.raises(SystemExit):
        call_command("verify_ledger")
    out = capsys.readouterr().out
    assert f"[{org.slug}] invariant 8: the daily usage rollup differs from the events: " in out
    assert len(threads) == 2 and all(t.startswith("verify-alongside") for t in threads)
