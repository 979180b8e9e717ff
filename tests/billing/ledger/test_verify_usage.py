"""verify_ledger's invariant 8: a usage entry against the events of its charge, and the
references the high-volume tables keep without a database constraint.

Events are changed behind the application's back (they carry no append-only trigger);
each test names the message it expects.
"""

import json
from decimal import Decimal

import pytest
from django.db import connection

from billing.ledger.usage_charges import (
    breakdown_digest,
    event_line,
    events_digest,
    priced_event_line,
)
from billing.ledger.verify import verify_ledger
from billing.ledger.verify_usage import entry_events_problem, events_by_entry
from billing.ledger.verify_usage_sql import summed_events_by_entry
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
                                    {"quantity": Decimal("120.4")},
                                    {"cost_usd": Decimal("99")}, {"markup": Decimal("1")},
                                    {"credits_per_usd": Decimal("1000")}])
def test_an_events_canonical_field_changed_is_caught_by_the_digest(org, charge, change):
    key = "b" if "quantity" in change else "a"
    UsageEvent.objects.filter(idempotency_key=key).update(**change)
    assert problems() == [("8", charge.pk, "its events differ from those its digest covers: "
                                           "altered")]


def test_an_events_resolved_model_changed_is_caught_by_the_digest(org, charge):
    from billing.models import AIModel

    event = UsageEvent.objects.get(idempotency_key="a")
    other = AIModel.objects.create(provider="openai", name="gpt-4o-mini")
    UsageEvent.objects.filter(pk=event.pk).update(ai_model=other)
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
    dangling = ("8", None, f"billing_usageevent.{column} points at no row (ids {event.pk}...)")
    if column == "ai_model_id":  # the resolved model is committed by the charge's digest too
        assert problems(org) == [dangling, ("8", charge.pk, "its events differ from those its "
                                                            "digest covers: altered")]
    else:
        assert problems(org) == [dangling]


def test_an_entrys_missing_actor_is_named(org, charge):
    forge(charge.pk, actor_user_id=987654)  # its hash breaks too (invariant 7)
    assert ("8", None, f"billing_ledgerentry.actor_user_id points at no row "
                       f"(ids {charge.pk}...)") in problems(org)


def test_an_entry_digested_in_events_v1_still_verifies_against_its_events(org, charge):
    [(_, rows)] = [item for item in events_by_entry(charge.account) if item[0] == charge.pk]
    older = LedgerEntry(amount=charge.amount, metadata={"events": 3, "events_digest": (
        events_digest([event_line(key=row[1], usage_type=row[2], resource=row[3],
                                  tokens=row[4:9], quantity=row[9], credits=row[10])
                       for row in rows], "events-v1"))})
    assert entry_events_problem(older, rows) is None
    rows[0] = (*rows[0][:13], Decimal("99"), *rows[0][14:])  # its cost: not in events-v1
    assert entry_events_problem(older, rows) is None
    rows[0] = (*rows[0][:4], 999, *rows[0][5:])
    assert entry_events_problem(older, rows) == ("its events differ from those its digest "
                                                 "covers: altered")


ALTERED = "its events differ from those its digest covers: altered"


@pytest.mark.postgres
def test_an_events_breakdown_rewritten_in_sql_is_caught_by_the_digest(org, charge):
    # The breakdown is what the entry page and the CSVs show: a price line's cost rewritten.
    assert charge.metadata["events_version"] == "events-v3"
    event = UsageEvent.objects.get(idempotency_key="a")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE billing_usageevent SET breakdown = jsonb_set(breakdown, "
                       "'{lines,0,cost_usd}', '\"0.5\"') WHERE id = %s", [event.pk])
    assert UsageEvent.objects.get(pk=event.pk).breakdown["lines"][0]["cost_usd"] == "0.5"
    assert problems() == [("8", charge.pk, ALTERED)]


@pytest.mark.postgres
def test_a_breakdown_rewritten_with_the_same_json_in_another_order_still_verifies(org, charge):
    # The digest is of the value, not of the text: jsonb keeps no key order or spacing.
    event = UsageEvent.objects.get(idempotency_key="b")
    reordered = json.dumps(dict(reversed(list(event.breakdown.items()))), indent=2)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE billing_usageevent SET breakdown = %s::jsonb WHERE id = %s",
                       [reordered, event.pk])
    assert problems() == []


@pytest.mark.postgres
def test_the_breakdown_digest_of_our_text_is_that_of_the_text_postgresql_gives_back():
    ours = ('{"lines": [{"bucket": "input", "quantity": "1000", "unit_price_usd": '
            '"0.0000025", "per": 1, "price_id": 7, "cost_usd": "0.00250000"}], '
            '"cost_usd": "0.0025", "markup": "1.20", "markup_id": 3, "credits_per_usd": '
            '"100", "rate_id": 2, "credits": "0.300000", "factor": 1.10, "label": "caf\u00e9"}')
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::jsonb::text", [ours])
        [(stored,)] = cursor.fetchall()
    assert stored != ours  # jsonb's own key order and spacing, the text as UTF-8
    assert breakdown_digest(stored) == breakdown_digest(ours)
    assert breakdown_digest(ours.replace('"0.300000"', '"0.3"')) != breakdown_digest(ours)


def _v2_entry(charge, rows):
    return LedgerEntry(amount=charge.amount, metadata={
        "events": 3, "events_version": "events-v2", "events_digest": events_digest([
            priced_event_line(key=key, usage_type=usage_type, resource=resource,
                              model_id=model_id, meter_id=meter_id, tokens=tokens,
                              quantity=quantity, cost_usd=cost, markup=markup,
                              credits_per_usd=rate, credits=credits)
            for (_, key, usage_type, resource, *tokens, quantity, credits, model_id, meter_id,
                 cost, markup, rate, _breakdown) in rows], "events-v2")})


def test_an_entry_digested_in_events_v2_still_verifies_without_its_breakdowns(org, charge):
    [(_, rows)] = [item for item in events_by_entry(charge.account) if item[0] == charge.pk]
    older = _v2_entry(charge, rows)
    assert entry_events_problem(older, rows) is None
    rows[0] = (*rows[0][:-1], '{"lines": []}')  # its breakdown: not in events-v2
    assert entry_events_problem(older, rows) is None
    rows[0] = (*rows[0][:13], Decimal("99"), *rows[0][14:])  # its cost: in events-v2
    assert entry_events_problem(older, rows) == ALTERED


@pytest.mark.postgres
def test_a_charge_posted_before_an_older_style_entry_still_has_its_breakdowns_checked(
        org, charge):
    # During a deploy a process not yet updated may post an older entry after a v3 charge:
    # the database's lines carry no breakdown up to that entry, the charge reads its own.
    [summed] = [s for entry_id, s in summed_events_by_entry(charge.account)
                if entry_id == charge.pk]
    assert summed.lines_version == "events-v3"
    consume(org, 1, key="usage:posted-by-an-older-process")
    [summed] = [s for entry_id, s in summed_events_by_entry(charge.account)
                if entry_id == charge.pk]
    assert summed.lines_version == "events-v2"
    assert summed.digest("events-v3") == charge.metadata["events_digest"]
    assert problems() == []
    with connection.cursor() as cursor:
        cursor.execute("UPDATE billing_usageevent SET breakdown = breakdown - 'markup' "
                       "WHERE idempotency_key = 'c'")
    assert problems() == [("8", charge.pk, ALTERED)]
