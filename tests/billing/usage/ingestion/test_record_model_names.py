"""billing.usage.ingestion.record.record_usage: model names as providers answer them, what a model
does not price, and conflicts field by field (split from test_ingestion.py)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import AIModel, DailyUsage, LedgerEntry, UsageEvent
from billing.pricing.catalogue.changes import change_model_price
from billing.usage.events import InvalidEvents
from billing.usage.ingestion.record import record_usage
from tests.billing.purchase_fixtures import balance
from tests.billing.usage_fixtures import (
    AI_CREDITS,
    EPOCH,
    ai_event,
    funded,
    gpu_event,
    statuses,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("prices")]


# --- model names as providers answer them, and what a model does not price ---------------------


def test_a_dated_name_is_charged_as_its_model_and_the_event_keeps_both_names(org, prices):
    gpt, _ = prices
    gpt.match_rule = {"or": [{"equals": "gpt-4o"}, {"starts_with": "gpt-4o-2024-"}]}
    gpt.save()
    funded(org)
    result = record_usage(organization=org, events=[
        ai_event("a", model="gpt-4o-2024-08-06"), ai_event("b"),
        ai_event("c", model="GPT-4o-2024-11-20"),
    ])
    assert [(r.status, r.credits) for r in result.results] == [("charged", AI_CREDITS)] * 3
    assert list(UsageEvent.objects.order_by("idempotency_key")
                .values_list("name_sent", "resource", "ai_model_id")) == [
        ("gpt-4o-2024-08-06", "gpt-4o", gpt.pk), ("gpt-4o", "gpt-4o", gpt.pk),
        ("GPT-4o-2024-11-20", "gpt-4o", gpt.pk),
    ]
    # Reports group by the model resolved, not by the spelling sent.
    [day] = DailyUsage.objects.filter(usage_type="ai_tokens")
    assert (day.resource, day.event_count) == ("gpt-4o", 3)


def test_tokens_in_a_bucket_the_model_does_not_price_refuse_the_batch(org):
    embedding = AIModel.objects.create(provider="openai", name="text-embedding-3-small")
    change_model_price(model=embedding, bucket="input", price_per_million_usd=Decimal("0.02"),
                       starts_at=EPOCH,
                       now=EPOCH)
    funded(org)
    with pytest.raises(InvalidEvents) as caught:
        record_usage(organization=org, events=[
            ai_event("a"), ai_event("b", model="text-embedding-3-small", output_tokens=10),
        ])
    [detail] = caught.value.details
    assert (detail["index"], detail["field"]) == (1, "output_tokens")
    assert "does not price output tokens" in detail["message"]
    assert not UsageEvent.objects.exists() and balance(org) == 1000
    result = record_usage(organization=org, events=[
        ai_event("b", model="text-embedding-3-small", output_tokens=0)])
    assert result.results[0].credits == Decimal("0.0024")  # 1,000 x $0.02/M x 1.2 x 100


def test_a_free_model_is_charged_zero_and_recorded(org):
    free = AIModel.objects.create(provider="openrouter", name="qwen3-8b:free")
    for bucket in ("input", "output"):
        change_model_price(model=free, bucket=bucket, price_per_million_usd=Decimal(0),
                           starts_at=EPOCH,
                           now=EPOCH)
    funded(org, 5)
    result = record_usage(organization=org, events=[
        ai_event("a", model="qwen3-8b:free", cached_input_tokens=100, reasoning_tokens=50)])
    assert (result.results[0].status, result.results[0].credits) == ("charged", Decimal(0))
    event = UsageEvent.objects.get()
    assert (event.credits, event.entry_id, event.resource) == (0, None, "qwen3-8b:free")
    assert balance(org) == 5


SAME_KEY_CHANGES = [  # (base event, the same key with one field changed)
    *[(ai_event("k", occurred_at="@"), ai_event("k", occurred_at="@", **{f: v}))
      for f, v in {"provider": "openai", "service_tier": "batch", "operation": "chat",
                   "user": "bo@acme.test", "input_tokens": 1001, "output_tokens": 101,
                   "cached_input_tokens": 1, "cache_write_tokens": 1,
                   "reasoning_tokens": 1}.items()],
    *[(gpu_event("k", occurred_at="@"), gpu_event("k", occurred_at="@", **{f: v}))
      for f, v in {"meter": "bandwidth.egress_gb", "quantity": "120.500001",
                   "operation": "train", "user": "bo@acme.test"}.items()],
    (gpu_event("k", occurred_at="@"), ai_event("k", occurred_at="@")),
    (gpu_event("k", occurred_at="@"), gpu_event("k", occurred_at="@+1")),  # both sent a time
]


@pytest.mark.parametrize(("first", "second"), SAME_KEY_CHANGES,
                         ids=[f"{a['type']}-{sorted(set(b.items()) - set(a.items()))}"
                              for a, b in SAME_KEY_CHANGES])
def test_same_key_differing_in_any_one_field_is_a_conflict(org, first, second):
    funded(org)
    moment = timezone.now() - timedelta(hours=1)

    def timed(event):
        at = {"@": moment, "@+1": moment + timedelta(seconds=1)}[event["occurred_at"]]
        return {**event, "occurred_at": at.isoformat()}

    assert statuses(record_usage(organization=org, events=[timed(first)])) == ["charged"]
    assert statuses(record_usage(organization=org, events=[timed(first)])) == ["duplicate"]
    before = (balance(org), UsageEvent.objects.count(), LedgerEntry.objects.count())
    result = record_usage(organization=org, events=[timed(second)])
    assert result.results[0].error["code"] == "idempotency_conflict"
    assert (balance(org), UsageEvent.objects.count(), LedgerEntry.objects.count()) == before
