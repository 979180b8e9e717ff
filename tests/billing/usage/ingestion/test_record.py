"""billing.usage.ingestion.record.record_usage: the in-process ingestion service."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Plan
from billing.ledger.corrections import adjust_credits
from billing.ledger.verify import verify_ledger
from billing.models import (
    CreditRate,
    DailyUsage,
    EntryKind,
    LedgerEntry,
    Meter,
    PlanMarkup,
    UsageEvent,
)
from billing.pricing.catalogue.changes import (
    change_credit_rate,
    change_meter_price,
    change_plan_markup,
)
from billing.usage.events import InvalidEvents
from billing.usage.ingestion.record import (
    PlanNotEligible,
    TooManyEvents,
    estimate_usage,
    record_usage,
)
from tests.billing.postings import SYSTEM, assert_ledger_ok, grant
from tests.billing.purchase_fixtures import balance
from tests.billing.usage_fixtures import (
    AI_CREDITS,
    GPU_CREDITS,
    ai_event,
    api_key_for,
    funded,
    gpu_event,
    statuses,
)
from tests.conftest import make_member, make_org

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("prices")]


def test_a_batch_is_charged_in_order_with_running_balances(org):
    funded(org, 100)
    result = record_usage(organization=org, events=[ai_event("a"), gpu_event("b")])
    assert statuses(result) == ["charged", "charged"]
    assert [r.credits for r in result.results] == [AI_CREDITS, GPU_CREDITS]
    assert [r.balance_after for r in result.results] == [
        Decimal(100) - AI_CREDITS, Decimal(100) - AI_CREDITS - GPU_CREDITS
    ]
    assert result.balance == balance(org) == Decimal(100) - AI_CREDITS - GPU_CREDITS
    assert_ledger_ok(org)


def test_each_event_keeps_its_breakdown_and_links_its_entry(org, prices):
    funded(org)
    member = make_member(org, "ana@acme.test")
    key = api_key_for(org).api_key
    record_usage(organization=org, api_key=key, events=[
        ai_event("a", user="Ana@Acme.test", operation="chat", provider="openai",
                 cached_input_tokens=200, input_tokens=1200, output_tokens=300),
        gpu_event("b", user="robot@elsewhere.test"),
    ])
    ai = UsageEvent.objects.get(idempotency_key="a")
    assert ai.ai_model == prices[0] and ai.resource == "gpt-4o" and ai.operation == "chat"
    assert ai.user == member and ai.user_label == "ana@acme.test" and ai.api_key == key
    assert (ai.input_tokens, ai.cached_input_tokens, ai.output_tokens) == (1200, 200, 300)
    # 1,000 x $2.50 + 200 x $1.25 + 300 x $10 per million = $0.00575
    assert ai.cost_usd == Decimal("0.00575") and ai.markup == Decimal("1.2")
    assert ai.credits_per_usd == Decimal(100) and ai.credits == Decimal("0.69")
    buckets = {line["bucket"]: line for line in ai.breakdown["lines"]}
    assert set(buckets) == {"input", "cached_input", "output"}
    assert buckets["input"]["quantity"] == "1000" and buckets["input"]["price_id"]
    assert ai.breakdown["rate_id"] and ai.breakdown["markup_id"]
    gpu = UsageEvent.objects.get(idempotency_key="b")
    # One entry for the charge: both events point at it, each keeps its own credits.
    assert ai.entry == gpu.entry and ai.entry.kind == EntryKind.USAGE
    assert ai.entry.amount == -(Decimal("0.69") + GPU_CREDITS) and ai.entry.actor_api_key == key
    assert ai.entry.idempotency_key == f"usage-charge:{ai.entry.seq}"
    assert ai.balance_after == ai.entry.balance_after + GPU_CREDITS
    assert gpu.balance_after == ai.entry.balance_after
    assert gpu.meter.code == "compute.gpu_seconds" and gpu.quantity == Decimal("120.5")
    assert gpu.user is None and gpu.user_label == "robot@elsewhere.test"


def test_the_same_batch_twice_answers_duplicates_with_the_original_charges(org):
    funded(org)
    events = [ai_event("a"), gpu_event("b"), ai_event("c", output_tokens=500)]
    first = record_usage(organization=org, events=events)
    after_first = balance(org)
    second = record_usage(organization=org, events=events)
    assert statuses(second) == ["duplicate"] * 3
    assert [(r.credits, r.balance_after) for r in second.results] == [
        (r.credits, r.balance_after) for r in first.results
    ]
    assert balance(org) == after_first == second.balance
    assert UsageEvent.objects.count() == 3
    assert LedgerEntry.objects.filter(kind=EntryKind.USAGE).count() == 1  # the first charge


def test_same_key_other_payload_is_a_conflict_and_changes_nothing(org):
    funded(org)
    record_usage(organization=org, events=[gpu_event("job-9")])
    before = balance(org)
    result = record_usage(organization=org, events=[gpu_event("job-9", quantity="121"),
                                                    gpu_event("job-10")])
    assert statuses(result) == ["rejected", "charged"]
    assert result.results[0].error["code"] == "idempotency_conflict"
    assert result.results[0].credits is None and result.results[0].balance_after is None
    assert balance(org) == before - GPU_CREDITS
    assert UsageEvent.objects.get(idempotency_key="job-9").quantity == Decimal("120.5")


def test_quantities_are_compared_as_decimals(org):
    funded(org)
    record_usage(organization=org, events=[gpu_event("q", quantity="120.5")])
    for same in ("120.50", Decimal("120.500000"), "120.5000"):
        assert statuses(record_usage(organization=org, events=[gpu_event("q", quantity=same)])
                        ) == ["duplicate"]


def test_an_omitted_occurred_at_is_not_compared(org):
    funded(org)
    moment = timezone.now() - timedelta(hours=2)
    record_usage(organization=org, events=[ai_event("t1")])  # defaulted to now
    again = record_usage(organization=org, events=[ai_event("t1", occurred_at=moment.isoformat())])
    assert statuses(again) == ["duplicate"]
    record_usage(organization=org, events=[ai_event("t2", occurred_at=moment.isoformat())])
    assert statuses(record_usage(organization=org, events=[ai_event("t2")])) == ["duplicate"]
    other = (moment - timedelta(minutes=1)).isoformat()
    result = record_usage(organization=org, events=[ai_event("t2", occurred_at=other)])
    assert result.results[0].error["code"] == "idempotency_conflict"


def test_insufficient_credits_rejects_that_event_and_the_rest_go_on(org):
    funded(org, 10)
    result = record_usage(organization=org, events=[
        gpu_event("a"), gpu_event("b"), ai_event("c"), gpu_event("d"),
    ])
    assert statuses(result) == ["charged", "rejected", "charged", "rejected"]
    assert result.results[1].error["code"] == "insufficient_credits"
    assert result.balance == Decimal(10) - GPU_CREDITS - AI_CREDITS
    assert set(UsageEvent.objects.values_list("idempotency_key", flat=True)) == {"a", "c"}
    # A rejected event is not recorded: after a grant its key goes through.
    grant(org, 100)
    assert statuses(record_usage(organization=org, events=[gpu_event("b")])) == ["charged"]
    assert_ledger_ok(org)


def test_an_org_in_debt_is_not_charged(org):
    adjust_credits(organization=org, credits=Decimal(-5), reason="chargeback", actor=SYSTEM)
    result = record_usage(organization=org, events=[ai_event("a")])
    assert statuses(result) == ["rejected"]
    assert result.results[0].error["code"] == "insufficient_credits"
    assert result.balance == Decimal(-5) and not UsageEvent.objects.exists()


def test_one_bad_event_refuses_the_whole_batch(org):
    funded(org)
    with pytest.raises(InvalidEvents) as caught:
        record_usage(organization=org, events=[
            ai_event("a"), gpu_event("b", quantity="-5"), ai_event("c", model="gpt-9")
        ])
    # Shape and lookup problems are listed together, in event order: one round trip.
    assert [(d["index"], d["field"]) for d in caught.value.details] == [
        (1, "quantity"), (2, "model")
    ]
    with pytest.raises(InvalidEvents) as caught:
        record_usage(organization=org, events=[ai_event("a"), ai_event("c", model="gpt-9"),
                                               gpu_event("d", meter="compute.tpu_seconds")])
    assert [(d["index"], d["field"]) for d in caught.value.details] == [
        (1, "model"), (2, "meter")
    ]
    assert "gpt-9" in caught.value.details[0]["message"]
    assert not UsageEvent.objects.exists() and not LedgerEntry.objects.filter(kind="usage")
    assert not DailyUsage.objects.exists()


def test_free_plan_and_oversized_batches_are_refused(org):
    free = make_org("freebie", plan=Plan.FREE)
    with pytest.raises(PlanNotEligible):
        record_usage(organization=free, events=[ai_event("a")])
    with pytest.raises(TooManyEvents):
        record_usage(organization=org, events=[ai_event(f"k{i}") for i in range(1001)])
    with pytest.raises(InvalidEvents):
        record_usage(organization=org, events=[])


def test_an_event_before_a_price_change_is_charged_at_the_old_price(org, prices):
    funded(org)
    change_at = timezone.now() - timedelta(hours=1)
    gpu = Meter.objects.get(code="compute.gpu_seconds")
    change_meter_price(meter=gpu, price_per_unit_usd=Decimal("0.001"), starts_at=change_at,
                       now=change_at)
    before = (change_at - timedelta(minutes=1)).isoformat()
    after = (change_at + timedelta(minutes=1)).isoformat()
    result = record_usage(organization=org, events=[
        gpu_event("old", occurred_at=before), gpu_event("new", occurred_at=after)
    ])
    assert [r.credits for r in result.results] == [GPU_CREDITS, GPU_CREDITS * 2]
    old, new = (UsageEvent.objects.get(idempotency_key=k) for k in ("old", "new"))
    assert old.breakdown["lines"][0]["price_id"] != new.breakdown["lines"][0]["price_id"]


def test_an_event_before_a_rate_or_markup_change_is_charged_at_the_old_one(org):
    funded(org)
    change_at = timezone.now() - timedelta(hours=1)
    change_credit_rate(credits_per_usd=Decimal(200), starts_at=change_at,
                       now=change_at)
    change_plan_markup(plan="professional", multiplier=Decimal("1.5"), starts_at=change_at,
                       now=change_at)
    before = (change_at - timedelta(seconds=1)).isoformat()
    result = record_usage(organization=org, events=[
        ai_event("old", occurred_at=before), ai_event("new")
    ])
    # $0.0035 x 1.2 x 100 before; $0.0035 x 1.5 x 200 after.
    assert [r.credits for r in result.results] == [AI_CREDITS, Decimal("1.05")]
    new = UsageEvent.objects.get(idempotency_key="new")
    assert new.markup == Decimal("1.5") and new.credits_per_usd == Decimal(200)


def test_a_free_event_is_recorded_without_a_ledger_entry(org):
    funded(org, 1)
    result = record_usage(organization=org, events=[ai_event("zero", input_tokens=0,
                                                             output_tokens=0)])
    assert statuses(result) == ["charged"] and result.results[0].credits == 0
    event = UsageEvent.objects.get()
    assert event.entry is None and event.credits == 0
    assert statuses(record_usage(organization=org, events=[
        ai_event("zero", input_tokens=0, output_tokens=0)
    ])) == ["duplicate"]


def test_the_rollup_is_written_with_the_charges(org):
    funded(org)
    make_member(org, "ana@acme.test")
    record_usage(organization=org, events=[
        ai_event("a", operation="chat", user="ana@acme.test"),
        ai_event("b", operation="chat", user="ana@acme.test"),
        gpu_event("c"),
    ])
    chat = DailyUsage.objects.get(resource="gpt-4o")
    assert (chat.event_count, chat.input_tokens, chat.output_tokens) == (2, 2000, 200)
    assert chat.credits == AI_CREDITS * 2 and chat.cost_usd == Decimal("0.007")
    assert chat.operation == "chat" and chat.user_label == "ana@acme.test"
    gpu = DailyUsage.objects.get(resource="compute.gpu_seconds")
    assert gpu.operation == "" and gpu.user_label == "" and gpu.quantity == Decimal("120.5")
    # Duplicates add nothing.
    record_usage(organization=org, events=[gpu_event("c")])
    assert DailyUsage.objects.get(resource="compute.gpu_seconds").event_count == 1


def test_usage_is_spread_over_the_utc_day_it_occurred(org):
    funded(org)
    now = timezone.now()
    record_usage(organization=org, now=now, events=[
        gpu_event("today"),
        gpu_event("yesterday", occurred_at=(now - timedelta(days=1)).isoformat()),
    ])
    assert sorted(DailyUsage.objects.values_list("day", flat=True)) == [
        (now - timedelta(days=1)).date(), now.date()
    ]


@pytest.mark.postgres  # SQLite splits bulk inserts by its 999-parameter limit
def test_a_batch_costs_a_fixed_number_of_queries(org):
    funded(org, 100000)
    make_member(org, "ana@acme.test")

    def queries_for(prefix, n):
        events = [ai_event(f"{prefix}{i}", user="ana@acme.test", operation=f"op{i % 3}")
                  if i % 2 else gpu_event(f"{prefix}{i}") for i in range(n)]
        with CaptureQueriesContext(connection) as captured:
            record_usage(organization=org, events=events)
        # A write prepared on this connection's first use of it is not a query per batch.
        return sum(not q["sql"].startswith("PREPARE ") for q in captured.captured_queries)

    queries_for("warm", 2)
    # The ledger writes a small book in one statement and a large one by COPY (on
    # PostgreSQL), so compare sizes on the same side of that threshold.
    assert queries_for("small", 4) == queries_for("ten", 10)
    assert queries_for("mid", 60) == queries_for("large", 300)


def test_estimate_prices_without_recording(org):
    assert estimate_usage(organization=org, events=[ai_event("a"), gpu_event("b")]) == (
        AI_CREDITS + GPU_CREDITS
    )
    assert not UsageEvent.objects.exists()


# --- from the mutation run (docs/testing.md) ---------------------------------------------------


def test_an_event_removed_from_under_its_charge_is_caught_and_its_key_charged_anew(org):
    """The events are the authority on a usage key: with an event's row gone, its key is
    charged again, and verify_ledger names the charge whose events no longer match."""
    funded(org)
    record_usage(organization=org, events=[gpu_event("orphan"), gpu_event("kept")])
    first = LedgerEntry.objects.get(kind=EntryKind.USAGE)
    UsageEvent.objects.filter(idempotency_key="orphan").delete()
    result = record_usage(organization=org, events=[gpu_event("orphan"), gpu_event("next")])
    assert statuses(result) == ["charged", "charged"]
    report = verify_ledger(organization=org)
    assert [(p.invariant, p.entry_id) for p in report.problems] == [("8", first.pk)]
    assert "1 events point at it, its digest covers 2" in report.problems[0].message


def test_refusals_carry_their_messages(org):
    funded(org, 1)
    record_usage(organization=org, events=[gpu_event("a", quantity="1")])
    result = record_usage(organization=org, events=[gpu_event("a"), gpu_event("big")])
    assert result.results[0].error == {
        "code": "idempotency_conflict",
        "message": "idempotency key 'a' was already used for a different event"}
    assert result.results[1].error["code"] == "insufficient_credits"
    assert result.results[1].error["message"]  # the ledger's reason, not None
    adjust_credits(organization=org, credits=-balance(org) - 1, reason="chargeback",
                   actor=SYSTEM)
    free = record_usage(organization=org, events=[ai_event("free", input_tokens=0,
                                                             output_tokens=0)])
    assert free.results[0].error == {
        "code": "insufficient_credits", "message": "the organisation is in debt: usage is paused"}


def test_the_entry_names_its_event_and_a_keyless_charge_is_the_usage_job(org):
    funded(org)
    record_usage(organization=org, events=[gpu_event("g")])
    event = UsageEvent.objects.get(idempotency_key="g")
    assert event.entry.metadata["resources"] == ["compute.gpu_seconds"]
    assert event.entry.metadata["types"] == [event.type] and event.entry.metadata["events"] == 1
    assert event.entry.actor_label == "system:usage" and event.entry.actor_api_key is None
    assert event.name_sent == ""  # a meter event sends no model name


@pytest.mark.parametrize("missing, message", [
    (PlanMarkup.objects.filter(plan="professional"), "no markup for the professional plan"),
    (CreditRate.objects.all(), "no credit rate"),
])
def test_a_pricing_problem_of_no_field_is_refused_at_the_model_or_the_meter(org, missing,
                                                                            message):
    """No markup or credit rate in force concerns no field of the event: the refusal names
    the event's model or meter, what the caller can look up, with the pricing's message."""
    funded(org)
    missing.all().delete()
    at = (timezone.now() - timedelta(hours=1)).replace(microsecond=0)
    with pytest.raises(InvalidEvents) as caught:
        record_usage(organization=org, events=[ai_event("a", occurred_at=at.isoformat()),
                                               gpu_event("b", occurred_at=at.isoformat())])
    assert caught.value.details == [
        {"index": 0, "field": "model", "message": f"{message} in force at {at.isoformat()}"},
        {"index": 1, "field": "meter", "message": f"{message} in force at {at.isoformat()}"},
    ]
    assert not UsageEvent.objects.exists() and balance(org) == 1000


def test_a_provider_is_compared_whatever_its_case(org):
    funded(org)
    first = record_usage(organization=org, events=[ai_event("p", provider="OpenAI")])
    again = record_usage(organization=org, events=[ai_event("p", provider="openai")])
    assert statuses(first) == ["charged"] and statuses(again) == ["duplicate"]
    assert UsageEvent.objects.get().provider == "openai"
