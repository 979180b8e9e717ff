"""Budgets in the charge: an event past its API key's or its user's monthly budget is
rejected with budget_exceeded, before the balance is looked at, in every way usage comes
in (one request, a batch, the asynchronous queue, import_usage); the rest goes on."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from billing.budgets.services import api_key_subject, set_budget, user_subject
from billing.models import BudgetMonth, CreditAccount, UsageEvent
from billing.usage.ingestion.budgets import month_of
from billing.usage.ingestion.record import record_usage
from billing.usage.queue.charging import charge_next_batch
from billing.usage.queue.intake import accept_usage
from tests.billing.postings import assert_ledger_ok
from tests.billing.usage_fixtures import (
    AI_CREDITS,
    GPU_CREDITS,
    ai_event,
    api_key_for,
    funded,
    gpu_event,
    statuses,
    write_lines,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("prices")]


def key_budget(org, key, limit):
    return set_budget(organization=org, subject=api_key_subject(organization=org,
                                                                prefix=key.api_key.prefix),
                      monthly_limit=limit, actor=None)


def user_budget(org, email, limit):
    return set_budget(organization=org, subject=user_subject(email), monthly_limit=limit,
                      actor=None)


def used(budget) -> Decimal:
    return BudgetMonth.objects.get(budget=budget, month=month_of(timezone.now())).credits


def balance(org) -> Decimal:
    return CreditAccount.objects.get(organization=org).balance


def test_an_api_key_budget_refuses_the_event_past_it_and_the_rest_of_the_batch_goes_on(org):
    funded(org, 100)
    key = api_key_for(org)
    budget = key_budget(org, key, 15)  # two GPU events (14.46), then 0.54 left
    result = record_usage(organization=org, api_key=key.api_key, events=[
        gpu_event("g1"), gpu_event("g2"), gpu_event("g3"), ai_event("a1")])
    assert statuses(result) == ["charged", "charged", "rejected", "charged"]
    error = result.results[2].error
    assert error["code"] == "budget_exceeded"
    assert "API key 'tests'" in error["message"]
    assert "0.54 of 15.00 credits left" in error["message"]
    assert error["budget"] == {"kind": "api_key", "name": "tests",
                               "monthly_limit": "15.000000",
                               "used": "14.460000"}
    assert used(budget) == 2 * GPU_CREDITS + AI_CREDITS
    assert balance(org) == 100 - 2 * GPU_CREDITS - AI_CREDITS
    assert not UsageEvent.objects.filter(idempotency_key="g3").exists()
    assert_ledger_ok(org)


def test_the_budget_counts_across_requests_and_a_replay_is_not_counted_twice(org):
    funded(org, 100)
    key = api_key_for(org)
    budget = key_budget(org, key, 10)
    first = record_usage(organization=org, api_key=key.api_key, events=[gpu_event("g1")])
    again = record_usage(organization=org, api_key=key.api_key, events=[gpu_event("g1")])
    assert statuses(first) == ["charged"] and statuses(again) == ["duplicate"]
    assert used(budget) == GPU_CREDITS
    later = record_usage(organization=org, api_key=key.api_key, events=[gpu_event("g2")])
    assert later.results[0].error["code"] == "budget_exceeded"


def test_a_user_budget_refuses_that_user_only(org):
    funded(org, 100)
    key = api_key_for(org)
    budget = user_budget(org, "Ana@Acme.test", 8)
    result = record_usage(organization=org, api_key=key.api_key, events=[
        gpu_event("a1", user="ana@acme.test"), gpu_event("a2", user="ANA@acme.test"),
        gpu_event("b1", user="bo@acme.test"), gpu_event("n1")])
    assert statuses(result) == ["charged", "rejected", "charged", "charged"]
    assert result.results[1].error["code"] == "budget_exceeded"
    assert "the monthly budget of ana@acme.test" in result.results[1].error["message"]
    assert result.results[1].error["budget"]["kind"] == "user"
    assert used(budget) == GPU_CREDITS


def test_the_budget_is_checked_before_the_balance(org):
    funded(org, 5)  # cannot pay for a GPU event either
    key = api_key_for(org)
    key_budget(org, key, 1)
    result = record_usage(organization=org, api_key=key.api_key, events=[gpu_event("g1")])
    assert result.results[0].error["code"] == "budget_exceeded"
    assert balance(org) == 5


def test_a_zero_budget_refuses_every_paid_event_and_an_event_within_it_passes(org):
    funded(org, 100)
    key = api_key_for(org)
    key_budget(org, key, 0)
    refused = record_usage(organization=org, api_key=key.api_key, events=[ai_event("a1")])
    assert refused.results[0].error["code"] == "budget_exceeded"
    key_budget(org, key, AI_CREDITS)  # exactly one AI event fits: the last credit passes
    result = record_usage(organization=org, api_key=key.api_key,
                          events=[ai_event("a2"), ai_event("a3")])
    assert statuses(result) == ["charged", "rejected"]


def test_last_months_use_does_not_count_this_month(org):
    funded(org, 100)
    key = api_key_for(org)
    budget = key_budget(org, key, 10)
    last_month = month_of(timezone.now()).replace(day=1) - timedelta(days=1)
    BudgetMonth.objects.create(organization=org, budget=budget, month=last_month.replace(day=1),
                               credits=10)
    result = record_usage(organization=org, api_key=key.api_key, events=[gpu_event("g1")])
    assert statuses(result) == ["charged"]
    assert used(budget) == GPU_CREDITS


def test_the_month_is_the_utc_month_of_the_charge():
    assert month_of(datetime(2026, 11, 30, 23, 59, tzinfo=UTC)).isoformat() == "2026-11-01"
    assert month_of(datetime(2026, 12, 1, 0, 30, tzinfo=timezone.get_fixed_timezone(60))
                    ).isoformat() == "2026-11-01"


def test_the_asynchronous_queue_stores_the_budget_refusal(org):
    funded(org, 100)
    key = api_key_for(org)
    budget = key_budget(org, key, 10)
    accept_usage(organization=org, api_key=key.api_key, events=[gpu_event("q1"), gpu_event("q2")])
    assert charge_next_batch(organization_id=org.pk) == 2
    outcome = {r.idempotency_key: r for r in org.queued_usage.all()}
    assert outcome["q1"].status == "charged"
    assert outcome["q2"].status == "rejected" and outcome["q2"].error["code"] == "budget_exceeded"
    assert used(budget) == GPU_CREDITS


def test_import_usage_refuses_a_users_events_past_the_budget(tmp_path, org, capsys):
    funded(org, 100)
    budget = user_budget(org, "ana@acme.test", 10)
    path = write_lines(tmp_path, [gpu_event("i1", user="ana@acme.test"),
                                  gpu_event("i2", user="ana@acme.test"), gpu_event("i3")])
    with pytest.raises(CommandError, match="some lines were not recorded"):
        call_command("import_usage", path, "--org", org.slug)
    out, err = capsys.readouterr()
    assert "1 rejected (1 budget_exceeded)" in out
    assert "line 2: rejected: the monthly budget of ana@acme.test" in err
    assert set(UsageEvent.objects.values_list("idempotency_key", flat=True)) == {"i1", "i3"}
    assert used(budget) == GPU_CREDITS
    assert balance(org) == 100 - 2 * GPU_CREDITS


def test_a_large_batch_streamed_by_copy_keeps_its_budget_too(org):
    funded(org, 1000)
    key = api_key_for(org)
    budget = key_budget(org, key, 60 * AI_CREDITS)
    result = record_usage(organization=org, api_key=key.api_key,
                          events=[ai_event(f"a{n}") for n in range(70)])
    assert statuses(result) == ["charged"] * 60 + ["rejected"] * 10
    assert used(budget) == 60 * AI_CREDITS
    assert_ledger_ok(org)
