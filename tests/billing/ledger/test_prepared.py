"""The charge path's statements (the lock with its reads, the write), prepared once per
connection (billing/ledger/prepared.py)."""

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from billing.ledger import prepared
from billing.models import CreditAccount
from billing.models.usage import UsageEvent
from billing.usage.ingestion.record import record_usage
from tests.billing.postings import assert_ledger_ok, grant
from tests.billing.prepared_sql import as_written
from tests.billing.usage_fixtures import AI_CREDITS, ai_event, seed_prices

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def funded(org):
    seed_prices()
    grant(org, "100", key="test:start")
    connection.close()  # each test's charges start on a connection with nothing prepared
    return org


def charge(org, key: str) -> list[str]:
    """Charge one event; the statements it sent."""
    with CaptureQueriesContext(connection) as captured:
        result = record_usage(organization=org, events=[ai_event(key)])
    assert result.results[0].status == "charged"
    return [q["sql"] for q in captured.captured_queries]


def prepares(queries: list[str]) -> int:
    return sum(q.startswith("PREPARE ") for q in queries)


def executed(queries: list[str]) -> list[str]:
    return [q for q in queries if q.startswith("EXECUTE ")]


def executes(queries: list[str]) -> int:
    return len(executed(queries))


def test_a_connection_prepares_its_statements_once_and_a_new_connection_again(org):
    first, second = charge(org, "a"), charge(org, "b")
    # The lock, the grants, the known keys; the write.
    assert (prepares(first), executes(first)) == (4, 2)
    assert (prepares(second), executes(second)) == (0, 2)
    assert "FOR UPDATE" in as_written(executed(second)[0])
    assert as_written(executed(second)[1]).startswith("WITH e AS (INSERT")
    connection.close()
    third = charge(org, "c")
    assert (prepares(third), executes(third)) == (4, 2)
    assert UsageEvent.objects.count() == 3
    assert CreditAccount.objects.get(organization=org).balance == Decimal(100) - 3 * AI_CREDITS
    assert_ledger_ok(org)


def test_a_statement_prepared_in_a_rolled_back_transaction_stays_prepared(org):
    with pytest.raises(RuntimeError), transaction.atomic():
        assert prepares(charge(org, "a")) == 4
        raise RuntimeError("the caller's transaction fails after the charge")
    assert not UsageEvent.objects.exists()
    after = charge(org, "a")  # PostgreSQL keeps a prepared statement across a rollback
    assert (prepares(after), executes(after)) == (0, 2)
    assert_ledger_ok(org)


def test_switched_off_the_write_is_sent_as_its_text(org, settings):
    settings.DATABASE_PREPARED_STATEMENTS = False
    queries = charge(org, "a")
    assert prepares(queries) == executes(queries) == 0
    assert any(q.startswith("WITH e AS (INSERT") for q in queries)


def test_past_the_cap_a_connection_prepares_no_more(org, monkeypatch):
    monkeypatch.setattr(prepared, "MAX_PER_CONNECTION", 0)
    queries = charge(org, "a")
    assert prepares(queries) == executes(queries) == 0
    assert UsageEvent.objects.filter(idempotency_key="a").exists()


def test_values_bound_as_literals_are_stored_exactly(org):
    """The write's values are written into its EXECUTE as literals (prepared.bound): quotes,
    backslashes, percent signs and non-ASCII text reach the columns unchanged, and the
    chain, hashed over the entry's reason before it was sent, still verifies."""
    operation = "it's 100% \\d \"quoted\" naïve → ok"
    with CaptureQueriesContext(connection) as captured:
        record_usage(organization=org, events=[ai_event("odd", operation=operation)])
    assert any(q["sql"].startswith("EXECUTE ") and "WITH e AS" not in q["sql"]
               and "; COMMIT" in q["sql"] for q in captured.captured_queries)
    event = UsageEvent.objects.select_related("entry").get(idempotency_key="odd")
    assert event.operation == operation and event.entry.reason.endswith(f" · {operation}")
    assert_ledger_ok(org)
