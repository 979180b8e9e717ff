"""verify_ledger's check that the high-volume tables' references (no database constraint)
point somewhere: on PostgreSQL it is one pass over each table; it must name the same first
ids, column by column and org by org, as the query per column does."""

import pytest

from billing.ledger import verify_usage
from billing.ledger.verify_usage import DANGLING_CHECKS, dangling_references
from billing.models import LedgerEntry, UsageEvent
from billing.usage.ingestion.record import record_usage
from tests.billing.ledger.test_chain import forge
from tests.billing.usage_fixtures import ai_event, api_key_for, funded, gpu_event, seed_prices

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def both_ways(organization=None):
    for model, checks in DANGLING_CHECKS.items():
        one_pass = verify_usage._dangling_in_one_pass(model, checks, organization)
        by_column = verify_usage._dangling_by_column(model, checks, organization)
        assert one_pass == by_column, model
    return dangling_references(organization)


@pytest.fixture
def charged(org, other_org):
    seed_prices()
    for owner in (org, other_org):
        funded(owner)
        record_usage(organization=owner, api_key=api_key_for(owner).api_key,
                     events=[ai_event(f"a{n}") for n in range(5)] + [gpu_event("g")])


def test_nothing_dangles_after_real_charges(org, other_org, charged):
    assert both_ways() == [] == both_ways(org)


def test_the_first_three_ids_of_each_broken_column_are_named_in_either_org(
        org, other_org, charged):
    events = list(UsageEvent.objects.filter(organization=org, type="ai_tokens")
                  .order_by("pk").values_list("pk", flat=True))
    UsageEvent.objects.filter(pk__in=events[1:]).update(ai_model_id=987654)
    UsageEvent.objects.filter(organization=other_org, idempotency_key="g").update(
        meter_id=987654, api_key_id=987655)
    entry = LedgerEntry.objects.filter(account__organization=other_org).order_by("pk").last()
    forge(entry.pk, actor_api_key_id=987656)  # behind the ORM's guard, as an insider would
    other_event = UsageEvent.objects.get(organization=other_org, idempotency_key="g").pk
    assert both_ways() == [
        f"billing_usageevent.ai_model_id points at no row (ids "
        f"{', '.join(map(str, events[1:4]))}...)",
        f"billing_usageevent.meter_id points at no row (ids {other_event}...)",
        f"billing_usageevent.api_key_id points at no row (ids {other_event}...)",
        f"billing_ledgerentry.actor_api_key_id points at no row (ids {entry.pk}...)",
    ]
    assert both_ways(org) == [both_ways()[0]]
    assert len(both_ways(other_org)) == 3
