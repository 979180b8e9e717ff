"""Racing requests against one budget (PostgreSQL: SQLite ignores row locks): the budget is
read and added to under the account lock, so its last credits are passed once."""

from decimal import Decimal

import pytest
from django.utils import timezone

from billing.budgets.services import api_key_subject, set_budget, user_subject
from billing.models import BudgetMonth, CreditAccount, UsageEvent
from billing.usage.ingestion.budgets import month_of
from tests.billing.postings import assert_ledger_ok
from tests.billing.usage_fixtures import (
    GPU_CREDITS,
    api_key_for,
    funded,
    gpu_event,
    post_events,
    seed_prices,
)
from tests.concurrency import run_many
from tests.conftest import make_org

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_16_racing_requests_never_pass_an_api_key_budget():
    seed_prices()
    org = make_org("race")
    funded(org, 1000)  # the balance could pay for all 16
    key = api_key_for(org)
    limit = 3 * GPU_CREDITS + Decimal("7")  # three events fit, not four
    budget = set_budget(organization=org, subject=api_key_subject(
        organization=org, prefix=key.api_key.prefix), monthly_limit=limit, actor=None)
    results = run_many(16, lambda i: post_events(key.raw_key, [gpu_event(f"e{i}")]))
    assert not [r for r in results if isinstance(r, Exception)], results
    outcomes = [r["results"][0] for r in results]
    charged = [o for o in outcomes if o["status"] == "charged"]
    refused = [o for o in outcomes if o["status"] == "rejected"]
    assert len(charged) == 3 and len(refused) == 13
    assert {o["error"]["code"] for o in refused} == {"budget_exceeded"}
    spent = BudgetMonth.objects.get(budget=budget, month=month_of(timezone.now())).credits
    assert spent == 3 * GPU_CREDITS <= limit
    assert CreditAccount.objects.get(organization=org).balance == 1000 - 3 * GPU_CREDITS
    assert UsageEvent.objects.filter(organization=org).count() == 3
    assert_ledger_ok(org)


def test_16_racing_batches_from_two_keys_never_pass_a_user_budget():
    seed_prices()
    org = make_org("users")
    funded(org, 1000)
    keys = [api_key_for(org, name=f"k{n}") for n in range(2)]
    budget = set_budget(organization=org, subject=user_subject("ana@users.test"),
                        monthly_limit=5 * GPU_CREDITS, actor=None)
    results = run_many(16, lambda i: post_events(keys[i % 2].raw_key, [
        gpu_event(f"ana-{i}", user="ana@users.test"), gpu_event(f"bo-{i}", user="bo@users.test")]))
    assert not [r for r in results if isinstance(r, Exception)], results
    ana = [r["results"][0] for r in results]
    assert sum(o["status"] == "charged" for o in ana) == 5
    assert all(r["results"][1]["status"] == "charged" for r in results)  # bo has no budget
    spent = BudgetMonth.objects.get(budget=budget, month=month_of(timezone.now())).credits
    assert spent == 5 * GPU_CREDITS
    assert_ledger_ok(org)
