"""billing.usage.rollup.totals: the daily rollup equals the sum over the raw events."""

import itertools
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import DailyUsage, UsageEvent
from billing.usage.ingestion.record import record_usage
from billing.usage.rollup.totals import RollupBatch
from tests.billing.usage_fixtures import funded, seed_prices
from tests.conftest import make_org

pytestmark = pytest.mark.django_db
NOW = datetime.now(UTC).replace(microsecond=0)
_orgs = itertools.count()


def test_upsert_adds_to_existing_rows(org):
    day = datetime(2026, 11, 27, 23, 59, tzinfo=UTC)
    for _ in range(2):
        batch = RollupBatch(org.pk)
        batch.add(occurred_at=day, usage_type="infrastructure", resource="m", operation="",
                  user_label="", quantity=Decimal("1.5"), input_tokens=0, output_tokens=0,
                  cost_usd=Decimal("0.0000000000000001"), credits=Decimal("0.000001"))
        batch.add(occurred_at=day + timedelta(minutes=1), usage_type="infrastructure",
                  resource="m", operation="", user_label="", quantity=Decimal(2),
                  input_tokens=0, output_tokens=0, cost_usd=Decimal(1), credits=Decimal(1))
        assert batch.save() == 2  # two UTC days
    first, second = DailyUsage.objects.order_by("day")
    assert (first.event_count, first.quantity) == (2, Decimal(3))
    assert first.credits == Decimal("0.000002")
    assert first.cost_usd == Decimal("0.0000000000000002")
    assert (second.day.isoformat(), second.event_count) == ("2026-11-28", 2)


def test_many_rows_are_written_in_chunks(org):
    batch = RollupBatch(org.pk)
    for i in range(450):
        batch.add(occurred_at=NOW, usage_type="ai_tokens", resource="gpt-4o", operation=f"op{i}",
                  user_label="", quantity=Decimal(10), input_tokens=7, output_tokens=3,
                  cost_usd=Decimal("0.1"), credits=Decimal(1))
    assert batch.save() == 450
    assert DailyUsage.objects.count() == 450


BASE = {"occurred_at": datetime(2026, 11, 27, 12, tzinfo=UTC), "usage_type": "ai_tokens",
        "resource": "gpt-4o", "operation": "chat", "user_label": "ana@acme.test"}
# One variant per dimension, each differing from BASE in that dimension alone.
VARIANTS = {
    "day": {"occurred_at": datetime(2026, 11, 28, 0, tzinfo=UTC)},
    "usage_type": {"usage_type": "infrastructure"},
    "resource": {"resource": "gpt-4o-mini"},
    "operation": {"operation": "summarise"},
    "user_label": {"user_label": "bo@acme.test"},
}


def add(batch, *, credits="1", **dims):
    batch.add(**{**BASE, **dims}, quantity=Decimal(3), input_tokens=2, output_tokens=1,
              cost_usd=Decimal("0.01"), credits=Decimal(credits))


def dimensions(row):
    return (row.day.isoformat(), row.usage_type, row.resource, row.operation, row.user_label)


def test_each_dimension_alone_keeps_rows_apart_and_equal_ones_sum(org, other_org):
    batch = RollupBatch(org.pk)
    add(batch)
    add(batch, credits="2")  # same dimensions: summed in the batch
    for variant in VARIANTS.values():
        add(batch, **variant)
    assert batch.save() == 1 + len(VARIANTS)
    rows = {dimensions(r): r for r in DailyUsage.objects.filter(organization=org)}
    assert sorted(rows) == sorted([
        ("2026-11-27", "ai_tokens", "gpt-4o", "chat", "ana@acme.test"),
        ("2026-11-28", "ai_tokens", "gpt-4o", "chat", "ana@acme.test"),
        ("2026-11-27", "infrastructure", "gpt-4o", "chat", "ana@acme.test"),
        ("2026-11-27", "ai_tokens", "gpt-4o-mini", "chat", "ana@acme.test"),
        ("2026-11-27", "ai_tokens", "gpt-4o", "summarise", "ana@acme.test"),
        ("2026-11-27", "ai_tokens", "gpt-4o", "chat", "bo@acme.test"),
    ])
    base = rows[("2026-11-27", "ai_tokens", "gpt-4o", "chat", "ana@acme.test")]
    assert (base.event_count, base.quantity, base.input_tokens, base.output_tokens,
            base.cost_usd, base.credits) == (2, Decimal(6), 4, 2, Decimal("0.02"), Decimal(3))
    # Another org's batch with the very same dimensions is its own row.
    theirs = RollupBatch(other_org.pk)
    add(theirs)
    theirs.save()
    assert DailyUsage.objects.filter(organization=other_org).get().event_count == 1
    assert DailyUsage.objects.filter(organization=org).count() == 1 + len(VARIANTS)


@pytest.mark.parametrize("dimension", sorted(VARIANTS))
def test_a_second_batch_adds_to_the_row_of_its_own_dimensions_only(org, dimension):
    for _ in range(2):
        batch = RollupBatch(org.pk)
        add(batch)
        add(batch, **VARIANTS[dimension])
        batch.save()
    rows = DailyUsage.objects.filter(organization=org)
    assert [r.event_count for r in rows] == [2, 2]
    assert sorted(r.credits for r in rows) == [Decimal(2), Decimal(2)]


def test_the_day_is_the_utc_date_of_occurred_at(org):
    from zoneinfo import ZoneInfo
    batch = RollupBatch(org.pk)
    # 23:30 on the 27th in New York is 04:30 on the 28th in UTC
    add(batch, occurred_at=datetime(2026, 11, 27, 23, 30, tzinfo=ZoneInfo("America/New_York")))
    batch.save()
    assert DailyUsage.objects.get().day.isoformat() == "2026-11-28"


def test_missing_texts_are_stored_as_empty(org):
    batch = RollupBatch(org.pk)
    add(batch, resource=None, operation=None, user_label=None)
    add(batch, resource="", operation="", user_label="")
    assert batch.save() == 1
    row = DailyUsage.objects.get()
    assert (row.resource, row.operation, row.user_label, row.event_count) == ("", "", "", 2)


def test_an_empty_batch_writes_nothing(org):
    assert RollupBatch(org.pk).save() == 0
    assert not DailyUsage.objects.exists()


events = st.one_of(
    st.fixed_dictionaries({
        "type": st.just("ai_tokens"),
        "model": st.just("gpt-4o"),
        "input_tokens": st.integers(0, 50_000),
        "output_tokens": st.integers(0, 5_000),
        "operation": st.sampled_from(["", "chat", "summarise"]),
        "user": st.sampled_from(["", "ana@acme.test", "bo@acme.test"]),
        "age_hours": st.integers(0, 24 * 10),
    }),
    st.fixed_dictionaries({
        "type": st.just("infrastructure"),
        "meter": st.sampled_from(["compute.gpu_seconds", "bandwidth.egress_gb"]),
        "quantity": st.decimals(min_value=Decimal("0.000001"), max_value=Decimal(5000),
                                places=6, allow_nan=False, allow_infinity=False),
        "operation": st.sampled_from(["", "fine-tune"]),
        "user": st.sampled_from(["", "ana@acme.test"]),
        "age_hours": st.integers(0, 24 * 10),
    }),
)


def to_api(spec, key):
    event = {k: v for k, v in spec.items() if k != "age_hours" and v != ""}
    event["idempotency_key"] = key
    event["occurred_at"] = (NOW - timedelta(hours=spec["age_hours"])).isoformat()
    if "quantity" in event:
        event["quantity"] = str(event["quantity"])
    return event


def sums_over_raw_events(org):
    totals = defaultdict(lambda: [0, Decimal(0), 0, 0, Decimal(0), Decimal(0)])
    for e in UsageEvent.objects.filter(organization=org):
        row = totals[(e.occurred_at.astimezone(UTC).date(), e.type, e.resource, e.operation,
                      e.user_label)]
        row[0] += 1
        row[1] += e.quantity
        row[2] += e.input_tokens
        row[3] += e.output_tokens
        row[4] += e.cost_usd
        row[5] += e.credits
    return dict(totals)


def rollup_of(org):
    return {
        (r.day, r.usage_type, r.resource, r.operation, r.user_label):
            [r.event_count, r.quantity, r.input_tokens, r.output_tokens, r.cost_usd, r.credits]
        for r in DailyUsage.objects.filter(organization=org)
    }


@pytest.mark.postgres  # SQLite stores decimals as floats: sums drift in the last places
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batches=st.lists(st.lists(events, min_size=1, max_size=30), min_size=1, max_size=5),
       credits=st.integers(0, 3000), replay=st.booleans())
def test_the_rollup_equals_the_sum_over_raw_events(batches, credits, replay):
    seed_prices_once()
    org = make_org(f"prop{next(_orgs)}")
    if credits:
        funded(org, credits)  # small amounts make some events insufficient_credits
    serial = itertools.count()
    sent = []
    for specs in batches:
        batch = [to_api(spec, f"k{next(serial)}") for spec in specs]
        if replay and sent:
            batch.append(sent[-1])  # a duplicate (or its resend) must add nothing
        record_usage(organization=org, events=batch, now=NOW + timedelta(seconds=1))
        sent.extend(batch[:1])
    assert rollup_of(org) == sums_over_raw_events(org)



def seed_prices_once():
    from billing.models import AIModel

    if not AIModel.objects.filter(name="gpt-4o").exists():
        seed_prices()


def test_the_day_is_utc_whatever_the_server_zone(org, monkeypatch):
    import time
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        batch = RollupBatch(org.pk)
        # 02:30 UTC on the 28th is still the 27th in the server's (New York) zone
        add(batch, occurred_at=datetime(2026, 11, 28, 2, 30, tzinfo=UTC))
        batch.save()
    finally:
        monkeypatch.undo()
        time.tzset()
    assert DailyUsage.objects.get().day.isoformat() == "2026-11-28"
