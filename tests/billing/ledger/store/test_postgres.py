"""PostgreSQL's store (billing/ledger/store/postgres.py): a batch's usage rows are streamed
by COPY whether or not their first columns were encoded before the lock."""

import pytest

from billing.ledger.store import current_store
from billing.ledger.store.postgres import COPY_THRESHOLD, PostgresStore
from billing.models.usage import UsageEvent
from billing.usage.ingestion.record import record_usage
from tests.billing.postings import assert_ledger_ok, grant
from tests.billing.usage_fixtures import AI_CREDITS, ai_event, seed_prices

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

# Every column but those a batch sets for itself (its keys, its entry, its moments).
SAME = [f.attname for f in UsageEvent._meta.concrete_fields
        if f.attname not in {"id", "idempotency_key", "entry_id", "balance_after",
                             "received_at", "occurred_at", "occurred_at_sent", "fingerprint"}]


def charged_batch(org, prefix: str) -> list[dict]:
    events = [ai_event(f"{prefix}-{n}", input_tokens=1000 + n, user=f"user{n % 3}@example.com")
              for n in range(1, COPY_THRESHOLD)]
    # An event that costs nothing is stored pointing at no entry.
    events.append(ai_event(f"{prefix}-free", input_tokens=0, output_tokens=0))
    result = record_usage(organization=org, events=events)
    assert {r.status for r in result.results} == {"charged"}
    rows = UsageEvent.objects.filter(idempotency_key__startswith=f"{prefix}-")
    return list(rows.order_by("input_tokens").values(*SAME))


def test_rows_without_heads_encoded_ahead_are_copied_as_those_with(org, monkeypatch):
    seed_prices()
    grant(org, "1000", key="test:start")
    assert isinstance(current_store(), PostgresStore)
    encoded = charged_batch(org, "ahead")
    monkeypatch.setattr(PostgresStore, "encode_ahead", lambda self, rows, ahead: None)
    streamed = charged_batch(org, "under-lock")

    assert len(encoded) == COPY_THRESHOLD
    assert streamed == encoded
    assert sum(row["credits"] for row in streamed) > (COPY_THRESHOLD - 1) * AI_CREDITS
    assert {row["user_label"] for row in streamed} == {
        "", *(f"user{n}@example.com" for n in range(3))}
    unlinked = UsageEvent.objects.filter(entry__isnull=True)
    assert sorted(unlinked.values_list("idempotency_key", flat=True)) == [
        "ahead-free", "under-lock-free"]
    assert_ledger_ok(org)
