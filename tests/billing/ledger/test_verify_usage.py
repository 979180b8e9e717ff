"""verify_ledger's invariant 8: a usage entry against the events of its charge, and the
references the high-volume tables keep without a database constraint.

Events are changed behind the application's back (they carry no append-only trigger);
each test names the message it expects.
"""

from decimal import Decimal

import pytest

from billing.ledger.verify import verify_ledger
from billing.models import LedgerEntry, UsageEvent
from billing.usage.ingestion.record import record_usage
from tests.billing.ledger.test_chain import forge
from tests.billing.postings import consume, grant
from tests.billing.usage_fixtures import ai_event, funded, gpu_event, seed_prices

pytestmark = pytest.mark.django_db


@pytest.fixture
def charge(org):
    """One charge of three events, and an older-style usage entry of no event."""
    seed_prices()
    funded(org)
    consume(org, 1, key="usage:older")
    record_usage(organization=org, events=[ai_event("a"), gpu_event("b"), ai_event("c")])
    return LedgerEntry.objects.get(account__organization=org, usage_events__idempotency_key="a")


def problems(org=None):
    return [(p.invariant, p.entry_id, p.message)
            for p in verify_ledger(organization=org).problems]


def test_a_charge_and_its_events_verify(org, charge):
    assert problems() == []
    assert charge.metadata["events"] == 3 and UsageEvent.objects.filter(entry=charge).count() == 3


def test_an_events_credits_changed_is_caught_at_its_entry(org, charge):
    UsageEvent.objects.filter(idempotency_key="b").update(credits=Decimal("0.01"))
    [(invariant, entry_id, message)] = problems()
    assert (invariant, entry_id) == ("8", charge.pk)
    assert message.startswith("its events charged ") and str(-charge.amount) in message


@pytest.mark.parametrize("change", [{"input_tokens": 999}, {"resource": "gpt-4o-mini"},
                                    {"idempotency_key": "renamed"},
                                    {"quantity": Decimal("120.4")}])
def test_an_events_canonical_field_changed_is_caught_by_the_digest(org, charge, change):
    key = "b" if "quantity" in change else "a"
    UsageEvent.objects.filter(idempotency_key=key).update(**change)
    assert problems() == [("8", charge.pk, "its events differ from those its digest covers: "
                                           "altered")]


def test_an_event_moved_off_its_charge_is_caught_at_both_ends(org, charge):
    other = grant(org, 1).entry
    UsageEvent.objects.filter(idempotency_key="c").update(entry=other)
    assert problems() == [
        ("8", charge.pk, "2 events point at it, its digest covers 3"),
        ("8", other.pk, "usage events point at an entry that is not a usage entry"),
    ]


def test_an_event_pointing_at_another_orgs_entry_is_caught(org, other_org, charge):
    foreign = grant(other_org, 5).entry
    UsageEvent.objects.filter(idempotency_key="c").update(entry=foreign)
    found = problems()
    assert ("8", charge.pk, "2 events point at it, its digest covers 3") in found
    assert ("8", foreign.pk, "usage events point at an entry that is not this account's") in found


@pytest.mark.parametrize("column", ["ai_model_id", "user_id", "api_key_id"])
def test_a_reference_that_points_at_no_row_is_named(org, charge, column):
    event = UsageEvent.objects.get(idempotency_key="a")
    UsageEvent.objects.filter(pk=event.pk).update(**{column: 987654})
    assert problems(org) == [("8", None, f"billing_usageevent.{column} points at no row "
                                         f"(ids {event.pk}...)")]


def test_an_entrys_missing_actor_is_named(org, charge):
    forge(charge.pk, actor_user_id=987654)  # its hash breaks too (invariant 7)
    assert ("8", None, f"billing_ledgerentry.actor_user_id points at no row "
                       f"(ids {charge.pk}...)") in problems(org)
