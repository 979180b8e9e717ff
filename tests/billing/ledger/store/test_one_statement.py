"""A small book's one-statement write on PostgreSQL (billing/ledger/store/one_statement.py):
prepared once per connection, its values written in as literals, its COMMIT carried when
the book owns the transaction (the COMMIT's own tests: tests/billing/usage/ingestion/
test_charge_path.py)."""

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from billing.ledger.store import one_statement
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


def charge(org, key: str, **fields) -> list[str]:
    """Charge one event; the statements it sent."""
    with CaptureQueriesContext(connection) as captured:
        result = record_usage(organization=org, events=[ai_event(key, **fields)])
    assert result.results[0].status == "charged"
    return [q["sql"] for q in captured.captured_queries]


def prepares(queries: list[str]) -> int:
    return sum(q.startswith("PREPARE ") for q in queries)


def executed(queries: list[str]) -> list[str]:
    return [q for q in queries if q.startswith("EXECUTE ")]


def test_a_connection_prepares_the_write_once_and_a_new_connection_again(org):
    first, second = charge(org, "a"), charge(org, "b")
    assert (prepares(first), len(executed(first))) == (1, 1)
    assert (prepares(second), len(executed(second))) == (0, 1)
    assert as_written(executed(second)[0]).startswith("WITH e AS (INSERT")
    connection.close()
    third = charge(org, "c")
    assert (prepares(third), len(executed(third))) == (1, 1)
    assert UsageEvent.objects.count() == 3
    assert CreditAccount.objects.get(organization=org).balance == Decimal(100) - 3 * AI_CREDITS
    assert_ledger_ok(org)


def test_a_write_prepared_in_a_rolled_back_transaction_stays_prepared(org):
    with pytest.raises(RuntimeError), transaction.atomic():
        assert prepares(charge(org, "a")) == 1
        raise RuntimeError("the caller's transaction fails after the charge")
    assert not UsageEvent.objects.exists()
    after = charge(org, "a")  # PostgreSQL keeps a prepared statement across a rollback
    assert (prepares(after), len(executed(after))) == (0, 1)
    assert_ledger_ok(org)


def test_switched_off_the_write_is_sent_as_its_text(org, settings):
    settings.DATABASE_PREPARED_STATEMENTS = False
    queries = charge(org, "a")
    assert prepares(queries) == len(executed(queries)) == 0
    assert any(q.startswith("WITH e AS (INSERT") for q in queries)
    assert UsageEvent.objects.filter(idempotency_key="a").exists()


def test_past_the_cap_a_connection_prepares_no_more(org, monkeypatch):
    monkeypatch.setattr(one_statement, "MAX_PREPARED", 0)
    queries = charge(org, "a")
    assert prepares(queries) == len(executed(queries)) == 0
    assert UsageEvent.objects.filter(idempotency_key="a").exists()


@pytest.mark.parametrize("prepared", [True, False])
def test_values_written_as_literals_are_stored_exactly(org, settings, prepared):
    """Quotes, backslashes, percent signs and non-ASCII text reach the columns unchanged,
    and the chain, hashed over the entry's reason before it was sent, still verifies."""
    settings.DATABASE_PREPARED_STATEMENTS = prepared
    operation = "it's 100% \\d \"quoted\" %s naïve → ok"
    queries = charge(org, "odd", operation=operation)
    assert any("; COMMIT" in q for q in queries)
    event = UsageEvent.objects.select_related("entry").get(idempotency_key="odd")
    assert event.operation == operation and event.entry.reason.endswith(f" · {operation}")
    assert_ledger_ok(org)
