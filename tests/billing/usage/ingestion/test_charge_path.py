"""The charge path's shape: a small batch written in one statement under the lock, and a
large one charging exactly what each event is quoted."""

import json
import random
from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.ledger.usage_charges import breakdown_digest, events_digest, priced_event_line
from billing.models import CreditAccount, CreditGrant, DailyUsage, GrantKind, LedgerEntry
from billing.models.usage import UsageEvent
from billing.usage.ingestion.record import estimate_usage, read_and_price, record_usage
from tests.billing.postings import assert_ledger_ok, grant
from tests.billing.prepared_sql import sent as sent_queries
from tests.billing.usage.test_events import reference_fingerprint
from tests.billing.usage_fixtures import AI_CREDITS, GPU_CREDITS, ai_event, gpu_event
from tests.conftest import make_member

pytestmark = [pytest.mark.postgres, pytest.mark.django_db, pytest.mark.usefixtures("prices")]



def ends_the_transaction(sql: str) -> bool:
    return sql == "COMMIT" or sql.startswith("RELEASE SAVEPOINT")  # the test's own atomic


def from_the_lock(queries: list[str]) -> list[str]:
    """The statement that takes the lock, and those sent until the transaction ends."""
    start = next(i for i, q in enumerate(queries) if "FOR UPDATE" in q)
    end = next(i for i, q in enumerate(queries) if ends_the_transaction(q))
    return queries[start:end]


def test_one_event_is_written_by_one_statement_and_nothing_runs_after_commit(org):
    grant(org, "100", key="test:start")
    make_member(org, "ana@acme.test")
    record_usage(organization=org, events=[gpu_event("warm")])
    with CaptureQueriesContext(connection) as captured:
        result = record_usage(organization=org, events=[ai_event("one", user="ana@acme.test",
                                                                 operation="chat")])
    queries = sent_queries(captured)
    # One round trip takes the lock and reads the grants and the known keys after it.
    lock_and_reads, write = from_the_lock(queries)
    # The events' own keys are the charge's idempotency: no ledger key is looked up.
    lock, grants, known_events, users, budgets, budget_months = lock_and_reads.split("; ")
    assert lock.endswith("FOR UPDATE") and "billing_creditgrant" in grants
    assert "billing_usageevent" in known_events
    assert "accounts_user" in users  # the user named, read with the lock
    # The user's budget and its month, in the same round trip (docs/budgets.md).
    assert "billing_budget" in budgets and "billing_budgetmonth" in budget_months
    for table in ("billing_ledgerentry", "billing_grantallocation", "billing_creditgrant",
                  "billing_creditaccount", "billing_usageevent", "billing_dailyusage"):
        assert f'"{table}"' in write or f"{table} " in write, table
    assert ends_the_transaction(queries[-1])  # no listener reads: no level is watched

    expected = Decimal("100") - GPU_CREDITS - AI_CREDITS
    assert result.results[0].balance_after == expected
    event = UsageEvent.objects.select_related("entry", "user").get(idempotency_key="one")
    assert event.entry.idempotency_key == f"usage-charge:{event.entry.seq}"
    assert event.entry.amount == -AI_CREDITS
    assert event.entry.metadata["events"] == 1 and event.entry.reason == "gpt-4o · chat"
    assert (event.balance_after, event.user.email) == (expected, "ana@acme.test")
    assert CreditAccount.objects.get(organization=org).balance == expected
    assert CreditGrant.objects.get(account__organization=org).remaining == expected
    chat = DailyUsage.objects.get(organization=org, operation="chat")
    assert (chat.event_count, chat.credits, chat.user_label) == (1, AI_CREDITS, "ana@acme.test")
    assert_ledger_ok(org)


def test_a_small_batch_posts_one_entry_for_the_events_it_charged(org):
    now = timezone.now()
    grant(org, "5", key="test:expiring", kind=GrantKind.PROMOTIONAL,
          expires_at=now + timedelta(seconds=1), now=now)
    grant(org, "10", key="test:start", now=now)
    record_usage(organization=org, events=[gpu_event("before", quantity="1")], now=now)
    later = now + timedelta(seconds=2)  # the promotional grant expires in the batch's book
    result = record_usage(organization=org, now=later, events=[
        ai_event("a", occurred_at=later.isoformat()),
        ai_event("free", input_tokens=0, output_tokens=0),
        gpu_event("before", quantity="1"),  # a duplicate
        gpu_event("too-dear", quantity="100000"),  # insufficient credits
        gpu_event("b", quantity="10"),
    ])
    assert [r.status for r in result.results] == [
        "charged", "charged", "duplicate", "rejected", "charged"]
    [entry] = LedgerEntry.objects.filter(account__organization=org, kind="usage",
                                         usage_events__idempotency_key="a")
    charged = UsageEvent.objects.filter(entry=entry).order_by("id")
    assert [e.idempotency_key for e in charged] == ["a", "b"]
    assert entry.idempotency_key == f"usage-charge:{entry.seq}"
    assert entry.amount == -sum(e.credits for e in charged)
    assert entry.balance_after == charged.last().balance_after == result.balance
    assert (entry.metadata["events"], entry.metadata["resources"]) == (
        2, ["compute.gpu_seconds", "gpt-4o"])
    assert entry.reason == "2 events: compute.gpu_seconds, gpt-4o"
    assert UsageEvent.objects.get(idempotency_key="free").entry is None
    assert LedgerEntry.objects.filter(account__organization=org, kind="expiry").count() == 1
    assert DailyUsage.objects.get(organization=org, resource="compute.gpu_seconds").event_count == 2
    assert_ledger_ok(org)


def test_a_mixed_batch_of_1000_charges_each_event_its_own_quote(org):
    grant(org, "1000000", key="test:start")
    make_member(org, "ana@acme.test")
    rng = random.Random(13)
    now = timezone.now()
    events = []
    for i in range(1000):
        if rng.random() < 0.7:
            tokens = rng.randint(0, 9000)
            events.append(ai_event(
                f"k{i}", input_tokens=tokens, cached_input_tokens=rng.randint(0, tokens),
                output_tokens=rng.randint(0, 3000), user=rng.choice(["", "ana@acme.test"]),
                occurred_at=(now - timedelta(minutes=rng.randint(0, 3000))).isoformat()))
        else:
            events.append(gpu_event(f"k{i}", quantity=f"{rng.uniform(0.000001, 900):.6f}",
                                    operation=rng.choice(["", "train", "serve"])))
    result = record_usage(organization=org, events=events, now=now)
    quoted = [estimate_usage(organization=org, events=[event], now=now) for event in events]
    assert [r.credits for r in result.results] == quoted
    assert all(r.status == "charged" for r in result.results)
    total = sum(quoted, Decimal(0))
    assert CreditAccount.objects.get(organization=org).balance == Decimal("1000000") - total
    assert sum(DailyUsage.objects.filter(organization=org).values_list("credits", flat=True),
               Decimal(0)) == total
    assert_ledger_ok(org)


def test_every_stored_column_of_a_large_batch_is_what_the_per_event_path_gives(org):
    """A batch large enough for COPY (its rows encoded before the lock) stores, per event,
    the quote, breakdown, fingerprint and text a lone event is given, tricky text included."""
    grant(org, "100000", key="test:start")
    make_member(org, "ana@acme.test")
    rng = random.Random(5)
    now = timezone.now()
    texts = ["", "chat", "tab\there", "new\nline", "back\\slash", "ünïcødé ✓", 'q"s', "\\."]
    events = []
    for i in range(120):
        extra = {"operation": rng.choice(texts), "user": rng.choice(texts + ["ana@acme.test"])}
        if i % 3:
            tokens = rng.randint(0, 9000)
            events.append(ai_event(f"k{i}", input_tokens=tokens, output_tokens=rng.randint(0, 900),
                                   cached_input_tokens=rng.randint(0, tokens), **extra))
        else:
            events.append(gpu_event(f"k{i}", quantity=f"{rng.uniform(0.000001, 90):.6f}",
                                    occurred_at=(now - timedelta(hours=i)).isoformat(), **extra))
    result = record_usage(organization=org, events=events, now=now)
    assert [r.status for r in result.results] == ["charged"] * 120
    stored = {e.idempotency_key: e for e in UsageEvent.objects.filter(organization=org)
              .select_related("entry", "user")}
    for sent in events:
        [alone] = read_and_price([dict(sent)], plan=org.plan, now=now)
        row = stored[sent["idempotency_key"]]
        quote = alone.quote
        assert row.breakdown == quote.breakdown()
        assert (row.cost_usd, row.markup, row.credits_per_usd, row.credits) == (
            quote.cost_usd, quote.markup, quote.credits_per_usd, quote.credits)
        assert row.fingerprint == reference_fingerprint(alone) == alone.fingerprint
        assert (row.operation, row.user_label, row.resource, row.quantity) == (
            alone.operation, alone.user_label, alone.resource, alone.quantity)
        assert (row.input_tokens, row.output_tokens, row.cached_input_tokens) == alone.tokens[:3]
        assert (row.occurred_at, row.received_at) == (alone.occurred_at, now)
        member = alone.user_label == "ana@acme.test"
        assert (row.user.email if row.user else None) == ("ana@acme.test" if member else None)
    [entry] = {row.entry for row in stored.values()}  # the charge's one entry
    assert entry.amount == -sum(row.credits for row in stored.values())
    assert entry.metadata["events"] == 120 and entry.metadata["events_digest"] == events_digest(
        [priced_event_line(
            key=row.idempotency_key, usage_type=row.type, resource=row.resource,
            model_id=row.ai_model_id, meter_id=row.meter_id,
            tokens=(row.input_tokens, row.output_tokens, row.cached_input_tokens,
                    row.cache_write_tokens, row.reasoning_tokens),
            quantity=row.quantity, cost_usd=row.cost_usd, markup=row.markup,
            credits_per_usd=row.credits_per_usd, credits=row.credits,
            breakdown_sha256=breakdown_digest(json.dumps(row.breakdown)))
         for row in stored.values()])
    assert entry.metadata["events_version"] == "events-v3"
    assert_ledger_ok(org)


def test_the_batch_answer_text_is_the_json_of_its_results(org):
    grant(org, "1", key="test:start")
    record_usage(organization=org, events=[gpu_event("seen", quantity="1")])
    result = record_usage(organization=org, events=[
        gpu_event("seen", quantity="1"),  # duplicate
        gpu_event("seen-2", quantity="1", operation="tab\there ü"),
        gpu_event("too-dear", quantity="100000"),  # rejected
        ai_event("free", input_tokens=0, output_tokens=0),
    ])
    assert [r.status for r in result.results] == ["duplicate", "charged", "rejected", "charged"]
    assert result.json_text() == json.dumps(result.as_json(), cls=DjangoJSONEncoder)


@pytest.mark.django_db(transaction=True)
def test_outside_any_transaction_the_write_carries_its_commit(org, monkeypatch):
    grant(org, "100", key="test:start")
    record_usage(organization=org, events=[gpu_event("warm")])
    status_at_commit = []
    real_commit = connection._commit

    def commit():  # what Django's own commit finds: an open transaction, or none (idle)
        status_at_commit.append(connection.connection.info.transaction_status)
        real_commit()

    monkeypatch.setattr(connection, "_commit", commit)
    with CaptureQueriesContext(connection) as captured:
        record_usage(organization=org, events=[ai_event("one")])
    queries = sent_queries(captured)
    after_lock = queries[next(i for i, q in enumerate(queries) if "FOR UPDATE" in q) + 1:]
    # The lock's holder makes one round trip more: the write, committed in the same query.
    # Django still records its commit, which finds the transaction over and sends nothing.
    assert after_lock[0].startswith("WITH e AS (INSERT") and after_lock[0].endswith("; COMMIT")
    assert after_lock[1:] == ["COMMIT"], after_lock
    assert status_at_commit == [psycopg.pq.TransactionStatus.IDLE]
    assert UsageEvent.objects.filter(idempotency_key="one").exists()
    assert CreditAccount.objects.get(organization=org).balance == (
        Decimal("100") - GPU_CREDITS - AI_CREDITS)
    assert_ledger_ok(org)


@pytest.mark.django_db(transaction=True)
def test_a_write_that_fails_with_its_commit_attached_commits_nothing(org, monkeypatch):
    from billing.ledger.store import orm

    grant(org, "100", key="test:start")
    monkeypatch.setattr(orm, "totals_upsert", lambda totals, items: (
        "UPDATE billing_creditaccount SET updated_at = now() WHERE id = 1 / 0", []))
    with pytest.raises(Exception, match="division by zero"):
        record_usage(organization=org, events=[ai_event("one")])
    monkeypatch.undo()
    assert not UsageEvent.objects.exists() and not LedgerEntry.objects.filter(
        kind="usage").exists()
    assert CreditAccount.objects.get(organization=org).balance == Decimal("100")
    # The connection is usable, and the key free: the event is charged when sent again.
    assert record_usage(organization=org, events=[ai_event("one")]).results[0].status == (
        "charged")
    assert_ledger_ok(org)


@pytest.mark.django_db(transaction=True)
def test_in_a_transaction_begun_by_hand_the_write_leaves_the_commit_to_its_owner(org):
    from django.db import transaction

    grant(org, "100", key="test:start")
    transaction.set_autocommit(False)
    try:
        with CaptureQueriesContext(connection) as captured:
            record_usage(organization=org, events=[ai_event("one")])
        assert not any(q["sql"].endswith("; COMMIT") for q in captured.captured_queries)
        transaction.rollback()  # the owner's choice: nothing was committed behind its back
    finally:
        transaction.set_autocommit(True)
    assert not UsageEvent.objects.exists()
    assert CreditAccount.objects.get(organization=org).balance == Decimal("100")
